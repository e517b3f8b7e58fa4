"""The support engine: queues, tickets, agents, offers, transfer and close (no stanzas here).

The ticket life cycle (see tickets.py for the statuses agents see): a customer's first message
opens a ticket (``new``); the bot may keep it (``bot``); before the queue the pre-chat form is
asked (``prechat``) and, outside business hours, the ticket waits as a left message
(``offline``); then ``queued`` -> ``offered`` -> ``active``. The agent may wait for the customer
(``pending``: their reply queues it again) or close it (``resolved``: the customer writing within
the reopen window reopens it; after that it is ``closed``). A customer who leaves before an agent
took the ticket makes it ``abandoned``.

Everything that reaches the network goes through an :class:`Outbox`; the
plugin implements it with stanzas, unit tests with a recorder. State lives in
memory for routing and is written through to the database on every change, so
a restarted component resumes queued customers, pending offers and active
conversations. Mutations run under one lock: routing decisions never see a
half-applied change.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import time
from typing import Any, Awaitable, Callable, Protocol, Sequence

from component.errors import StanzaError
from component.hooks import HookBus
from component.ids import new_id

from . import hooks as events
from . import prechat, routing, tickets
from .hours import Calendar
from .model import LEAVABLE_STATES, RESOLVED, WAITING_STATES, Agent, Resource, Ticket
from .options import QueueOptions, SupportOptions
from .store import SupportStore
from .texts import text

log = logging.getLogger("switchboard.plugins.support")

SESSION_PREFIX = "t-"


class JoinRefused(StanzaError):
    """A customer may not join: ``reason`` is closed | full | conflict | form."""

    def __init__(self, reason: str, condition: str, message: str) -> None:
        super().__init__(condition, message)
        self.reason = reason


class Outbox(Protocol):
    """What the engine asks the network layer to deliver."""

    def customer_notice(self, ticket: Ticket, body: str, status: tuple[int, int] | None = None) -> None: ...
    def customer_departed(self, ticket: Ticket, body: str) -> None: ...
    def customer_closed(self, ticket: Ticket, body: str, by: str) -> None: ...
    def session_notice(self, ticket: Ticket, to: str, body: str, marker: Any = None) -> None: ...
    async def offer(self, ticket: Ticket, agent_jid: str, timeout: float, body: str) -> str: ...
    def revoke(self, ticket: Ticket, agent_jid: str, via: str, reason: str) -> None: ...
    async def connect_agent(self, ticket: Ticket, agent_jid: str, intro: str) -> None: ...
    async def probe(self, jid: str) -> bool: ...
    def held(self, ticket: Ticket, reason: str, note: str = "") -> None:
        """The ticket waits before the queue: ``prechat`` (ask the next question; ``note``: why the last
        answer was refused), ``offline`` (out of hours, a message is taken) or ``closed`` (out of hours,
        nothing is taken)."""


class SupportEngine:
    def __init__(self, options: SupportOptions, domain: str, store: SupportStore, outbox: Outbox,
                 hooks: HookBus, is_admin: Callable[[str], bool] = lambda jid: False,
                 now: Callable[[], float] = time.time) -> None:
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
        self._wait_samples: dict[str, list[float]] = {}
        self._lock = asyncio.Lock()
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._liveness: asyncio.Task | None = None
        #: Each open ticket as last stored: what memory goes back to when the database refuses a change.
        self._stored: dict[str, Ticket] = {}
        self.calendars = {q.name: Calendar(q.hours, q.holidays, q.timezone) for q in options.queues}
        #: The clock business hours are read with (tests set it to a chosen moment).
        self.hours_clock: Callable[[], float] = now

    # -- addresses and roles ---------------------------------------------------
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
        for t in self.tickets.values():
            if t.entry == entry and t.customer == customer:
                return t
        return None

    def customer_tickets(self, customer: str) -> list[Ticket]:
        return [t for t in self.tickets.values() if t.customer == customer]

    async def ticket(self, ticket_id: str) -> Ticket | None:
        """An open ticket from memory, or any ticket from the database."""
        return self.tickets.get(ticket_id) or await self.store.ticket(ticket_id)

    def pending_offers(self, agent_bare: str) -> list[Ticket]:
        return [t for t in self.tickets.values() if t.state == "offered" and t.offered_to(agent_bare)]

    def agent_lang(self, ticket: Ticket) -> str:
        q = self.queues.get(ticket.queue)
        return q.default_lang if q else "en"

    def entry_options(self, ticket: Ticket) -> QueueOptions:
        """The options of the queue the customer writes to (reopen, ratings), else of the serving one."""
        return self.queues.get(ticket.entry) or self.queues[ticket.queue]

    def in_hours(self, queue: str) -> bool:
        calendar = self.calendars.get(queue)
        return calendar is None or calendar.is_open(self.hours_clock())

    def accepting(self, queue: str) -> bool:
        """Open in XEP-0142 terms: not closed by configuration and within business hours."""
        q = self.queues.get(queue)
        return bool(q) and q.open and self.in_hours(queue)

    # -- lifecycle -------------------------------------------------------------
    async def load(self) -> None:
        for t in await self.store.open_tickets():
            self.tickets[t.id] = t
            self._stored[t.id] = copy.deepcopy(t)
        self.watchers = await self.store.watchers()
        for queue, resource in await self.store.presences():
            bare = resource.jid.split("/", 1)[0]
            if self.is_agent(queue, bare):
                self.agents[queue].setdefault(bare, Agent(bare)).resources[resource.jid] = resource
        log.info("support state loaded", extra={"open_tickets": len(self.tickets),
                                                "queues": ",".join(self.queues)})

    async def resume(self) -> None:
        """(Re)connected: restart offer clocks, check agents are still there, route."""
        async with self._lock:
            for t in self.tickets.values():
                if t.state == "offered" and t.offer_deadline is not None:
                    self._schedule_offer_timeout(t)
        self._spawn(self._verify_agents())
        # A crash while the bot hook was deciding: nobody answered, so the customer waits in the queue.
        for t in [t for t in self.tickets.values() if t.state == "new"]:
            await self.enqueue(t.id)
        async with self._lock:
            for name in self.queues:
                await self._route(name)
                self._refresh(name)
        if self.options.liveness_interval > 0 and (self._liveness is None or self._liveness.done()):
            self._liveness = self._spawn(self._liveness_loop())

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._liveness:
            self._liveness.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Awaitable[Any]) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a timer's failure must not stop the engine
            log.exception("support background task failed")
            return None

    def _later(self, key: tuple[str, str], delay: float, factory: Callable[[], Awaitable[Any]]) -> None:
        self._cancel(key)

        def fire() -> None:
            self._timers.pop(key, None)
            self._spawn(factory())

        self._timers[key] = asyncio.get_running_loop().call_later(max(0.0, delay), fire)

    def _undo(self, t: Ticket) -> None:
        """The database refused a change: memory goes back to what it holds, so a retry starts afresh."""
        stored = self._stored.get(t.id)
        if stored is None:
            if self.tickets.get(t.id) is t:
                del self.tickets[t.id]  # never stored while open (a new or reopened ticket)
            return
        for name, value in vars(copy.deepcopy(stored)).items():
            setattr(t, name, value)
        if t.state == "offered" and t.offer_deadline is not None:
            self._schedule_offer_timeout(t)  # the change may have stopped the offer's clock
        log.warning("ticket change not stored; kept as before", extra={"ticket": t.id, "state": t.state})

    def _cancel(self, key: tuple[str, str]) -> None:
        handle = self._timers.pop(key, None)
        if handle:
            handle.cancel()

    async def _record(self, ticket: Ticket, kind: str, actor: str = "", **data: Any) -> None:
        at = self.now()
        try:
            await self.store.save(ticket, [(kind, at, actor, data)])
        except BaseException:
            self._undo(ticket)
            raise
        if ticket.id in self.tickets:
            self._stored[ticket.id] = copy.deepcopy(ticket)
        log.info("ticket event", extra={"ticket": ticket.id, "queue": ticket.queue, "kind": kind,
                                        "state": ticket.state})
        try:
            await self.hooks.collect(events.TICKET_EVENT, events.TicketEvent(ticket.id, ticket.queue, kind, at,
                                                                              actor, data))
        except Exception:  # noqa: BLE001 - a listener's bug must not stop the queue
            log.exception("ticket event listener failed", extra={"ticket": ticket.id, "kind": kind})

    # -- customers ---------------------------------------------------------------
    async def join(self, queue: str, customer_jid: str, lang: str, via: str = "chat", notify: bool = True,
                   body: str = "", form: dict[str, str] | None = None, priority: int = 0,
                   on_created: Callable[[Ticket], Awaitable[Any]] | None = None) -> Ticket:
        """Open a ticket for a customer; raises :class:`JoinRefused`.

        ``on_created`` runs once the ticket exists, before anyone answers (the plugin archives
        the customer's first message there, so transcripts keep their order).
        """
        customer = customer_jid.split("/", 1)[0]
        async with self._lock:
            q = self.queues.get(queue)
            if q is None:
                raise StanzaError("item-not-found", "there is no queue at this address")
            if not q.open:
                raise JoinRefused("closed", "service-unavailable", "this queue does not accept customers now")
            if not self.in_hours(queue) and (via != "chat" or not q.offline_messages):
                raise JoinRefused("hours", "service-unavailable", "this queue is closed outside its business hours")
            if self.open_ticket(queue, customer):
                raise JoinRefused("conflict", "conflict", "you are already in this queue")
            waiting = sum(1 for t in self.tickets.values() if t.queue == queue and t.state in WAITING_STATES)
            if q.max_waiting and waiting >= q.max_waiting:
                raise JoinRefused("full", "service-unavailable", "too many customers are waiting in this queue")
            t = Ticket(id=new_id().lower(), queue=queue, entry=queue, customer=customer, customer_jid=customer_jid,
                       lang=lang, created_at=self.now(), via=via, notify=notify, priority=priority,
                       form=dict(form or {}))
            if body:
                t.form.setdefault("message", body[:200])
            self.tickets[t.id] = t
            # Not stored (the database is away): _record takes it out of memory again, so the
            # customer's next message opens a ticket rather than finding this one half-made.
            await self._record(t, "created", customer, via=via)
        if on_created is not None:
            await on_created(t)
        try:
            kept = await self.hooks.fire(events.BEFORE_QUEUE, events.BeforeQueue(t.id, queue, customer_jid, body,
                                                                                  lang))
        except Exception:  # noqa: BLE001 - a failing bot hands the customer to the people
            log.exception("before_queue handler failed", extra={"ticket": t.id})
            kept = None
        if kept is not None:
            async with self._lock:
                t.state = "bot"
                await self._record(t, "bot")
            if kept != events.HANDED_OFF:
                return t
        await self.enqueue(t.id)
        return t

    async def enqueue(self, ticket_id: str, priority: int | None = None) -> Ticket:
        """Put a ticket in its queue (a new one, or one the bot hands off), unless it must wait first
        for the pre-chat form or for business hours."""
        async with self._lock:
            t = self._open(ticket_id)
            if t.state not in ("new", "bot", "prechat", "offline"):
                raise StanzaError("unexpected-request", "this ticket is already queued")
            if priority is not None:
                t.priority = priority
            if not await self._hold(t):
                await self._queue(t, greeting=True)
            return t

    async def _hold(self, t: Ticket) -> bool:
        """Keep a ticket out of the queue while the pre-chat form is incomplete or the queue is out of hours."""
        q = self.queues[t.queue]
        missing = prechat.missing(q.join_form, t.form)
        if missing:
            if t.state != "prechat":
                t.state = "prechat"
                await self._record(t, "prechat", fields=missing)
                self.outbox.held(t, "prechat")
            return True
        if self.in_hours(t.queue):
            return False
        if q.offline_messages:
            if t.state != "offline":
                t.state = "offline"
                t.pending_at = None
                await self._record(t, "offline")
                self.outbox.held(t, "offline")
            return True
        # Out of hours and no messages taken (the bot handed off, or the form was finished, too late).
        t.state = "abandoned"
        t.closed_at = self.now()
        t.close_reason = "out_of_hours"
        await self._record(t, "abandoned", reason="out_of_hours")
        self._forget(t)
        self.outbox.held(t, "closed")
        return True

    async def _queue(self, t: Ticket, greeting: bool, notice: str = "") -> None:
        t.state = "queued"
        t.pending_at = None
        t.queued_at = t.queued_at or self.now()
        await self._record(t, "queued")
        q = self.queues[t.queue]
        if greeting:
            notice = (q.greeting_zh if t.lang == "zh" else q.greeting_en) or text(
                "greeting", t.lang, queue=self.queue_title(t.queue))
        if notice:
            self.outbox.customer_notice(t, notice)
        if not self._routable_agents(t.queue):
            self.outbox.customer_notice(t, text("no_agent", t.lang))
        await self._route(t.queue)
        self._refresh(t.queue)

    async def prechat_answers(self, ticket_id: str, answers: dict[str, str], note: str = "") -> Ticket:
        """Store pre-chat answers; ask the next question (with ``note`` when an answer was refused)
        or, once complete, queue the ticket."""
        async with self._lock:
            t = self._open(ticket_id)
            if t.state != "prechat":
                raise StanzaError("unexpected-request", "this ticket does not wait for the pre-chat form")
            t.form.update(answers)
            if prechat.missing(self.queues[t.queue].join_form, t.form):
                await self.store.save(t)
                self.outbox.held(t, "prechat", note)
                return t
            if not await self._hold(t):
                await self._queue(t, greeting=True)
            return t

    async def requeue(self, ticket_id: str, customer_jid: str) -> Ticket:
        """The customer wrote on a pending ticket, or on a message left out of hours once the queue is
        open: back to the queue (a pending one first to the agent who held it, when available)."""
        async with self._lock:
            t = self._open(ticket_id)
            if t.state not in ("pending", "offline"):
                raise StanzaError("unexpected-request", "this ticket does not wait for the customer")
            was = t.state
            t.customer_jid = customer_jid
            if await self._hold(t):
                return t
            q = self.queues[t.queue]
            t.target_agent = t.agents_seen[-1] if was == "pending" and q.return_to_agent and t.agents_seen else ""
            t.declined = []
            await self._queue(t, greeting=was == "offline", notice=text("requeued", t.lang))
            return t

    async def reopen(self, ticket_id: str, customer_jid: str) -> Ticket:
        """A customer writes again soon after their ticket was resolved: the same ticket goes back to the queue."""
        async with self._lock:
            if ticket_id in self.tickets:
                raise StanzaError("conflict", "this ticket is open")
            t = await self.store.ticket(ticket_id)
            if t is None or t.state != RESOLVED:
                raise StanzaError("item-not-found", "no resolved ticket with this id")
            if self.open_ticket(t.entry, t.customer):
                raise StanzaError("conflict", "the customer has an open ticket in this queue")
            if t.queue not in self.queues:
                t.queue = t.entry  # its last queue is gone from the configuration
            last = t.agents_seen[-1] if t.agents_seen else ""
            t.state = "new"
            t.customer_jid = customer_jid
            t.reopened += 1
            t.close_reason = ""
            t.agent = t.agent_jid = ""
            t.offers, t.declined, t.offer_deadline = {}, [], None
            t.rating_requested_at = None
            self.tickets[t.id] = t
            await self._record(t, "reopened", t.customer, count=t.reopened)
            if await self._hold(t):
                return t
            t.target_agent = last if self.queues[t.queue].return_to_agent else ""
            await self._queue(t, greeting=False, notice=text("reopened", t.lang, ticket=t.id))
            return t

    async def reopenable(self, entry: str, customer: str) -> Ticket | None:
        """The customer's last ticket at ``entry`` when writing now reopens it: resolved after an agent
        held it, within the queue's reopen window."""
        q = self.queues.get(entry)
        if q is None or q.reopen_days <= 0:
            return None
        t = await self.store.latest_ticket(entry, customer)
        if t is None or t.state != RESOLVED or not t.agents_seen:
            return None
        resolved = t.resolved_at or t.closed_at or 0.0
        return t if self.now() - resolved <= q.reopen_days * 86400 else None

    async def leave(self, ticket_id: str, reason: str, actor: str = "") -> Ticket:
        """A waiting customer leaves (bye, depart-queue, offline past the grace period): abandoned."""
        async with self._lock:
            t = self._open(ticket_id)
            if t.state not in LEAVABLE_STATES:
                raise StanzaError("not-allowed", "this conversation is already with an agent")
            self._revoke_all(t, "revoke_left")
            t.state = "abandoned"
            t.closed_at = self.now()
            t.close_reason = reason
            await self._record(t, "abandoned", actor, reason=reason)
            self._forget(t)
            self.outbox.customer_departed(t, text("left_queue", t.lang))
            await self._route(t.queue)
            self._refresh(t.queue)
            return t

    async def rebind_customer(self, ticket_id: str, customer_jid: str) -> Ticket:
        """The customer of an open ticket now writes from ``customer_jid`` (a web visitor's new
        anonymous login, after proving ownership elsewhere): the ticket is theirs from that address."""
        async with self._lock:
            t = self._open(ticket_id)
            previous = t.customer
            t.customer, t.customer_jid = customer_jid.split("/", 1)[0], customer_jid
            t.offline_since = None
            self._cancel(("grace", t.id))
            await self._record(t, "resumed", t.customer, previous=previous)
            return t

    async def customer_seen(self, customer_jid: str, available: bool) -> None:
        """Presence (or a failed probe) of a customer: start or stop the grace period."""
        customer = customer_jid.split("/", 1)[0]
        async with self._lock:
            for t in self.customer_tickets(customer):
                if t.state not in LEAVABLE_STATES:
                    continue
                if available:
                    t.offline_since = None
                    t.customer_jid = customer_jid
                    self._cancel(("grace", t.id))
                elif t.customer_jid == customer_jid and t.offline_since is None:
                    t.offline_since = self.now()
                    grace = self.queues[t.queue].grace_period if t.queue in self.queues else 60.0
                    self._later(("grace", t.id), grace, lambda tid=t.id: self._grace_over(tid))

    async def _grace_over(self, ticket_id: str) -> None:
        t = self.tickets.get(ticket_id)
        if t is None or t.offline_since is None:
            return
        if await self.outbox.probe(t.customer_jid):
            t.offline_since = None
            return
        if t.offline_since is not None and t.id in self.tickets and t.state in LEAVABLE_STATES:
            await self.leave(t.id, "offline")

    async def _liveness_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.liveness_interval)
            for t in [t for t in self.tickets.values() if t.state in WAITING_STATES and t.offline_since is None]:
                if not await self.outbox.probe(t.customer_jid):
                    await self.customer_seen(t.customer_jid, False)

    # -- agents ------------------------------------------------------------------
    async def agent_presence(self, queue: str, agent_jid: str, show: str | None,
                             max_chats: int | None = None) -> None:
        """An agent's presence to a queue; ``show`` None means unavailable."""
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            if not self.is_agent(queue, bare):
                return
            agent = self.agents[queue].setdefault(bare, Agent(bare))
            if show is None:
                agent.resources.pop(agent_jid, None)
                await self.store.set_presence(queue, None, agent_jid)
                for t in [t for t in self.tickets.values() if t.state == "offered" and agent_jid in t.offers]:
                    await self._drop_offer(t, agent_jid, "offer_revoked", "revoke_offline")
            else:
                resource = Resource(agent_jid, show, max_chats, self.now())
                agent.resources[agent_jid] = resource
                await self.store.set_presence(queue, resource, agent_jid)
            await self._route(queue)
            self._refresh(queue)

    async def _verify_agents(self) -> None:
        """After a restart, agents may have left while we were away: ask their clients."""
        for queue, agents in list(self.agents.items()):
            for agent in list(agents.values()):
                for jid in list(agent.resources):
                    if not await self.outbox.probe(jid):
                        await self.agent_presence(queue, jid, None)

    def _routable_agents(self, queue: str) -> list[Agent]:
        return [a for a in self.agents.get(queue, {}).values() if a.tier() is not None]

    def _loads(self) -> dict[str, int]:
        loads: dict[str, int] = {}
        for t in self.tickets.values():
            if t.state == "active" and t.agent:
                loads[t.agent] = loads.get(t.agent, 0) + 1
            elif t.state == "offered":
                for full in t.offers:
                    bare = full.split("/", 1)[0]
                    loads[bare] = loads.get(bare, 0) + 1
        return loads

    def load_of(self, agent_bare: str) -> int:
        return self._loads().get(agent_bare, 0)

    # -- routing and offers ---------------------------------------------------------
    async def _route(self, queue: str) -> None:
        q = self.queues.get(queue)
        if q is None:
            return
        loads = self._loads()
        busy = {full.split("/", 1)[0] for t in self.tickets.values() if t.state == "offered" for full in t.offers}
        agents = [self.agents[queue][jid] for jid in q.agents if jid in self.agents[queue]]
        waiting = sorted((t for t in self.tickets.values() if t.queue == queue and t.state == "queued"),
                         key=Ticket.sort_key)
        for t in waiting:
            urgent = t.priority >= q.urgent_priority
            found = routing.candidates(t, agents, loads, busy, q.max_chats, urgent)
            if not found and t.target_agent:
                t.target_agent = ""  # the named agent cannot take it: back to the queue
                found = routing.candidates(t, agents, loads, busy, q.max_chats, urgent)
            if not found:
                if t.declined and ("retry", t.id) not in self._timers:
                    saved = list(t.declined)
                    t.declined = []
                    if routing.candidates(t, agents, loads, busy, q.max_chats, urgent):
                        # Everyone free let it go once: ask again after a pause, not in a loop.
                        self._later(("retry", t.id), q.offer_timeout, lambda tid=t.id: self._retry(tid))
                    t.declined = saved
                continue
            chosen = routing.choose(q.strategy, found, q.agents, self._rr_last.get(queue, ""))
            self._rr_last[queue] = chosen[-1].agent.jid
            t.state = "offered"
            t.offers = {c.resource: "pending" for c in chosen}
            t.offer_deadline = self.now() + q.offer_timeout
            for c in chosen:
                loads[c.agent.jid] = loads.get(c.agent.jid, 0) + 1
                busy.add(c.agent.jid)
            await self._record(t, "offered", agents=[c.agent.jid for c in chosen])
            self._schedule_offer_timeout(t)
            for c in chosen:
                body = text("offer", self.agent_lang(t), customer=t.customer, queue=self.queue_title(queue),
                            ticket=t.id, timeout=int(round(q.offer_timeout)),
                            first=(f": “{t.form['message']}”" if t.form.get("message") else ""))
                self._spawn(self._send_offer(t, c.resource, q.offer_timeout, body))

    async def _retry(self, ticket_id: str) -> None:
        async with self._lock:
            t = self.tickets.get(ticket_id)
            if t and t.state == "queued":
                t.declined = []
                await self._route(t.queue)
                self._refresh(t.queue)

    async def _send_offer(self, t: Ticket, agent_jid: str, timeout: float, body: str) -> None:
        via = await self.outbox.offer(t, agent_jid, timeout, body)
        async with self._lock:
            if t.state == "offered" and t.offers.get(agent_jid) == "pending":
                t.offers[agent_jid] = via
                await self.store.save(t)

    def _schedule_offer_timeout(self, t: Ticket) -> None:
        deadline = t.offer_deadline or self.now()
        self._later(("offer", t.id), deadline - self.now(),
                    lambda tid=t.id, d=deadline: self._offer_expired(tid, d))

    async def _offer_expired(self, ticket_id: str, deadline: float) -> None:
        async with self._lock:
            t = self.tickets.get(ticket_id)
            if t is None or t.state != "offered" or t.offer_deadline != deadline:
                return
            declined = sorted({full.split("/", 1)[0] for full in t.offers})
            self._revoke_all(t, "revoke_timeout")
            t.declined = sorted(set(t.declined) | set(declined))
            t.target_agent = ""
            t.state = "queued"
            await self._record(t, "offer_timeout", agents=declined)
            await self._route(t.queue)
            self._refresh(t.queue)

    def _revoke_all(self, t: Ticket, reason_key: str, keep: str = "") -> None:
        for full, via in t.offers.items():
            if keep and full.split("/", 1)[0] == keep:
                continue
            self.outbox.revoke(t, full, via, text(reason_key, self.agent_lang(t)))
        t.offers = {}
        t.offer_deadline = None
        self._cancel(("offer", t.id))

    async def _drop_offer(self, t: Ticket, agent_jid: str, kind: str, reason_key: str | None) -> None:
        via = t.offers.pop(agent_jid, "pending")
        if reason_key:
            self.outbox.revoke(t, agent_jid, via, text(reason_key, self.agent_lang(t)))
        bare = agent_jid.split("/", 1)[0]
        if bare not in t.declined:
            t.declined.append(bare)
        if not t.offers:
            t.state = "queued"
            t.offer_deadline = None
            t.target_agent = ""
            self._cancel(("offer", t.id))
        await self._record(t, kind, bare)

    async def accept(self, ticket_id: str, agent_jid: str) -> Ticket:
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            t = self._open(ticket_id)
            if not (self.is_agent(t.queue, bare) or t.offered_to(bare)):
                raise StanzaError("forbidden", "only the queue's agents accept offers")
            if t.state != "offered" or not t.offered_to(bare):
                raise StanzaError("item-not-found", "there is no pending offer of this ticket to you")
            self._revoke_all(t, "revoke_taken", keep=bare)
            now = self.now()
            if t.queued_at:
                samples = self._wait_samples.setdefault(t.queue, [])
                samples.append(now - t.queued_at)
                del samples[:-20]
            t.state = "active"
            t.agent, t.agent_jid, t.accepted_at = bare, agent_jid, now
            t.target_agent, t.declined = "", []
            if bare not in t.agents_seen:
                t.agents_seen.append(bare)
            self.agents[t.queue].setdefault(bare, Agent(bare)).last_assigned = now
            await self._record(t, "accepted", bare)
            self.outbox.customer_notice(t, text("agent_joined", t.lang, agent=bare.split("@", 1)[0]))
            await self.outbox.connect_agent(t, agent_jid, self._intro(t))
            await self._route(t.queue)
            self._refresh(t.queue)
            return t

    def _intro(self, t: Ticket) -> str:
        """What the agent reads when the conversation starts: who, which ticket, and what we know."""
        lang = self.agent_lang(t)
        lines = [text("connected", lang, customer=t.customer, ticket=t.id)]
        details = prechat.summary(self.queues[t.queue].join_form if t.queue in self.queues else [], t.form, lang)
        if details:
            lines.append(details)
        if t.reopened:
            lines.append(text("intro_reopened", lang, count=t.reopened))
        if t.tags or t.priority:
            lines.append(text("intro_tags", lang, tags=" ".join("#" + tag for tag in t.tags) or "-",
                              priority=t.priority))
        return "\n".join(lines)

    async def reject(self, ticket_id: str, agent_jid: str) -> Ticket:
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            t = self._open(ticket_id)
            if not (self.is_agent(t.queue, bare) or t.offered_to(bare)):
                raise StanzaError("forbidden", "only the queue's agents answer offers")
            if t.state != "offered" or not t.offered_to(bare):
                raise StanzaError("item-not-found", "there is no pending offer of this ticket to you")
            for full in t.offered_to(bare):
                await self._drop_offer(t, full, "offer_rejected", None)
            await self._route(t.queue)
            self._refresh(t.queue)
            return t

    async def take_next(self, queue: str, agent_jid: str) -> Ticket | None:
        """An agent asks for the next waiting customer (ad-hoc 'accept next')."""
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            if not self.is_agent(queue, bare):
                raise StanzaError("forbidden", "only the queue's agents take customers")
            waiting = sorted((t for t in self.tickets.values() if t.queue == queue and t.state in WAITING_STATES
                              and not t.target_agent), key=Ticket.sort_key)
            if not waiting:
                return None
            t = waiting[0]
            self._revoke_all(t, "revoke_taken")
            t.state = "offered"
            t.offers = {agent_jid: "command"}
        return await self.accept(t.id, agent_jid)

    # -- the conversation --------------------------------------------------------------
    async def first_response(self, t: Ticket) -> None:
        if t.first_response_at is None and t.state == "active":
            async with self._lock:
                if t.first_response_at is None:
                    t.first_response_at = self.now()
                    await self._record(t, "first_response", t.agent)

    async def close(self, ticket_id: str, actor: str, reason: str = "resolved") -> Ticket:
        """End the conversation: the ticket is resolved (reopenable for a while) and the customer may be
        asked for a rating (``rating_requested_at``; the outbox sends the question with the notice)."""
        async with self._lock:
            t = self._open(ticket_id)
            staff = self._staff(t)
            self._revoke_all(t, "revoke_closed")
            was = t.state
            now = self.now()
            t.state = RESOLVED if self.entry_options(t).reopen_days > 0 else "closed"
            t.closed_at = t.resolved_at = now
            t.close_reason = reason
            t.pending_at = None
            data: dict[str, Any] = {"reason": reason}
            if self._wants_rating(t, was, reason):
                t.rating_requested_at = now
                t.rating, t.rating_comment, t.rated_at = None, "", None
                data["rating_requested"] = True
            await self._record(t, "closed", actor, **data)
            self._forget(t)
            self.outbox.customer_closed(t, text("ticket_closed", t.lang), actor)
            notice = text("closed_for_agent", self.agent_lang(t), ticket=t.id)
            for jid in staff:
                self.outbox.session_notice(t, jid, notice, marker="closed")
            for jid in list(self.watchers.pop(t.id, {})):
                await self.store.set_watcher(t.id, jid, None)
            await self._route(t.queue)
            self._refresh(t.queue)
            return t

    def _staff(self, t: Ticket) -> list[str]:
        """Who hears about the ticket on the agents' side: its agent (the last one while pending) and its watchers."""
        agent = t.agent or (t.agents_seen[-1] if t.state == "pending" and t.agents_seen else "")
        found = [agent] if agent else []
        return found + [jid for jid in self.watchers.get(t.id, {}) if jid not in found]

    def _wants_rating(self, t: Ticket, was: str, reason: str) -> bool:
        q = self.entry_options(t)
        if not q.ratings or reason == "no_reply":
            return False
        return bool(t.agents_seen) or (q.rate_bot_conversations and was == "bot")

    def resolve_target(self, t: Ticket, target: str) -> tuple[str, str]:
        """A transfer target -> (queue name, agent bare or "")."""
        target = target.strip()
        if not target:
            raise StanzaError("bad-request", "name a queue or an agent to transfer to")
        local, _, host = target.partition("@")
        if not host or host == self.domain:
            if local in self.queues:
                return local, ""
            raise StanzaError("item-not-found", f"there is no queue {target}")
        bare = target.split("/", 1)[0]
        queues = [name for name, q in self.queues.items() if bare in q.agents]
        if not queues:
            raise StanzaError("item-not-found", f"{bare} is not an agent here")
        queue = t.queue if t.queue in queues else queues[0]
        agent = self.agents[queue].get(bare)
        if agent is None or agent.tier() is None:
            raise StanzaError("recipient-unavailable", f"{bare} is not available now")
        return queue, bare

    async def transfer(self, ticket_id: str, actor: str, target: str) -> Ticket:
        async with self._lock:
            t = self._open(ticket_id)
            queue, agent = self.resolve_target(t, target)
            if agent and agent == t.agent:
                raise StanzaError("bad-request", "the ticket is already yours")
            if t.state in ("new", "bot", "prechat"):
                raise StanzaError("unexpected-request", "the ticket is not queued yet")
            old_queue, old_agent = t.queue, t.agent
            self._revoke_all(t, "revoke_taken")
            t.queue, t.state, t.agent, t.agent_jid = queue, "queued", "", ""
            t.pending_at = None
            t.target_agent = agent
            t.declined = [old_agent] if old_agent and not agent else []
            t.queued_at = t.queued_at or self.now()
            await self._record(t, "transferred", actor, from_queue=old_queue, to_queue=queue, to_agent=agent,
                               from_agent=old_agent)
            shown = agent.split("@", 1)[0] if agent else self.queue_title(queue)
            self.outbox.customer_notice(t, text("transferring", t.lang, target=shown))
            if old_agent:
                self.outbox.session_notice(t, old_agent, text("transferred_away", self.agent_lang(t), ticket=t.id,
                                                                target=agent or self.queue_jid(queue)),
                                           marker=("transferred", agent or self.queue_jid(queue)))
            await self._route(queue)
            self._refresh(queue)
            if old_queue != queue:
                await self._route(old_queue)
                self._refresh(old_queue)
            return t

    async def note(self, ticket_id: str, actor: str, body: str) -> None:
        t = await self.ticket(ticket_id)
        if t is None:
            raise StanzaError("item-not-found", "no such ticket")
        if not body.strip():
            raise StanzaError("bad-request", "a note needs a text")
        await self.store.add_note(t.id, actor, body.strip(), self.now())
        async with self._lock:
            await self._record(t, "note", actor)

    # -- ticket operations (agents) -----------------------------------------------------
    async def set_pending(self, ticket_id: str, actor: str) -> Ticket:
        """The agent waits for the customer: capacity is freed; the customer's next message queues it again."""
        async with self._lock:
            t = self._open(ticket_id)
            if t.state != "active":
                raise StanzaError("unexpected-request", "only a conversation with an agent can wait for the customer")
            agent = t.agent
            t.state = "pending"
            t.pending_at = self.now()
            t.agent = t.agent_jid = ""
            await self._record(t, "pending", actor, agent=agent)
            self.outbox.customer_notice(t, text("pending_customer", t.lang))
            notice = text("pending_agent", self.agent_lang(t), ticket=t.id)
            for jid in self._staff(t):
                self.outbox.session_notice(t, jid, notice)
            await self._route(t.queue)
            self._refresh(t.queue)
            return t

    async def take(self, ticket_id: str, agent_jid: str) -> Ticket:
        """An agent takes a waiting ticket directly: queued, a message left out of hours, or pending."""
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            t = self._open(ticket_id)
            if not self.is_agent(t.queue, bare):
                raise StanzaError("forbidden", "only the queue's agents take its tickets")
            if t.state not in ("queued", "offered", "offline", "pending"):
                raise StanzaError("unexpected-request", "this ticket does not wait for an agent")
            self._revoke_all(t, "revoke_taken")
            t.state = "offered"
            t.offers = {agent_jid: "command"}
            t.pending_at = None
        return await self.accept(t.id, agent_jid)

    async def _any_ticket(self, ticket_id: str) -> Ticket:
        t = self.tickets.get(ticket_id) or await self.store.ticket(ticket_id)
        if t is None:
            raise StanzaError("item-not-found", "no ticket with this id")
        return t

    async def update(self, ticket_id: str, actor: str, add_tags: Sequence[str] = (), remove_tags: Sequence[str] = (),
                     priority: int | None = None) -> Ticket:
        """Tags and priority, on open and finished tickets alike; each change is an event."""
        async with self._lock:
            t = await self._any_ticket(ticket_id)
            tags = tickets.apply_tags(t.tags, add_tags, remove_tags)
            if tags != t.tags:
                added = [tag for tag in tags if tag not in t.tags]
                removed = [tag for tag in t.tags if tag not in tags]
                t.tags = tags
                await self._record(t, "tagged", actor, added=added, removed=removed)
            if priority is not None and priority != t.priority:
                previous, t.priority = t.priority, priority
                await self._record(t, "priority", actor, priority=priority, previous=previous)
                if t.id in self.tickets and t.state in WAITING_STATES:
                    await self._route(t.queue)
                    self._refresh(t.queue)
            return t

    async def finish(self, ticket_id: str, actor: str) -> Ticket:
        """Close a resolved ticket for good (it no longer reopens)."""
        async with self._lock:
            t = await self._any_ticket(ticket_id)
            if t.state != RESOLVED:
                raise StanzaError("unexpected-request", "only a resolved ticket can be closed for good")
            t.state = "closed"
            await self._record(t, "finalized", actor)
            return t

    async def rate(self, ticket_id: str, rating: int, comment: str, actor: str) -> Ticket:
        """The customer's answer to the rating question (once per question)."""
        if rating not in (1, 2, 3, 4, 5):
            raise StanzaError("bad-request", "a rating is a whole number from 1 to 5")
        async with self._lock:
            t = await self._any_ticket(ticket_id)
            if t.rating_requested_at is None:
                raise StanzaError("not-allowed", "this conversation was not offered a rating")
            if t.rating is not None:
                raise StanzaError("conflict", "this conversation is rated already")
            t.rating, t.rating_comment, t.rated_at = rating, comment.strip(), self.now()
            data: dict[str, Any] = {"rating": rating}
            if t.rating_comment:
                data["comment"] = t.rating_comment
            await self._record(t, "rated", actor, **data)
            return t

    async def sweep(self) -> int:
        """Close resolved tickets past their reopen window; resolve pending tickets past ``pending_days``."""
        now = self.now()
        done = 0
        windows = [q.reopen_days for q in self.queues.values() if q.reopen_days > 0]
        if windows:
            for t in await self.store.in_state_before(RESOLVED, "resolved_at", now - min(windows) * 86400):
                q = self.queues.get(t.entry) or self.queues.get(t.queue)
                if q is None or (t.resolved_at or now) > now - q.reopen_days * 86400:
                    continue
                async with self._lock:
                    fresh = None if t.id in self.tickets else await self.store.ticket(t.id)
                    if fresh is None or fresh.state != RESOLVED:
                        continue  # reopened (or closed) meanwhile
                    fresh.state = "closed"
                    await self._record(fresh, "finalized")
                    done += 1
        for t in [t for t in self.tickets.values() if t.state == "pending" and t.pending_at is not None]:
            days = self.queues[t.queue].pending_days if t.queue in self.queues else 0
            if days > 0 and now - t.pending_at >= days * 86400:
                try:
                    await self.close(t.id, "", "no_reply")
                    done += 1
                except StanzaError:
                    pass  # the customer answered meanwhile
        return done

    async def watch(self, ticket_id: str, supervisor: str, mode: str | None) -> Ticket:
        """Follow a conversation silently (``silent``), openly (``open``), or stop (None)."""
        async with self._lock:
            t = self._open(ticket_id)
            if not self.is_supervisor(t.queue, supervisor) and not self.is_supervisor(t.entry, supervisor):
                raise StanzaError("forbidden", "only supervisors of this queue watch its conversations")
            if mode is None:
                self.watchers.get(t.id, {}).pop(supervisor, None)
            else:
                self.watchers.setdefault(t.id, {})[supervisor] = mode
            await self.store.set_watcher(t.id, supervisor, mode)
            await self._record(t, {"silent": "watch", "open": "join", None: "unwatch"}[mode], supervisor)
            if mode == "open":
                self.outbox.customer_notice(t, text("supervisor_joined", t.lang, name=supervisor.split("@", 1)[0]))
            return t

    # -- queue status ----------------------------------------------------------------
    def per_customer_wait(self, queue: str) -> float:
        samples = self._wait_samples.get(queue)
        return sum(samples) / len(samples) if samples else self.options.expected_wait

    def status(self, t: Ticket) -> tuple[int, int]:
        """(entries ahead, estimated seconds) for a waiting ticket; (0, 0) when being routed."""
        if t.state == "offered":
            return 0, 0
        key = t.sort_key()
        ahead = sum(1 for o in self.tickets.values()
                    if o.queue == t.queue and o.state in WAITING_STATES and o.sort_key() < key)
        online = len(self._routable_agents(t.queue))
        return ahead, routing.estimate_wait(ahead, self.per_customer_wait(t.queue), online)

    def summary(self, queue: str) -> dict[str, Any]:
        waiting = [t for t in self.tickets.values() if t.queue == queue and t.state in WAITING_STATES]
        agents = self._routable_agents(queue)
        loads = self._loads()
        q = self.queues[queue]
        return {
            "count": len(waiting),
            "oldest": min((t.queued_at or t.created_at for t in waiting), default=None),
            "time": int(round(self.per_customer_wait(queue))),
            "status": "open" if self.accepting(queue) else "closed",
            "available": len(agents),
            "current_chats": sum(loads.get(a.jid, 0) for a in agents),
            "max_chats": sum(a.capacity(q.max_chats) for a in agents),
        }

    def _statuses(self, queue: str) -> dict[str, tuple[int, int]]:
        """status() of every waiting ticket of a queue, in one sort instead of one scan per ticket."""
        waiting = sorted((t for t in self.tickets.values() if t.queue == queue and t.state in WAITING_STATES),
                         key=lambda t: t.sort_key())
        per_customer = self.per_customer_wait(queue)
        online = len(self._routable_agents(queue))
        result: dict[str, tuple[int, int]] = {}
        ahead = 0
        previous_key = None
        for index, t in enumerate(waiting):
            key = t.sort_key()
            if key != previous_key:  # equal keys are not ahead of each other, as in status()
                ahead, previous_key = index, key
            result[t.id] = (0, 0) if t.state == "offered" else (
                ahead, routing.estimate_wait(ahead, per_customer, online))
        return result

    def _refresh(self, queue: str) -> None:
        for ticket_id, current in self._statuses(queue).items():
            t = self.tickets[ticket_id]
            if t.last_status != current:
                self._schedule_status(t, current)

    def _schedule_status(self, t: Ticket, current: tuple[int, int] | None = None) -> None:
        if t.status_pending:
            return
        delay = t.last_status_at + self.options.status_interval - self.now()
        if t.last_status is None or delay <= 0:
            self._send_status(t, current)
        else:
            t.status_pending = True
            self._later(("status", t.id), delay, lambda tid=t.id: self._deferred_status(tid))

    async def _deferred_status(self, ticket_id: str) -> None:
        t = self.tickets.get(ticket_id)
        if t is None:
            return
        t.status_pending = False
        if t.state in WAITING_STATES and t.last_status != self.status(t):
            self._send_status(t)

    def _send_status(self, t: Ticket, current: tuple[int, int] | None = None) -> None:
        ahead, seconds = current or self.status(t)
        t.last_status, t.last_status_at = (ahead, seconds), self.now()
        if t.state == "offered":
            body = text("routing", t.lang)
        else:
            body = text("position", t.lang, number=ahead + 1, ahead=ahead, minutes=max(1, math.ceil(seconds / 60)))
        self.outbox.customer_notice(t, body, status=(ahead, seconds))

    # -- helpers ---------------------------------------------------------------------
    def _open(self, ticket_id: str) -> Ticket:
        t = self.tickets.get(ticket_id)
        if t is None:
            raise StanzaError("item-not-found", "no open ticket with this id")
        return t

    def _forget(self, t: Ticket) -> None:
        self.tickets.pop(t.id, None)
        self._stored.pop(t.id, None)
        for kind in ("offer", "grace", "status", "retry"):
            self._cancel((kind, t.id))
