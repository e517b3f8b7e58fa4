"""Help-desk operations around the queue: tickets, the pre-chat form, canned replies, business hours, ratings.

The plugin hands this module what the queue itself does not decide:
- a customer writing with no open ticket: a rating reply (digit or form), a thank-you after a
  resolved conversation, or a message that reopens their resolved ticket;
- a customer writing while their ticket waits for them (``prechat``: the answers to the form;
  ``pending``: the reply the agent waited for; ``offline``: more of the message left out of hours);
- the ticket listing behind the ``/tickets`` command (declared in commands.py);
- the periodic work: the sweep of old resolved and pending tickets, and business-hours changes
  announced to agents with the queue's presence.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable

from slixmpp import Message

from component.errors import StanzaError
from component.forms import new_form

from . import prechat, ratings, stanza, tickets
from .model import RESOLVED, Ticket
from .texts import BYE_WORDS, is_thanks, text

if TYPE_CHECKING:
    from .plugin import SupportPlugin

log = logging.getLogger("switchboard.plugins.support")

#: Ticket states in which the customer's messages are this module's to handle.
CUSTOMER_TURN = ("prechat", "pending", "offline")
LISTING_MAX = 20


class Operations:
    def __init__(self, plugin: "SupportPlugin") -> None:
        self.plugin = plugin
        self.engine = plugin.engine
        self.outbox = plugin.outbox
        self.service = plugin.service
        self._tasks: list[asyncio.Task] = []
        self._open_now: dict[str, bool] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._tasks:
            return
        options = self.plugin.options
        self._tasks.append(asyncio.ensure_future(self._every(options.sweep_interval, self._sweep, at_once=True)))
        if options.hours_check_interval > 0 and any(not c.always_open for c in self.engine.calendars.values()):
            self._open_now = {name: self.engine.accepting(name) for name in self.engine.queues}
            self._tasks.append(asyncio.ensure_future(self._every(options.hours_check_interval, self.check_hours)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _every(self, interval: float, job: Callable[[], Any], at_once: bool = False) -> None:
        if at_once:
            await self._guarded(job)
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            await self._guarded(job)

    async def _guarded(self, job: Callable[[], Any]) -> None:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed sweep is retried at the next interval
            log.exception("periodic support job failed", extra={"job": getattr(job, "__name__", "")})

    async def _sweep(self) -> None:
        done = await self.engine.sweep()
        if done:
            log.info("tickets swept", extra={"count": done})

    async def check_hours(self) -> None:
        """Tell the agents online when a queue opens or closes by its business hours."""
        for name in self.engine.queues:
            if self._open_now.get(name) != self.engine.accepting(name):
                self.queue_state_changed(name)

    def queue_state_changed(self, name: str) -> None:
        """The queue opened or closed (hours, or by hand): its agents online see its presence change."""
        now_open = self.engine.accepting(name)
        self._open_now[name] = now_open
        log.info("queue hours changed", extra={"queue": name, "open": now_open})
        resources = [r for agent in self.engine.agents.get(name, {}).values() for r in agent.resources]
        if resources:
            self.plugin._send_queue_presence(name, resources, agent=True)

    # -- sending --------------------------------------------------------------------------------
    def _reply(self, queue: str, to: str, body: str, lang: str) -> None:
        self.service.send(self.outbox.message(self.engine.queue_jid(queue), to, body, lang))

    # -- customers without an open ticket ---------------------------------------------------------
    async def customer_without_ticket(self, msg: Message, queue: str, body: str) -> bool:
        """A rating, a thank-you or a reopening; False: the plugin opens a new ticket as usual."""
        engine = self.engine
        sender = msg["from"]
        rating_form = stanza.submitted_form(msg.xml, stanza.RATING_FORM)
        rating_text = ratings.parse_text(body) if body else None
        latest: Ticket | None = None
        if rating_form is not None or rating_text is not None or is_thanks(body):
            latest = await self._rated_ticket(msg, queue)
        if latest is not None and (rating_form is not None or rating_text is not None) and self._rating_open(latest):
            await self._rate(latest, msg, rating_form, rating_text)
            return True
        if rating_form is not None:
            return True  # a late or stray rating form opens nothing
        if not body or body.lower() in BYE_WORDS:
            return False
        if latest is not None and is_thanks(body) and latest.state in (RESOLVED, "closed"):
            self._reply(queue, str(sender), text("welcome", latest.lang), latest.lang)
            return True
        reopen = await engine.reopenable(queue, sender.bare)
        if reopen is None:
            return False
        if await self.outbox.stored_before(reopen, msg):
            self.outbox.acknowledge(msg)  # a resend of what the conversation kept: it does not reopen it
            return True
        if reopen.queue in engine.queues and not engine.owns(reopen.queue):
            self.plugin.hand_off(msg, reopen)  # its last queue is served by another process
            return True
        await self.outbox.archive_only(reopen, msg, "customer", "")
        await engine.reopen(reopen.id, str(sender))
        return True

    async def _rated_ticket(self, msg: Message, queue: str) -> Ticket | None:
        """The ticket a rating answers: the one its ``<thread/>`` names (as the question had), else the latest."""
        bare = msg["from"].bare
        thread = (msg["thread"] or "").strip().lower()
        if thread:
            t = await self.engine.store.ticket(thread)
            if t is not None and t.customer == bare and queue in (t.entry, t.queue):
                return t
        return await self.engine.store.latest_ticket(queue, bare)

    async def late_rating(self, msg: Message, queue: str) -> bool:
        """A rating form submitted for an earlier conversation while the customer has an open ticket."""
        form = stanza.submitted_form(msg.xml, stanza.RATING_FORM)
        if form is None or not msg["thread"]:
            return False
        t = await self._rated_ticket(msg, queue)
        if t is None or not self._rating_open(t):
            return False
        await self._rate(t, msg, form, None)
        return True

    def _rating_open(self, t: Ticket) -> bool:
        if t.rating_requested_at is None or t.id in self.engine.tickets:
            return False
        window = self.engine.entry_options(t).rating_days * 86400
        return self.engine.now() - t.rating_requested_at <= window

    async def _rate(self, t: Ticket, msg: Message, form: dict[str, list[str]] | None,
                    parsed: tuple[int, str] | None) -> None:
        queue = t.entry or t.queue
        if t.rating is not None:
            self._reply(queue, str(msg["from"]), text("rating_again", t.lang), t.lang)
            return
        if form is not None:
            parsed = ratings.read_form(form)
            if parsed is None:
                self._reply(queue, str(msg["from"]), text("rating_invalid", t.lang), t.lang)
                return
        assert parsed is not None
        await self.outbox.archive_only(t, msg, "customer", "")
        try:
            await self.engine.rate(t.id, parsed[0], parsed[1], msg["from"].bare)
        except StanzaError as error:
            if error.condition != "conflict":
                raise
            self._reply(queue, str(msg["from"]), text("rating_again", t.lang), t.lang)
            return
        self._reply(queue, str(msg["from"]), text("rating_thanks", t.lang), t.lang)

    # -- customers whose ticket waits for them ---------------------------------------------------------
    async def customer_message(self, t: Ticket, msg: Message, body: str) -> bool:
        """True when handled here; False leaves the message to the plugin (e.g. "bye" during the form)."""
        engine = self.engine
        sender = msg["from"]
        bye = body.lower() in BYE_WORDS
        if t.state == "prechat":
            if bye:
                return False
            await self.outbox.archive_only(t, msg, "customer", "")
            await self._prechat(t, msg, body)
            return True
        if t.state == "pending" and bye:
            await self.outbox.archive_only(t, msg, "customer", "")
            await engine.close(t.id, sender.bare, "customer")
            return True
        if t.state in ("pending", "offline"):
            await self.outbox.archive_only(t, msg, "customer", "")
            if body and not bye and engine.accepting(t.queue):
                await engine.requeue(t.id, str(sender))
            return True
        return False

    async def _prechat(self, t: Ticket, msg: Message, body: str) -> None:
        q = self.engine.queues[t.queue]
        submitted = stanza.submitted_form(msg.xml, stanza.PRECHAT_FORM)
        if submitted is not None:
            accepted, errors = prechat.read_form(submitted, prechat.missing(q.join_form, t.form),
                                                 q.join_form_optional)
            await self.engine.prechat_answers(t.id, accepted, errors[0][1] if errors else "")
            return
        missing = prechat.missing(q.join_form, t.form)
        if not body or not missing:
            return  # a chat state or a receipt
        var = missing[0]
        value, error = prechat.answer(var, body, var in q.join_form_optional)
        await self.engine.prechat_answers(t.id, {var: value} if value is not None else {}, error or "")

    # -- ticket listings (the /tickets command) ---------------------------------------------------
    async def listing(self, queues: list[str], arg: str, lang: str) -> str:
        search = tickets.parse_search(arg)
        if not search.statuses and not search.text and not search.tags:
            search.statuses = ["open", "waiting", "active", "pending"]
        found = await self.engine.store.search(queues, search)
        if not found:
            return text("tickets_none", lang)
        now = self.engine.now()
        lines = [text("tickets_found", lang, count=len(found))]
        lines += [tickets.line(self.engine.tickets.get(t.id, t), lang, now) for t in found[:LISTING_MAX]]
        return "\n".join(lines)

    # -- discovery ----------------------------------------------------------------------------------------
    def queue_info(self, queue: str, lang: str) -> Any:
        """XEP-0128 extended information of a queue JID: open or closed now, hours, next opening."""
        engine = self.engine
        calendar = engine.calendars[queue]
        form = new_form(form_type="result", form_type_value=stanza.QUEUE_INFO_FORM)
        form.add_field(var="status", value="open" if engine.accepting(queue) else "closed")
        form.add_field(var="hours", value=calendar.describe(lang))
        form.add_field(var="timezone", value=calendar.timezone)
        opens = calendar.next_open(engine.hours_clock())
        if opens is not None and not engine.accepting(queue) and engine.queues[queue].open \
                and queue not in engine.hours_override:
            form.add_field(var="opens", value=stanza.xep0082(opens))
        form.add_field(var="waiting", value=str(engine.summary(queue)["count"]))
        return form
