"""The support engine: one object per service domain, composed of one part per responsibility.

The ticket life cycle (see tickets.py for the statuses agents see): a customer's first message
opens a ticket (``new``); the bot may keep it (``bot``); before the queue the pre-chat form is
asked (``prechat``) and, outside business hours, the ticket waits as a left message
(``offline``); then ``queued`` -> ``offered`` -> ``active``. The agent may wait for the customer
(``pending``: their reply queues it again) or close it (``resolved``: the customer writing within
the reopen window reopens it; after that it is ``closed``). A customer who leaves before an agent
took the ticket makes it ``abandoned``.

The parts (each a class in its own file, mixed into :class:`SupportEngine`):

- :class:`~.directory.Directory`: addresses, roles, queue options, hours (reads only);
- :class:`~.intake.Intake`: arrival, bot, pre-chat form, hours, reopen, leave;
- :class:`~.dispatch.Dispatch`: agents' presence, routing passes, accepting and refusing offers;
- :class:`~.offers.Offers`: offers written once stored, sent again, run out, revoked;
- :class:`~.conversations.Conversations`: transfer, notes, pending, close, tags, ratings, supervisors;
- :class:`~.status.QueueStatus`: positions and waits told to customers, summaries;
- :class:`~.ledger.Ledger`: every change stored (group commit, journal.py) before it is told; undo on refusal;
- :class:`~.indexes.Indexes`: waiting lists in routing order, agents' loads, customers' tickets;
- :class:`~.timers.Timers`: keyed one-shot timers and guarded background tasks;
- :class:`~.ownership.Ownership`: which queues' routing state is here when processes share the domain.

Tickets this engine does not hold (their queue is owned by another process, or they are finished)
are read as stored through :class:`~.lookup.TicketLookup`, a cache invalidated on change.

Everything that reaches the network goes through an :class:`Outbox`; the plugin implements it
with stanzas, unit tests with a recorder. Mutations run under one lock: routing decisions never
see a half-applied change. Most writes (a customer queued, a routing pass's offers, an offer
accepted or refused or timed out, a transfer, a note, a close, a departure) lend the lock out while
the database works, so the changes of other people join the same batch; what follows them checks
the ticket again, and a ticket whose close is being written is no longer open to anyone
(``Directory.live``). A close routes before its write is done: the next customer's offer shares its
batch (and leaves once stored).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Protocol

from component.hooks import HookBus

from .conversations import Conversations
from .directory import Directory
from .dispatch import Dispatch
from .hours import Calendar
from .indexes import Indexes
from .intake import Intake, JoinRefused
from .ledger import Ledger, OwnedLock
from .lookup import TicketLookup
from .model import Agent, Ticket
from .offers import Offers
from .options import QueueOptions, SupportOptions
from .ownership import Ownership
from .status import QueueStatus
from .store import SupportStore
from .timers import Timers

__all__ = ["JoinRefused", "Outbox", "SupportEngine"]

log = logging.getLogger("switchboard.plugins.support")


class Outbox(Protocol):
    """What the engine asks the network layer to deliver."""

    def customer_notice(self, ticket: Ticket, body: str, status: tuple[int, int] | None = None,
                        transient: bool = False, update: bool = False) -> None:
        """``update``: a place told by a status batch (to customers who moved, or after a restart),
        not the one a newcomer waits for."""
    def customer_departed(self, ticket: Ticket, body: str) -> None: ...
    def customer_closed(self, ticket: Ticket, body: str, by: str) -> None: ...
    def session_notice(self, ticket: Ticket, to: str, body: str, marker: Any = None) -> None: ...
    async def offer(self, ticket: Ticket, agent_jid: str, timeout: float, body: str, via: str = "") -> str:
        """Send an offer; ``via`` ("iq" or "chat"): the form it took before, sent so again without asking
        the client. Returns the form it took."""
    def offer_now(self, ticket: Ticket, agent_jid: str, timeout: float, body: str) -> str:
        """Send an offer at once if its form is known without asking and needs no answer (a chat
        message): returns the form it took, or "" when :meth:`offer` must send it."""
    def known_offer_form(self, agent_jid: str) -> str:
        """"chat" when the client is known to take offers as chat messages (:meth:`offer_now` will
        write them), else "": stored with the offer, it spares a second write of the form."""
    def revoke(self, ticket: Ticket, agent_jid: str, via: str, reason: str) -> None: ...
    async def connect_agent(self, ticket: Ticket, agent_jid: str, intro: str) -> None:
        """Open the conversation for its agent: the transcript so far, then the introduction. May
        return before they are written (queued behind other openings)."""
    async def probe(self, jid: str) -> bool: ...
    def held(self, ticket: Ticket, reason: str, note: str = "") -> None:
        """The ticket waits before the queue: ``prechat`` (ask the next question; ``note``: why the last
        answer was refused), ``offline`` (out of hours, a message is taken) or ``closed`` (out of hours,
        nothing is taken)."""


class SupportEngine(Intake, Dispatch, Offers, Conversations, QueueStatus, Ledger, Indexes, Ownership, Timers, Directory):
    def __init__(self, options: SupportOptions, domain: str, store: SupportStore, outbox: Outbox,
                 hooks: HookBus, is_admin: Callable[[str], bool] = lambda jid: False,
                 now: Callable[[], float] = time.time, shared: bool = False, slots: int = 1) -> None:
        self.options = options
        self.domain = domain
        self.store = store
        self.outbox = outbox
        self.hooks = hooks
        self.is_admin = is_admin
        self.now = now
        self.queues: dict[str, QueueOptions] = {q.name: q for q in options.queues}
        self.tickets: dict[str, Ticket] = {}          # open tickets only
        self.agents: dict[str, dict[str, Agent]] = {name: {} for name in self.queues}
        self.watchers: dict[str, dict[str, str]] = {}  # ticket -> {bare: silent|open}
        self._rr_last: dict[str, str] = {}
        #: Queue -> the routing pass due at the next loop turn, shared by the changes made until it starts.
        self._passes_due: dict[str, asyncio.Future] = {}
        self._wait_samples: dict[str, list[float]] = {}
        self._lock = OwnedLock()
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._liveness: asyncio.Task | None = None
        #: Each open ticket as last stored: what memory goes back to when the database refuses a change.
        self._stored: dict[str, Ticket] = {}
        self.calendars = {q.name: Calendar(q.hours, q.holidays, q.timezone) for q in options.queues}
        #: Queues opened (True) or closed (False) by hand, whatever their hours say (overrides.py).
        self.hours_override: dict[str, bool] = {}
        #: The clock business hours are read with (tests set it to a chosen moment).
        self.hours_clock: Callable[[], float] = now
        self._init_ownership(shared, slots)
        self._init_indexes()
        self._init_ledger()
        self.lookup = TicketLookup(self)
        self._status_last: dict[str, float] = {}      # queue -> when its statuses were last sent
        self._status_running: set[str] = set()        # queues whose statuses are being sent
        self._unannounced: set[str] = set()           # tickets queued, greeting not sent yet (status.py)
        self._status_dirty: set[str] = set()          # queues changed since

    # -- lifecycle -------------------------------------------------------------
    async def load(self) -> None:
        """Load the open tickets and agents' presence of the queues owned from the start (all of them,
        unless processes share the domain: then each queue when it is adopted, ownership.py)."""
        for t in await self.store.open_tickets():
            if self.shared and t.queue not in self.owned:
                continue
            self.tickets[t.id] = t
            self._stored[t.id] = t.snapshot()
            self._reindex(t)
        self.watchers = {tid: w for tid, w in (await self.store.watchers()).items()
                         if not self.shared or tid in self.tickets}
        for queue, resource in await self.store.presences():
            bare = resource.jid.split("/", 1)[0]
            if queue in self.owned and self.is_agent(queue, bare):
                self._set_resource(queue, bare, resource.jid, resource)
        log.info("support state loaded", extra={"open_tickets": len(self.tickets),
                                                "queues": ",".join(self.queues)})

    async def resume(self) -> None:
        """(Re)connected: restart offer clocks and offer again, send unanswered conversations to their
        agents again, check agents are still there, route."""
        async with self._lock:
            for t in self.tickets.values():
                if t.state == "offered" and t.offer_deadline is not None:
                    self._schedule_offer_timeout(t)
                    self._offer_again(t)
                self._connect_again(t)
        self._spawn(self._verify_agents())
        # A crash while the bot hook was deciding: nobody answered, so the customer waits in the queue.
        for t in [t for t in self.tickets.values() if t.state == "new"]:
            await self.enqueue(t.id)
        async with self._lock:
            for name in sorted(self.owned):
                await self._route_queue(name)  # every queue is routed here anyway
                self._refresh(name)
        if self.options.liveness_interval > 0 and (self._liveness is None or self._liveness.done()):
            self._liveness = self._spawn(self._liveness_loop())

    async def stop(self) -> None:
        await self.journal.drain()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._liveness:
            self._liveness.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
