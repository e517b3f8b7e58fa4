"""Messages to our JIDs: customers at a queue address, staff at a queue address, agents and supervisors
in a conversation window (``t-<ticket>@domain``): relay, offer answers and chat commands."""

from __future__ import annotations

from typing import Any

from slixmpp import Message

from component.errors import StanzaError

from . import commands as cmds
from . import hooks as events
from .engine import JoinRefused
from .model import LEAVABLE_STATES, Ticket
from .ops import CUSTOMER_TURN
from .texts import ACCEPT_WORDS, BYE_WORDS, REJECT_WORDS, pick_lang, text

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def message_lang(msg: Message) -> str:
    """The language the customer wrote in: the body's xml:lang, else the message's own attribute.

    Not slixmpp's ``msg["lang"]``, which falls back to the stream's default.
    """
    for child in msg.xml:
        if child.tag.endswith("}body") and child.get(XML_LANG):
            return child.get(XML_LANG) or ""
    return msg.xml.get(XML_LANG) or ""



class ChatSurface:
    """Message handling of :class:`~.plugin.SupportPlugin`."""

    async def on_message(self, msg: Message) -> Any:
        to = msg["to"]
        if not self._ours(to):
            return None
        if msg["type"] in ("error", "groupchat", "headline"):
            return True
        queue = self._queue_of(to)
        if queue:
            await self._queue_message(msg, queue)
        else:
            await self._session_message(msg, self._ticket_of(to) or "")
        return True

    async def _queue_message(self, msg: Message, queue: str) -> None:
        engine = self.engine
        sender = msg["from"]
        bare = sender.bare
        body = (msg["body"] or "").strip()
        t = engine.open_ticket(queue, bare)
        if t is None and (engine.is_agent(queue, bare) or engine.is_supervisor(queue, bare)):
            await self._staff_at_queue(msg, queue, body)
            return
        if t is not None and await self.ops.late_rating(msg, queue):
            return
        if t is None:
            lang = pick_lang(message_lang(msg), engine.queues[queue].default_lang)
            if await self.ops.customer_without_ticket(msg, queue, body):
                return  # a rating, a thank-you, or their resolved ticket reopened
            if not body or body.lower() in BYE_WORDS:
                return  # chat states, receipts, a goodbye: nothing to open a ticket for
            try:
                t = await engine.join(queue, str(sender), lang, "chat", True, body,
                                      on_created=lambda new: self.outbox.archive_only(new, msg, "customer", ""))
            except JoinRefused as refused:
                key = {"closed": "closed_queue", "full": "full_queue"}.get(refused.reason)
                if refused.reason == "hours":
                    body = self.outbox.out_of_hours(queue, lang) + "\n" + text("come_back", lang)
                elif key is None:
                    raise
                else:
                    body = text(key, lang, queue=engine.queue_title(queue))
                self.service.send(self.outbox.message(engine.queue_jid(queue), str(sender), body, lang))
            return
        if t.customer_jid != str(sender) and t.state in LEAVABLE_STATES:
            await engine.customer_seen(str(sender), True)
        if t.state in CUSTOMER_TURN and await self.ops.customer_message(t, msg, body):
            return
        if t.state == "active":
            t.customer_jid = str(sender)  # answers go to the device the customer uses now
            await self.outbox.relay(t, msg, "customer", "")
            return
        if body.lower() in BYE_WORDS:
            await engine.leave(t.id, "bye", bare)
            return
        await self.outbox.archive_only(t, msg, "customer", "")
        if t.state == "bot" and body:
            try:
                taken = await self.hooks.fire(events.BOT_MESSAGE, events.CustomerMessage(
                    t.id, queue, str(sender), body, t.lang, msg))
            except Exception:  # noqa: BLE001 - a failing bot hands the customer to the people
                self.log.exception("bot_message handler failed", extra={"ticket": t.id})
                taken = None
            if taken is None:
                await engine.enqueue(t.id)

    async def _staff_at_queue(self, msg: Message, queue: str, body: str) -> None:
        """An agent or supervisor writing to the queue JID: answer pending offers, or explain."""
        engine = self.engine
        word = body.lower()
        lang = engine.queues[queue].default_lang
        if not body:
            return
        if word in ACCEPT_WORDS | REJECT_WORDS:
            pending = [t for t in engine.pending_offers(msg["from"].bare) if t.queue == queue]
            if len(pending) == 1:
                if word in ACCEPT_WORDS:
                    await engine.accept(pending[0].id, str(msg["from"]))
                else:
                    await engine.reject(pending[0].id, str(msg["from"]))
                return
        lang = pick_lang(message_lang(msg), lang)
        answer = await self.hooks.fire(events.STAFF_COMMAND, events.StaffCommand(
            queue, str(msg["from"]), body, lang, engine.is_supervisor(queue, msg["from"].bare)))
        if answer is True:
            return
        reply = answer if isinstance(answer, str) else text("queue_help", lang, queue=engine.queue_title(queue))
        self.service.send(self.outbox.message(engine.queue_jid(queue), str(msg["from"]), reply, lang))

    async def _session_message(self, msg: Message, ticket_id: str) -> None:
        engine = self.engine
        sender = msg["from"]
        bare = sender.bare
        t = engine.tickets.get(ticket_id)
        if t is None:
            stored = await engine.store.ticket(ticket_id)
            if stored is None or engine.role(stored, bare) is None:
                raise StanzaError("item-not-found", "there is no conversation at this address")
            raise StanzaError("not-allowed", "this conversation is closed")
        role = engine.role(t, bare)
        body = (msg["body"] or "").strip()
        lang = engine.agent_lang(t)
        if role is None:
            raise StanzaError("forbidden", "this conversation is not yours")
        if role == "customer":
            raise StanzaError("forbidden", "customers write to the queue address; these commands are for agents")
        if role == "offered":
            word = body.lower()
            if word in ACCEPT_WORDS:
                await engine.accept(t.id, str(sender))
            elif word in REJECT_WORDS:
                await engine.reject(t.id, str(sender))
            elif body:
                self.outbox.session_notice(t, str(sender), text("offer_reminder", lang, ticket=t.id))
            return
        command = cmds.parse_chat_command(body) if body else None
        if command:
            await self._chat_command(t, msg, role, *command)
            return
        if role == "agent":
            await self.outbox.relay(t, msg, "agent", bare.split("@", 1)[0])
            if body:
                await engine.first_response(t)
            return
        # A supervisor: speaks only after joining openly.
        if engine.watchers.get(t.id, {}).get(bare) == "open":
            await self.outbox.relay(t, msg, "supervisor", bare.split("@", 1)[0])
        elif body:
            self.outbox.session_notice(t, str(sender), text("supervisor_help", lang))

    async def _chat_command(self, t: Ticket, msg: Message, role: str, name: str, arg: str) -> None:
        engine = self.engine
        sender = msg["from"]
        bare = sender.bare
        lang = engine.agent_lang(t)

        def say(body: str) -> None:
            self.outbox.session_notice(t, str(sender), body)

        try:
            if name == "help":
                say(text("supervisor_help" if role == "supervisor" else "agent_help", lang))
            elif name == "close":
                await engine.close(t.id, bare)
            elif name == "transfer":
                if not arg:
                    say(text("transfer_usage", lang))
                else:
                    await engine.transfer(t.id, bare, arg)
            elif name == "note":
                if not arg:
                    say(text("note_usage", lang))
                else:
                    await engine.note(t.id, bare, arg)
                    say(text("noted", lang))
            elif name in ("watch", "join", "leave") and role == "supervisor":
                mode = {"watch": "silent", "join": "open", "leave": None}[name]
                await engine.watch(t.id, bare, mode)
                say(text({"watch": "watching", "join": "joined", "leave": "left_watch"}[name], lang, ticket=t.id))
                if mode is not None:
                    await self.outbox.send_history(t, str(sender), label_customer=True)
            elif not await self.ops.chat_command(t, msg, role, name, arg, say):
                say(text("unknown_command", lang, command="/" + name))
        except StanzaError as error:
            if error.condition in ("forbidden",):
                raise
            say(f"⚠ {error.text}")
