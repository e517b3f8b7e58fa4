"""The public service of the support plugin (``hooks.service("support")``): what the bot, tickets,
reports and admin plugins may read and ask; they never touch the engine or its tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slixmpp import JID

from component.errors import StanzaError

from . import tickets
from .model import Agent, Ticket

if TYPE_CHECKING:
    from .plugin import SupportPlugin


class SupportFacade:
    """The public service (``hooks.service("support")``) for the bot, tickets and admin plugins."""

    def __init__(self, plugin: "SupportPlugin") -> None:
        self._plugin = plugin
        self.engine = plugin.engine

    def queues(self) -> list[str]:
        return list(self.engine.queues)

    def queue_jid(self, name: str) -> str:
        return self.engine.queue_jid(name)

    def session_jid(self, ticket_id: str) -> str:
        return self.engine.session_jid(ticket_id)

    async def ticket(self, ticket_id: str) -> Ticket | None:
        return await self.engine.ticket(ticket_id)

    def open_tickets(self, queue: str | None = None) -> list[Ticket]:
        return [t for t in self.engine.tickets.values() if queue is None or t.queue == queue]

    # -- several processes sharing the domain (ownership.py, peering.py) ---------------------------------
    async def arrived(self, stanza: Any, queue: str) -> None:
        """A stanza of another plugin reached ``queue``'s JID: this process owns the queue (adopted now if
        not yet), as when support's own stanzas arrive there."""
        await self._plugin._adopt_for(stanza, queue)

    async def customer_ticket(self, entry: str, customer: str) -> Ticket | None:
        """The customer's (bare JID) open ticket at the queue they write to: held here, else as stored
        (where processes share the domain, another one may hold it)."""
        return await self.engine.lookup.customer_ticket(entry, customer)

    def holds(self, ticket_id: str) -> bool:
        """This process holds the open ticket (what changes it must happen here)."""
        return self.engine.live(ticket_id) is not None

    def hand_off(self, stanza: Any, ticket: Ticket) -> None:
        """Send ``stanza`` to the process holding ``ticket``, which serves it as if it had arrived there
        (its answer or error goes to the sender); ``recipient-unavailable`` when that cannot help."""
        self._plugin.hand_off(stanza, ticket)

    def summary(self, queue: str) -> dict[str, Any]:
        return self.engine.summary(queue)

    def queue_title(self, name: str) -> str:
        return self.engine.queue_title(name)

    def agents(self, queue: str, present: dict[str, Agent] | None = None) -> list[dict[str, Any]]:
        """The queue's agents now (read-only, for monitors): presence, capacity and load.

        ``show`` is the routed (else latest) resource's show ("" = available), None when offline;
        ``routable``: offers may go to them; ``load``: conversations held or offered.
        """
        q = self.engine.queues[queue]
        present = self.engine.agents.get(queue, {}) if present is None else present
        rows = []
        for jid in q.agents:
            agent = present.get(jid)
            latest = max(agent.resources.values(), key=lambda r: r.updated) if agent and agent.resources else None
            best = (agent.best() if agent else None) or latest
            rows.append({"jid": jid, "online": bool(agent and agent.online),
                         "show": best.show if best else None, "routable": bool(agent and agent.tier() is not None),
                         "capacity": agent.capacity(q.max_chats) if agent else q.max_chats,
                         "load": self.engine.load_of(jid), "resources": len(agent.resources) if agent else 0})
        return rows

    async def queue_view(self, queue: str) -> tuple[dict[str, Any], list[Ticket], list[dict[str, Any]]]:
        """``summary``, ``open_tickets`` and ``agents`` of a queue for a monitor: as held where this process
        owns the queue (or serves alone), else as stored by its owner (then the summary's ``status`` is
        right and its counts are this process's: read the tickets and agents instead)."""
        engine = self.engine
        if not engine.shared or engine.owns(queue):
            return self.summary(queue), self.open_tickets(queue), self.agents(queue)
        tickets = await engine.store.open_tickets(queue)
        present: dict[str, Agent] = {}
        for name, resource in await engine.store.presences():
            bare = resource.jid.split("/", 1)[0]
            if name == queue and engine.is_agent(queue, bare):
                present.setdefault(bare, Agent(bare)).resources[resource.jid] = resource
        return self.summary(queue), tickets, self.agents(queue, present)

    async def ticket_events(self, since: float, until: float, queue: str | None = None,
                            starts: tuple[str, ...] = ("created",)) -> list[tuple[str, str, str, float, str, dict]]:
        """Every recorded event of the tickets started in [since, until) (see SupportStore.ticket_events)."""
        return await self.engine.store.ticket_events(since, until, queue, starts)

    def waiting_count(self) -> int:
        return self.engine.waiting_count()

    async def rebind_customer(self, ticket_id: str, customer_jid: str) -> Ticket:
        """An open ticket's customer continues from a new full JID (ownership proven by the caller)."""
        return await self.engine.rebind_customer(ticket_id, customer_jid)

    async def enqueue(self, ticket_id: str, priority: int | None = None) -> Ticket:
        """Hand a customer the bot was serving to the queue."""
        return await self.engine.enqueue(ticket_id, priority)

    async def say(self, ticket_id: str, body: str, role: str = "bot", name: str = "") -> None:
        """Write to the customer from the queue address (archived in the conversation)."""
        t = self.engine.live(ticket_id)
        if t is None:
            raise StanzaError("item-not-found", "no open ticket with this id")
        out = self._plugin.outbox.message(self.engine.queue_jid(t.entry), t.customer_jid, body, t.lang)
        out["from"] = JID(self.engine.queue_jid(t.entry))
        await self._plugin.outbox.archive_only(t, out, role, name)
        self._plugin.service.send(out)

    async def close(self, ticket_id: str, actor: str = "", reason: str = "resolved") -> Ticket:
        return await self.engine.close(ticket_id, actor, reason)

    async def transfer(self, ticket_id: str, actor: str, target: str) -> Ticket:
        return await self.engine.transfer(ticket_id, actor, target)

    async def events(self, ticket_id: str) -> list[tuple[str, float, str, dict]]:
        return await self.engine.store.events(ticket_id)

    async def notes(self, ticket_id: str) -> list[tuple[float, str, str]]:
        return await self.engine.store.notes(ticket_id)

    # -- tickets (help-desk operations) ----------------------------------------------------------------
    @staticmethod
    def status_of(ticket: Ticket) -> str:
        """The help-desk status of a ticket: open, waiting, active, pending, resolved, closed, abandoned."""
        return tickets.status_of(ticket.state)

    async def search(self, queues: list[str], search: "tickets.Search") -> list[Ticket]:
        """Tickets of these queues, newest first (open ones as the engine holds them now)."""
        return [self.engine.tickets.get(t.id, t) for t in await self.engine.store.search(queues, search)]

    async def update(self, ticket_id: str, actor: str, add_tags: list[str] = (), remove_tags: list[str] = (),
                     priority: int | None = None) -> Ticket:
        return await self.engine.update(ticket_id, actor, add_tags, remove_tags, priority)

    async def rate(self, ticket_id: str, rating: int, comment: str = "", actor: str = "") -> Ticket:
        """Record the customer's rating of a closed conversation (once; recorded as a ``rated`` event)."""
        return await self.engine.rate(ticket_id, rating, comment, actor)

    async def canned(self, queue: str) -> list[Any]:
        return await self.engine.store.canned(queue)
