"""Who and what is where: queue and conversation addresses, roles, queue options, business hours.

Read-only views over the engine's state (``queues``, ``tickets``, ``calendars``); nothing here changes it.
"""

from __future__ import annotations

from component.errors import StanzaError

from .model import Ticket
from .options import QueueOptions

SESSION_PREFIX = "t-"


class Directory:
    def queue_jid(self, name: str) -> str:
        return f"{name}@{self.domain}"

    def session_jid(self, ticket_id: str) -> str:
        return f"{SESSION_PREFIX}{ticket_id}@{self.domain}"

    def ticket_id_of(self, local: str) -> str | None:
        return local[len(SESSION_PREFIX):] if local.startswith(SESSION_PREFIX) else None

    def queue_title(self, name: str) -> str:
        q = self.queues.get(name)
        return (q.title if q and q.title else self.queue_jid(name))

    def is_agent(self, queue: str, bare: str) -> bool:
        q = self.queues.get(queue)
        return bool(q) and bare in q.agents

    def is_supervisor(self, queue: str, bare: str) -> bool:
        q = self.queues.get(queue)
        return (bool(q) and bare in q.supervisors) or self.is_admin(bare)

    def role(self, ticket: Ticket, bare: str) -> str | None:
        """customer | agent | supervisor | offered | None, for ``bare`` in ``ticket``."""
        if ticket.agent and bare == ticket.agent:
            return "agent"
        if ticket.state == "pending" and ticket.agents_seen and bare == ticket.agents_seen[-1]:
            return "agent"  # they wait for the customer, and may still write, tag or close
        if self.is_supervisor(ticket.queue, bare) or self.is_supervisor(ticket.entry, bare):
            return "supervisor"
        if ticket.offered_to(bare):
            return "offered"
        if bare == ticket.customer:
            return "customer"
        return None

    def open_ticket(self, entry: str, customer: str) -> Ticket | None:
        for t in self.customer_tickets(customer):
            if t.entry == entry:
                return t
        return None

    def customer_tickets(self, customer: str) -> list[Ticket]:
        found = (self.tickets.get(i) for i in sorted(self._by_customer.get(customer, ())))
        return [t for t in found if t is not None and t.is_open]

    def live(self, ticket_id: str) -> Ticket | None:
        """An open ticket in memory. One whose close is being stored is not open any more: what
        acts on a conversation is refused there as it will be once the ticket is forgotten."""
        t = self.tickets.get(ticket_id)
        return t if t is not None and t.is_open else None

    async def ticket(self, ticket_id: str) -> Ticket | None:
        """An open ticket from memory, or any ticket from the database."""
        return self.tickets.get(ticket_id) or await self.store.ticket(ticket_id)

    def pending_offers(self, agent_bare: str) -> list[Ticket]:
        found = (self.tickets.get(i) for i in sorted(self._offering.get(agent_bare, ())))
        return [t for t in found if t is not None and t.state == "offered" and t.offered_to(agent_bare)]

    def agent_lang(self, ticket: Ticket) -> str:
        q = self.queues.get(ticket.queue)
        return q.default_lang if q else "en"

    def entry_options(self, ticket: Ticket) -> QueueOptions:
        """The options of the queue the customer writes to (reopen, ratings), else of the serving one."""
        return self.queues.get(ticket.entry) or self.queues[ticket.queue]

    def in_hours(self, queue: str) -> bool:
        """Within business hours, unless a supervisor opened or closed the queue by hand (overrides.py)."""
        override = self.hours_override.get(queue)
        if override is not None:
            return override
        calendar = self.calendars.get(queue)
        return calendar is None or calendar.is_open(self.hours_clock())

    def accepting(self, queue: str) -> bool:
        """Open in XEP-0142 terms: not closed by configuration and within business hours."""
        q = self.queues.get(queue)
        return bool(q) and q.open and self.in_hours(queue)

    def _open(self, ticket_id: str) -> Ticket:
        t = self.live(ticket_id)
        if t is None:
            raise StanzaError("item-not-found", "no open ticket with this id")
        return t

    async def _any_ticket(self, ticket_id: str) -> Ticket:
        """A ticket to change: held here, or finished (no process holds it). An open ticket held by
        another process (its queue is owned there) is that process's to change."""
        t = self.tickets.get(ticket_id) or await self.store.ticket(ticket_id)
        if t is None:
            raise StanzaError("item-not-found", "no ticket with this id")
        if t.id not in self.tickets and t.is_open:
            raise StanzaError("recipient-unavailable", "this ticket's queue is served by another process now: "
                                                       "change it from its conversation")
        return t
