"""Conversations replayed from recorded ticket events (pure functions, no I/O).

The support plugin records one row per state change of a ticket (``support.ticket_event``);
:func:`conversations` replays them into conversations, whose waits, first responses and handle
times metrics.py aggregates. The definitions a manager reads are in metrics.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

#: Events that start a conversation.
START_KINDS = ("created", "reopened")
#: Events that end a conversation (the first one counts).
END_KINDS = ("closed", "resolved")
#: Events carrying a customer rating (``data["rating"]``, 1-5).
RATING_KINDS = ("rated",)


@dataclass(frozen=True)
class Event:
    ticket: str
    queue: str
    kind: str
    at: float
    actor: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


def events_from_rows(rows: Iterable[Sequence[Any]]) -> list[Event]:
    """(ticket, queue, kind, at, actor, data) rows, as the support service returns them."""
    return [Event(r[0], r[1], r[2], float(r[3]), r[4] or "", r[5] or {}) for r in rows]


@dataclass
class Leg:
    """One agent's turn with a conversation."""

    queue: str
    agent: str
    waiting_since: float | None
    accepted_at: float
    ended_at: float | None = None
    end: str = ""

    @property
    def wait(self) -> float | None:
        return None if self.waiting_since is None else self.accepted_at - self.waiting_since

    @property
    def handle(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.accepted_at


@dataclass
class Transfer:
    at: float
    actor: str
    from_queue: str
    from_agent: str
    to_queue: str
    to_agent: str


@dataclass
class Conversation:
    ticket: str
    queue: str
    started_at: float
    stage: str = "new"          #: new | bot | queued | active | pending | ended
    bot: bool = False
    bot_resolved: bool = False
    bot_left: bool = False      #: the customer left while with the bot
    handed_off: bool = False
    queued_at: float | None = None
    first_accept_at: float | None = None
    first_response_at: float | None = None
    first_response_by: str = ""
    ended_at: float | None = None
    abandoned: bool = False     #: left while queued
    transfers: list[Transfer] = field(default_factory=list)
    legs: list[Leg] = field(default_factory=list)
    rating: int | None = None
    waiting_since: float | None = None

    @property
    def wait(self) -> float | None:
        if self.queued_at is None or self.first_accept_at is None:
            return None
        return self.first_accept_at - self.queued_at

    @property
    def first_response(self) -> float | None:
        if self.queued_at is None or self.first_response_at is None:
            return None
        return self.first_response_at - self.queued_at

    @property
    def handle(self) -> float | None:
        turns = [leg.handle for leg in self.legs if leg.handle is not None]
        return sum(turns) if turns else None

    def handle_of(self, agent: str) -> float | None:
        turns = [leg.handle for leg in self.legs if leg.agent == agent and leg.handle is not None]
        return sum(turns) if turns else None

    @property
    def last_agent(self) -> str:
        return self.legs[-1].agent if self.legs else ""

    @property
    def agents(self) -> list[str]:
        seen: list[str] = []
        for leg in self.legs:
            if leg.agent not in seen:
                seen.append(leg.agent)
        return seen

    def _end_leg(self, at: float, why: str) -> None:
        if self.legs and self.legs[-1].ended_at is None:
            self.legs[-1].ended_at = at
            self.legs[-1].end = why


def _rating(data: Mapping[str, Any]) -> int | None:
    try:
        value = int(data.get("rating"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if 1 <= value <= 5 else None


def conversations(events: Iterable[Event]) -> list[Conversation]:
    """Replay events (in recorded order per ticket) into conversations, by start time.

    Events of a ticket before its first start event (a history cut by the
    time range) are ignored; kinds this module does not know are ignored too.
    """
    current: dict[str, Conversation] = {}
    result: list[Conversation] = []
    for ev in events:
        if ev.kind in START_KINDS:
            conv = Conversation(ev.ticket, ev.queue, ev.at)
            current[ev.ticket] = conv
            result.append(conv)
            continue
        conv = current.get(ev.ticket)
        if conv is None:
            continue
        _apply(conv, ev)
    result.sort(key=lambda c: (c.started_at, c.ticket))
    return result


def _apply(conv: Conversation, ev: Event) -> None:
    kind, at = ev.kind, ev.at
    if kind == "bot":
        conv.bot = True
        conv.stage = "bot"
    elif kind == "queued":
        if conv.stage == "bot":
            conv.handed_off = True
        conv._end_leg(at, "requeued")
        if conv.queued_at is None:
            conv.queued_at = at
        conv.waiting_since = at
        conv.stage = "queued"
    elif kind == "accepted":
        conv.legs.append(Leg(ev.queue, ev.actor, conv.waiting_since, at))
        if conv.first_accept_at is None:
            conv.first_accept_at = at
        conv.waiting_since = None
        conv.stage = "active"
    elif kind == "first_response":
        if conv.first_response_at is None:
            conv.first_response_at = at
            conv.first_response_by = ev.actor or conv.last_agent
    elif kind == "pending":
        # The agent waits for the customer's reply: their turn ends (capacity is freed); a reply queues it again.
        conv._end_leg(at, "pending")
        conv.stage = "pending"
    elif kind == "transferred":
        data = ev.data
        from_agent = str(data.get("from_agent") or "")
        conv.transfers.append(Transfer(at, ev.actor, str(data.get("from_queue") or ev.queue), from_agent,
                                       str(data.get("to_queue") or ""), str(data.get("to_agent") or "")))
        conv._end_leg(at, "transferred")
        conv.waiting_since = at
        conv.stage = "queued"
    elif kind in END_KINDS:
        if conv.stage == "ended":
            return
        if conv.stage in ("new", "bot") and conv.queued_at is None:
            conv.bot_resolved = conv.bot
        conv._end_leg(at, kind)
        conv.ended_at = at
        conv.stage = "ended"
    elif kind == "abandoned":
        if conv.stage == "ended":
            return
        if conv.stage == "queued":  # queued or offered: the customer gave up waiting
            conv.abandoned = True
        elif conv.stage == "bot":
            conv.bot_left = True
        conv._end_leg(at, kind)
        conv.ended_at = at
        conv.stage = "ended"
    elif kind in RATING_KINDS:
        rating = _rating(ev.data)
        if rating is not None:
            conv.rating = rating
