"""Tickets as stored, for whoever serves a conversation without owning its queue's routing state.

A conversation JID (``t-<ticket>@…``) may reach any process serving the domain (its hash picks
the slot), and a customer's message reaches the process of the queue they write to, which may not
be the one whose queue serves their ticket now (after a transfer). Relaying a message, a note, a
rating or a customer's late reply needs only the ticket as stored: who the customer and the agent
are, its state, its watchers. :class:`TicketLookup` answers from the engine's memory when the
engine holds the ticket (it owns the ticket's queue and the ticket is open), else from a cache of
the stored rows.

The cache is invalidated on change: the ledger hands it every copy it stored (this process's
changes), and, where several processes share the domain, the others' changes arrive as
PostgreSQL notifications (``CHANNEL``, sent in the writer's transaction) that drop the entries
named. Notifications are hints, so an entry also expires after ``ttl`` seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable

from .model import OPEN_STATES, Ticket

if TYPE_CHECKING:
    from .engine import SupportEngine

#: Ticket changes are announced on this channel; payload: "<domain> <ticket id>/<queue> …" (the
#: queue serving the ticket now: a process reads only the tickets of the queues it owns).
CHANNEL = "switchboard_support_ticket"
#: Bytes per notification (PostgreSQL takes payloads under 8000 bytes).
NOTICE_BYTES = 7000


class TicketLookup:
    def __init__(self, engine: "SupportEngine", ttl: float = 30.0, size: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.ttl = ttl
        self.size = size
        self.clock = clock
        #: ticket id -> (the ticket as stored or None when there is none, its watchers, when read)
        self._cache: OrderedDict[str, tuple[Ticket | None, dict[str, str] | None, float]] = OrderedDict()
        #: Figures for tests: reads that went to the database.
        self.reads = 0

    def held(self, ticket_id: str) -> Ticket | None:
        """The engine's own ticket, when it holds it (its queue's routing state is here)."""
        return self.engine.tickets.get(ticket_id)

    async def get(self, ticket_id: str) -> Ticket | None:
        """The ticket: the engine's when it holds it, else the stored one (read through the cache).

        What this returns from the cache is shared: read it, never change it.
        """
        held = self.held(ticket_id)
        if held is not None:
            return held
        found = self._fresh(ticket_id)
        if found is not None:
            return found[0]
        self.reads += 1
        t = await self.engine.store.ticket(ticket_id)
        self._put(ticket_id, t, None)
        return t

    async def watchers(self, ticket_id: str) -> dict[str, str]:
        """{supervisor bare: silent | open} of a conversation."""
        if ticket_id in self.engine.tickets:
            return self.engine.watchers.get(ticket_id, {})
        found = self._fresh(ticket_id)
        if found is not None and found[1] is not None:
            return found[1]
        self.reads += 1
        watchers = await self.engine.store.watchers_of(ticket_id)
        t = found[0] if found is not None else await self.get(ticket_id)
        self._put(ticket_id, t, watchers)
        return watchers

    async def customer_ticket(self, entry: str, customer: str) -> Ticket | None:
        """The customer's open ticket at the queue they write to: the engine's, else (where processes
        share the domain: the ticket may be held by another one) the stored one."""
        t = self.engine.open_ticket(entry, customer)
        if t is not None or not self.engine.shared:
            return t  # one process holds every open ticket: no need to ask the database
        self.reads += 1
        latest = await self.engine.store.latest_ticket(entry, customer)
        if latest is None or latest.state not in OPEN_STATES:
            return None
        held = self.held(latest.id)
        if held is not None:
            return held
        self._put(latest.id, latest, None)
        return latest

    # -- invalidation -------------------------------------------------------------------------
    def stored(self, copy: Ticket) -> None:
        """The ledger stored ``copy``: a cached copy is replaced by it (watchers read again). Tickets
        nobody looked up are not added (the engine holds the open ones anyway)."""
        if copy.id in self._cache:
            self._put(copy.id, copy, None)

    def changed(self, ticket_ids: list[str] | tuple[str, ...]) -> None:
        """Another process changed these tickets (or their watchers): read them again when asked."""
        for ticket_id in ticket_ids:
            self._cache.pop(ticket_id, None)

    def _fresh(self, ticket_id: str) -> tuple[Ticket | None, dict[str, str] | None, float] | None:
        found = self._cache.get(ticket_id)
        if found is None:
            return None
        if self.clock() - found[2] > self.ttl:
            del self._cache[ticket_id]
            return None
        self._cache.move_to_end(ticket_id)
        return found

    def _put(self, ticket_id: str, t: Ticket | None, watchers: dict[str, str] | None) -> None:
        self._cache[ticket_id] = (t, watchers, self.clock())
        self._cache.move_to_end(ticket_id)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)


def notices(domain: str, changed: dict[str, str]) -> list[str]:
    """The payloads announcing the changes of ``changed`` ({ticket id: its queue}), as few as fit."""
    payloads: list[str] = []
    current = domain
    for ticket_id, queue in changed.items():
        item = f"{ticket_id}/{queue}"
        if current != domain and len(current.encode()) + 1 + len(item.encode()) > NOTICE_BYTES:
            payloads.append(current)
            current = domain
        current += " " + item
    if current != domain:
        payloads.append(current)
    return payloads


def read_notice(payload: str) -> tuple[str, dict[str, str]]:
    """(domain, {ticket id: queue}) of a payload made by :func:`notices`."""
    domain, *items = payload.split()
    return domain, dict(item.partition("/")[::2] for item in items)
