"""Messages to our JIDs: customers at a queue address, staff at a queue address, agents and supervisors
in a conversation window (``t-<ticket>@domain``): relay, offer answers and chat commands."""

from __future__ import annotations

from typing import Any, Callable

from slixmpp import Message

from component.errors import StanzaError, means_gone

from . import hooks as events
from . import receipts
from .commands import REGISTRY
from .declare import QUEUE, SESSION, Alias, Call, Declaration, parse_chat
from .engine import JoinRefused
from .model import LEAVABLE_STATES, Ticket
from .ops import CUSTOMER_TURN
from .texts import BYE_WORDS, pick_lang, text

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: Conversation commands served from the stored ticket by a process that does not hold it.
FROM_STORE = ("note", "tickets", "help")


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
        if msg["type"] == "error":
            await self.bounced(msg)
            return True
        if msg["type"] in ("groupchat", "headline"):
            return True
        queue = self._queue_of(to)
        if queue:
            await self._adopt_for(msg, queue)
            if self.peer_stanza(msg):
                return True
            await self._queue_message(msg, queue)
        else:
            await self._session_message(msg, self._ticket_of(to) or "")
        return True

    async def bounced(self, stanza: Any) -> None:
        """The server returned something we sent (remote server unreachable, account gone).

        An agent's address counts as offline; a customer's starts the same grace period as an
        unavailable presence while they wait, and is told to their agent once they are in a
        conversation. Errors are never answered, so nothing loops.
        """
        if not means_gone(stanza.xml):
            return
        sender = stanza["from"]
        engine = self.engine
        agent_queues = [q for q in engine.queues if engine.is_agent(q, sender.bare)]
        self.log.info("bounce from a participant", extra={"from_domain": sender.domain, "agent": bool(agent_queues)})
        for queue in agent_queues:
            await engine.agent_presence(queue, str(sender), None)
        if agent_queues:
            self.outbox.forget_client(str(sender))
        if not agent_queues:
            await engine.customer_seen(str(sender), False)
            await engine.customer_unreachable(str(sender))

    async def _queue_message(self, msg: Message, queue: str) -> None:
        engine = self.engine
        sender = msg["from"]
        bare = sender.bare
        body = (msg["body"] or "").strip()
        t = await engine.lookup.customer_ticket(queue, bare)
        if t is None and (engine.is_agent(queue, bare) or engine.is_supervisor(queue, bare)):
            await self._staff_at_queue(msg, queue, body)
            return
        if t is not None and await self.ops.late_rating(msg, queue):
            return
        if t is not None and await self.outbox.stored_before(t, msg):
            # Sent again (no receipt reached the customer: a restart, a lost connection): kept once.
            self.log.info("resent message kept once", extra={"ticket": t.id})
            self.outbox.acknowledge(msg)
            return
        if t is None:
            lang = pick_lang(message_lang(msg), engine.queues[queue].default_lang)
            if await self.ops.customer_without_ticket(msg, queue, body):
                return  # a rating, a thank-you, or their resolved ticket reopened
            if not body or body.lower() in BYE_WORDS:
                return  # chat states, receipts, a goodbye: nothing to open a ticket for
            try:
                t = await engine.join(queue, str(sender), lang, "chat", True, body,
                                      on_created=lambda new: self.outbox.archive_only(new, msg, "customer", ""),
                                      first_id=receipts.client_key(msg.xml))
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
        if t.id not in engine.tickets:
            # Its queue is served by another process (a transfer): a conversation is relayed from the
            # stored ticket; anything that changes the ticket is its owner's.
            if t.state == "active" and t.agent:
                await self.outbox.relay(t, msg, "customer", "", await engine.lookup.watchers(t.id))
            else:
                self.hand_off(msg, t)
            return
        if t.customer_jid != str(sender) and t.state in LEAVABLE_STATES:
            await engine.customer_seen(str(sender), True)
        if t.state in CUSTOMER_TURN and await self.ops.customer_message(t, msg, body):
            return
        if t.state == "active":
            t.customer_jid = str(sender)  # answers go to the device the customer uses now
            t.offline_since = None  # reachable again: a later bounce is told to the agent again
            await self.outbox.relay(t, msg, "customer", "")
            return
        if body.lower() in BYE_WORDS:
            await engine.leave(t.id, "bye", bare)
            self.outbox.acknowledge(msg)  # its effect, the departure, is stored
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
        """An agent or supervisor writing to the queue JID: answer their one pending offer, run a declared
        queue command, or pass it on (``support.staff_command``); nobody answering: the queue's help."""
        engine = self.engine
        if not body:
            return
        sender = msg["from"]
        lang = pick_lang(message_lang(msg), engine.queues[queue].default_lang)
        found = REGISTRY.by_word(SESSION, body.lower(), bare=True)
        if found is not None:
            pending = [t for t in engine.pending_offers(sender.bare) if t.queue == queue]
            if len(pending) == 1:
                await self._run_chat(found[0], found[1], "", str(sender), pending[0], "", engine.agent_lang(pending[0]),
                                     lambda said: self.outbox.session_notice(pending[0], str(sender), said))
                return
        parsed = parse_chat(body)
        found = REGISTRY.by_word(QUEUE, parsed[0]) if parsed else None
        if found is not None and parsed is not None:
            def reply(said: str) -> None:
                self.service.send(self.outbox.message(engine.queue_jid(queue), str(sender), said, lang))

            await self._run_chat(found[0], found[1], parsed[1], str(sender), None, queue, lang, reply)
            return
        answer = await self.hooks.fire(events.STAFF_COMMAND, events.StaffCommand(
            queue, str(sender), body, lang, engine.is_supervisor(queue, sender.bare)))
        if answer is True:
            return
        reply_text = answer if isinstance(answer, str) else text("queue_help", lang, queue=engine.queue_title(queue))
        self.service.send(self.outbox.message(engine.queue_jid(queue), str(sender), reply_text, lang))

    async def _run_chat(self, d: Declaration, alias: Alias, argument: str, actor: str, t: Ticket | None, queue: str,
                        lang: str, say: Callable[[str], None]) -> None:
        """One declared command typed in a chat: rights, the argument, the handler; its answer or its
        refusal said back in the same window."""
        role = REGISTRY.role_of(self, d, actor.split("/", 1)[0], t, queue)
        if role is None:
            say(text("command_refused", lang, command="/" + alias.word))
            return
        values = REGISTRY.chat_values(d, alias, argument)
        if REGISTRY.missing(d, values) and d.usage:
            say(d.usage_in(lang))
            return
        try:
            said = await REGISTRY.run(d, Call(self, actor, role, lang, "chat", values, t, queue))
        except StanzaError as error:
            if error.condition == "forbidden":
                raise  # rights are answered as an error, as for any stanza
            say(f"⚠ {error.text}")
            return
        if said:
            say(said)

    async def _session_message(self, msg: Message, ticket_id: str) -> None:
        """An agent, a supervisor or an agent offered the ticket writes in the conversation's window.

        Served from the ticket as stored (lookup.py) when this process does not hold it: a message of
        the conversation is relayed, a note kept; what changes the ticket goes to its queue's owner.
        """
        engine = self.engine
        sender = msg["from"]
        bare = sender.bare
        t = await engine.lookup.get(ticket_id)
        if t is None or not t.is_open:
            if t is None or engine.role(t, bare) is None:
                raise StanzaError("item-not-found", "there is no conversation at this address")
            raise StanzaError("not-allowed", "this conversation is closed")
        role = engine.role(t, bare)
        body = (msg["body"] or "").strip()
        lang = engine.agent_lang(t)
        if role is None:
            raise StanzaError("forbidden", "this conversation is not yours")
        if role == "customer":
            raise StanzaError("forbidden", "customers write to the queue address; these commands are for agents")
        if t.id not in engine.tickets:
            await self._session_elsewhere(msg, t, role, body)
            return

        def say(said: str) -> None:
            self.outbox.session_notice(t, str(sender), said)

        if role == "offered":
            found = REGISTRY.by_word(SESSION, body.lower(), bare=True)
            if found is not None:
                await self._run_chat(found[0], found[1], "", str(sender), t, "", lang, say)
            elif body:
                say(text("offer_reminder", lang, ticket=t.id))
            return
        parsed = parse_chat(body) if body else None
        if parsed:
            found = REGISTRY.by_word(SESSION, parsed[0])
            if found is None:
                say(text("unknown_command", lang, command="/" + parsed[0]))
            else:
                await self._run_chat(found[0], found[1], parsed[1], str(sender), t, "", lang, say)
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

    async def _session_elsewhere(self, msg: Message, t: Ticket, role: str, body: str) -> None:
        """A conversation whose ticket this process does not hold (its queue is served by another one)."""
        bare = msg["from"].bare
        name = bare.split("@", 1)[0]
        parsed = parse_chat(body) if body else None
        found = REGISTRY.by_word(SESSION, parsed[0]) if parsed else None
        if found is not None and found[0].name in FROM_STORE:
            lang = self.engine.agent_lang(t)
            await self._run_chat(found[0], found[1], parsed[1] if parsed else "", str(msg["from"]), t, "", lang,
                                 lambda said: self.outbox.session_notice(t, str(msg["from"]), said))
            return
        if parsed is None and t.state == "active":
            watchers = await self.engine.lookup.watchers(t.id)
            if role == "agent" and (t.first_response_at is not None or not body):
                await self.outbox.relay(t, msg, "agent", name, watchers)
                return
            if role == "supervisor" and watchers.get(bare) == "open":
                await self.outbox.relay(t, msg, "supervisor", name, watchers)
                return
        # Commands, offer answers, the agent's first answer (recorded): the owner's.
        self.hand_off(msg, t)
