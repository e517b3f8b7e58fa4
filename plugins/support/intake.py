"""Customer intake: arrival, the bot's turn, the pre-chat form, business hours, reopening, leaving.

A ticket is born here (``join``) and handed to dispatch once it may wait for an agent (``_queue``);
a customer who leaves (or goes offline past the grace period) before an agent took them ends here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from component.errors import StanzaError

from . import hooks as events
from . import prechat
from .model import FIRST_KEY, LEAVABLE_STATES, RESOLVED, WAITING_STATES, Ticket
from .texts import text

log = logging.getLogger("switchboard.plugins.support")


class JoinRefused(StanzaError):
    """A customer may not join: ``reason`` is closed | full | conflict | form."""

    def __init__(self, reason: str, condition: str, message: str) -> None:
        super().__init__(condition, message)
        self.reason = reason


class Intake:
    async def join(self, queue: str, customer_jid: str, lang: str, via: str = "chat", notify: bool = True,
                   body: str = "", form: dict[str, str] | None = None, priority: int = 0,
                   on_created: Callable[[Ticket], Awaitable[Any]] | None = None, first_id: str = "") -> Ticket:
        """Open a ticket for a customer; raises :class:`JoinRefused`.

        ``on_created`` runs once the ticket exists, before anyone answers (the plugin archives
        the customer's first message there, so transcripts keep their order). ``first_id``: that
        message's origin-id (or id), kept with the creation (``FIRST_KEY``).
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
            waiting = self.waiting_count(queue)
            if q.max_waiting and waiting >= q.max_waiting:
                raise JoinRefused("full", "service-unavailable", "too many customers are waiting in this queue")
            t = Ticket(id=self.new_ticket_id(queue), queue=queue, entry=queue, customer=customer,
                       customer_jid=customer_jid, lang=lang, created_at=self.now(), via=via, notify=notify,
                       priority=priority, form=dict(form or {}))
            if body:
                t.form.setdefault("message", body)  # whole: as long as the service lets a body be
            self.tickets[t.id] = t
            self._reindex(t)  # found by the customer's next message at once
            # Not stored (the database is away): _record takes it out of memory again, so the
            # customer's next message opens a ticket rather than finding this one half-made.
            created = self._change(t, "created", customer, via=via, **({FIRST_KEY: first_id} if first_id else {}))
        # Written with the next batch, while other customers come in.
        await self._stored_then(created)
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
                if self.live(t.id) is not t or t.state != "new":
                    return t  # left (or handed on) while the bot decided
                t.state = "bot"
                await self._record(t, "bot", release=True)
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
        # Other changes run during the write (and join its batch): the ticket may have moved on since,
        # and a status batch running meanwhile must not tell the place before the greeting.
        self._unannounced.add(t.id)
        try:
            await self._record(t, "queued", release=True)
        finally:
            self._unannounced.discard(t.id)
        q = self.queues[t.queue]
        if self.tickets.get(t.id) is not t or t.state not in ("queued", "offered"):
            await self._route(t.queue)
            self._refresh(t.queue)
            return
        if greeting:
            notice = (q.greeting_zh if t.lang == "zh" else q.greeting_en) or text(
                "greeting", t.lang, queue=self.queue_title(t.queue))
        if notice:
            self.outbox.customer_notice(t, notice)
        if not self._seats(t.queue):
            self.outbox.customer_notice(t, text("no_agent", t.lang), transient=True)  # until one comes
        await self._route(t.queue)
        self._status_now(t)  # the newcomer learns their place at once; the others with the next batch
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
                await self._lent(self._change(t, None))
                if self.live(t.id) is t and t.state == "prechat":
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
            # A new conversation on the same ticket: it waits, is answered and gets a first reply of its
            # own (reports and the live monitor read these; the old ones are in the event log).
            t.queued_at = t.accepted_at = t.first_response_at = t.pending_at = None
            self.tickets[t.id] = t
            self._reindex(t)  # found by the customer's next message at once
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
        await self._closing_written(entry, customer)
        t = await self.store.latest_ticket(entry, customer)
        if t is None or t.state != RESOLVED or not t.agents_seen:
            return None
        resolved = t.resolved_at or t.closed_at or 0.0
        return t if self.now() - resolved <= q.reopen_days * 86400 else None

    async def _closing_written(self, entry: str, customer: str, limit: float = 5.0) -> None:
        """The customer's ticket here is being closed (its write not done, the store still holds it
        open): wait for the write, so that a message written meanwhile (a resend, a late word) finds it
        resolved and reopens it, rather than opening a second ticket next to it. Not under the lock."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and any(
                t is not None and t.entry == entry and not t.is_open
                for t in (self.tickets.get(i) for i in self._by_customer.get(customer, ()))):
            await asyncio.sleep(0.01)

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
            # Other changes run during the write; the leaving ticket is no longer open to them (_open).
            await self._record(t, "abandoned", actor, release=True, reason=reason)
            if self.tickets.get(t.id) is t:
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
                if available and t.state == "active":
                    t.offline_since = None  # seen again: a later bounce is told to the agent again
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
