"""In-memory state of the engine: tickets, agents' presence. Persisted by store.py."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Tickets the engine keeps in memory. "new" lasts while the bot hook decides whether it keeps the
#: customer; "prechat" while the customer answers the pre-chat form; "offline" is a message left out of
#: business hours, waiting for an agent to take it; "pending" waits for the customer's reply. Only
#: "queued" tickets are routed.
OPEN_STATES = ("new", "bot", "prechat", "queued", "offered", "active", "offline", "pending")
WAITING_STATES = ("queued", "offered")
#: Not yet with an agent: the customer may still leave the queue.
LEAVABLE_STATES = ("new", "bot", "prechat", "queued", "offered")
#: Closed, but the customer writing again within the queue's reopen window reopens it.
RESOLVED = "resolved"
#: States after which nothing happens any more.
FINAL_STATES = ("closed", "abandoned")
#: A ticket's "created" event keeps its first message's origin-id (or id) under this key (the text is
#: the form's "message"), so the message restored from the ticket after a crash is known when the
#: customer sends it again.
FIRST_KEY = "message_id"

#: show value -> routing tier (lower is preferred); None = never routed.
SHOW_TIERS: dict[str, int | None] = {"": 0, "chat": 0, "away": 1, "dnd": 2, "xa": None}


@dataclass(slots=True)
class Ticket:
    id: str
    queue: str                  #: queue name (local part of its JID) currently serving it
    customer: str               #: bare JID
    customer_jid: str           #: full JID last seen writing or joining
    lang: str
    created_at: float
    entry: str = ""             #: queue name the customer writes to (stays across transfers)
    state: str = "new"
    queued_at: float | None = None
    priority: int = 0
    via: str = "chat"           #: how the customer joined: chat | iq
    notify: bool = True         #: the customer wants queue-status updates
    agent: str = ""             #: bare JID of the agent holding it
    agent_jid: str = ""         #: full JID that accepted it
    accepted_at: float | None = None
    first_response_at: float | None = None
    closed_at: float | None = None
    close_reason: str = ""
    offers: dict[str, str] = field(default_factory=dict)  #: agent full JID -> iq | chat | pending
    offer_deadline: float | None = None
    declined: list[str] = field(default_factory=list)     #: agents (bare) who let this ticket go
    agents_seen: list[str] = field(default_factory=list)  #: every agent who held it
    target_agent: str = ""      #: a transfer named this agent (bare)
    form: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    resolved_at: float | None = None
    pending_at: float | None = None   #: when it became pending (the customer's turn)
    reopened: int = 0                 #: how many times the customer reopened it
    rating: int | None = None         #: 1-5
    rating_comment: str = ""
    rated_at: float | None = None
    rating_requested_at: float | None = None
    # Transient, never stored.
    offline_since: float | None = None
    last_status: tuple[int, int] | None = None
    last_status_at: float = 0.0

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def opening(self, limit: int = 200) -> str:
        """The customer's first message cut for a preview (an offer); the ticket keeps it whole, since
        after a crash the archive's copy is restored from it."""
        first = self.form.get("message", "")
        return first if len(first) <= limit else first[:limit - 1] + "…"

    def snapshot(self) -> "Ticket":
        """A copy of the ticket as it is now (what the journal stores, what an undo goes back to): its
        lists and dicts copied, their items (strings, numbers) shared. A deep copy cost every change
        about five times as much."""
        c = object.__new__(Ticket)
        for name in _FIELDS:
            setattr(c, name, getattr(self, name))
        c.offers, c.declined, c.agents_seen = dict(self.offers), list(self.declined), list(self.agents_seen)
        c.form, c.tags = dict(self.form), list(self.tags)
        return c

    def sort_key(self) -> tuple[int, float, str]:
        return (-self.priority, self.queued_at or self.created_at, self.id)

    def offered_to(self, bare: str) -> list[str]:
        return [full for full in self.offers if full.split("/", 1)[0] == bare]


_FIELDS = tuple(Ticket.__dataclass_fields__)


@dataclass
class Resource:
    jid: str                    #: full JID
    show: str                   #: "" | chat | away | xa | dnd
    max_chats: int | None
    updated: float


@dataclass
class Agent:
    jid: str                    #: bare JID
    resources: dict[str, Resource] = field(default_factory=dict)
    last_assigned: float = 0.0

    def best(self) -> Resource | None:
        """The resource to route to: the best show, then the most recent. (Asked for every agent of a
        queue on each routing pass and each place told: one walk, no list.)"""
        found: Resource | None = None
        found_key: tuple[int, float, str] | None = None
        for r in self.resources.values():
            tier = SHOW_TIERS.get(r.show)
            if tier is None:
                continue
            key = (tier, -r.updated, r.jid)
            if found_key is None or key < found_key:
                found, found_key = r, key
        return found

    def tier(self) -> int | None:
        best = self.best()
        return None if best is None else SHOW_TIERS[best.show]

    @property
    def online(self) -> bool:
        return bool(self.resources)

    def capacity(self, default: int, best: Resource | None = None) -> int:
        """``best``: :meth:`best` when the caller has it already."""
        best = best or self.best()
        asked = best.max_chats if best else None
        return min(asked, default) if asked else default
