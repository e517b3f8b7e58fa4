"""Wiring of the support queue: stanzas in -> engine -> stanzas out.

JIDs of the service domain:
- ``<queue>@domain``: customers write here (plain chat or XEP-0142 IQs); agents
  send their presence here;
- ``t-<ticket>@domain``: one conversation as the agents see it.
"""

from __future__ import annotations

from typing import Any

from slixmpp import JID, Iq, Message, Presence
from slixmpp.plugins.xep_0004.stanza import Form

from component import namespaces as xmlns
from component.errors import StanzaError
from component.plugin import Plugin
from component.storage import create_tables

from . import commands as cmds
from . import hooks as events
from . import ops_commands, prechat, stanza, tickets
from .hours import HoursError
from .model import LEAVABLE_STATES, Ticket
from .ops import CUSTOMER_TURN, Operations
from .options import SupportOptions
from .outbox import StanzaOutbox
from .engine import JoinRefused, SupportEngine
from .store import TABLES, SupportStore, upgrade_tickets
from .texts import ACCEPT_WORDS, BYE_WORDS, REJECT_WORDS, pick_lang, text

DISCO_INFO = xmlns.DISCO_INFO
DISCO_ITEMS = xmlns.DISCO_ITEMS
COMMANDS = xmlns.COMMANDS
MAM = xmlns.MAM


XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def message_lang(msg: Message) -> str:
    """The language the customer wrote in: the body's xml:lang, else the message's own attribute.

    Not slixmpp's ``msg["lang"]``, which falls back to the stream's default.
    """
    for child in msg.xml:
        if child.tag.endswith("}body") and child.get(XML_LANG):
            return child.get(XML_LANG) or ""
    return msg.xml.get(XML_LANG) or ""


class SupportPlugin(Plugin):
    name = "support"
    depends = ("mam",)
    Options = SupportOptions
    identities = (("collaboration", "workgroup", "Support"),)
    features = (stanza.WG, stanza.NS)
    migrations = (create_tables(*TABLES), upgrade_tickets)

    async def setup(self) -> None:
        names = [q.name for q in self.options.queues]
        if len(set(names)) != len(names) or any(n.startswith("t-") or not n for n in names):
            raise ValueError("support queues need distinct names that do not start with 't-'")
        for q in self.options.queues:
            if set(q.join_form) & set(prechat.RESERVED) or len(set(q.join_form)) != len(q.join_form):
                raise ValueError(f"support queue {q.name}: join_form fields must be distinct and not "
                                 f"{', '.join(prechat.RESERVED)}")
            if not set(q.join_form_optional) <= set(q.join_form):
                raise ValueError(f"support queue {q.name}: join_form_optional names fields not in join_form")
        self.store = SupportStore(self.db)
        self.outbox = StanzaOutbox(self.service, self.options)
        try:
            self.engine = SupportEngine(self.options, self.service.domain, self.store, self.outbox, self.hooks,
                                        is_admin=self.service.is_admin)
        except HoursError as error:
            raise ValueError(f"support queue business hours: {error}") from error
        self.outbox.engine = self.engine
        self.ops = Operations(self)
        await self.engine.load()
        self.hooks.provide(events.SERVICE, SupportFacade(self))
        s = self.service
        s.on_message(self.on_message)
        s.on_presence(self.on_presence)
        wg = lambda name: f"{{{stanza.WG}}}{name}"  # noqa: E731
        s.on_iq(wg("join-queue"), self.on_join_queue, types=("get", "set"))
        s.on_iq(wg("depart-queue"), self.on_depart_queue, types=("set",))
        s.on_iq(wg("queue-status"), self.on_queue_status, types=("get",))
        s.on_iq(wg("offer-accept"), self.on_offer_answer, types=("set",))
        s.on_iq(wg("offer-reject"), self.on_offer_answer, types=("set",))
        s.on_iq(wg("agent-status-request"), self.on_agent_status_request, types=("get",))
        for name in ("close", "transfer", "note"):
            s.on_iq(f"{{{stanza.NS}}}{name}", self.on_session_iq, types=("set",))
        s.on_iq(f"{{{DISCO_INFO}}}query", self.on_disco_info, types=("get",), priority=10)
        s.on_iq(f"{{{DISCO_ITEMS}}}query", self.on_disco_items, types=("get",), priority=10)
        self.hooks.on("commands.owns", self.owns_command)
        self.hooks.on("disco.items", self.domain_items)
        self.hooks.on("mam.access", self.mam_access)
        self.hooks.on("admin.rights", self.admin_rights)
        self.hooks.on("admin.stats", self.admin_stats)
        self.hooks.on(events.STAFF_COMMAND, self.ops.staff_command)
        for command in (*cmds.ALL, *ops_commands.ALL):
            s.commands.register(command(self))

    async def on_connected(self) -> None:
        await self.engine.resume()
        self.ops.start()

    async def stop(self) -> None:
        await self.ops.stop()
        await self.engine.stop()

    # -- addressing ---------------------------------------------------------------------
    def _queue_of(self, jid: JID) -> str | None:
        if jid.domain != self.service.domain or jid.resource:
            return None
        return jid.user if jid.user in self.engine.queues else None

    def _ticket_of(self, jid: JID) -> str | None:
        if jid.domain != self.service.domain or not jid.user:
            return None
        return self.engine.ticket_id_of(jid.user)

    def _ours(self, jid: JID) -> bool:
        return bool(self._queue_of(jid) or self._ticket_of(jid))

    # -- messages ---------------------------------------------------------------------------
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

    # -- presence ---------------------------------------------------------------------------
    async def on_presence(self, pres: Presence) -> Any:
        to = pres["to"]
        if not self._ours(to):
            return None
        queue = self._queue_of(to)
        ptype = pres["type"]
        if queue is None or ptype == "error":
            return True
        sender = pres["from"]
        engine = self.engine
        queue_jid = engine.queue_jid(queue)
        if ptype == "subscribe":
            self.service.xmpp.send_presence(pto=sender.bare, pfrom=queue_jid, ptype="subscribed")
            self._queue_presence(queue, sender.bare)
            return True
        if ptype == "unsubscribe":
            self.service.xmpp.send_presence(pto=sender.bare, pfrom=queue_jid, ptype="unsubscribed")
            return True
        if ptype == "probe":
            self._queue_presence(queue, str(sender))
            return True
        if ptype in ("subscribed", "unsubscribed"):
            return True
        available = ptype != "unavailable"
        if engine.is_agent(queue, sender.bare):
            show = (pres["show"] or "") if available else None
            if show not in (None, "", "chat", "away", "xa", "dnd"):
                show = ""
            await engine.agent_presence(queue, str(sender), show, stanza.parse_max_chats(pres.xml))
            if available:
                self._queue_presence(queue, str(sender), agent=True)
        else:
            await engine.customer_seen(str(sender), available)
        return True

    def _queue_presence(self, queue: str, to: str, agent: bool = False) -> None:
        """The queue's own presence; agents also get XEP-0142 notify-queue and notify-agents."""
        pres = self.service.xmpp.make_presence(pto=to, pfrom=self.engine.queue_jid(queue))
        if not self.engine.accepting(queue):
            pres["show"] = "xa"
        if agent:
            summary = self.engine.summary(queue)
            pres.append(stanza.notify_queue(summary["count"], summary["oldest"], summary["time"], summary["status"]))
            pres.append(stanza.notify_agents(summary["available"], summary["current_chats"], summary["max_chats"]))
        self.service.send(pres)

    # -- XEP-0142 IQs -----------------------------------------------------------------------
    def _queue_or_error(self, iq: Iq) -> str | None:
        to = iq["to"]
        if to.domain != self.service.domain or not to.user:
            return None
        queue = self._queue_of(to)
        if queue is None:
            if self._ticket_of(to):
                raise StanzaError("bad-request", "send workgroup requests to the queue address")
            raise StanzaError("item-not-found", "there is no queue at this address")
        return queue

    def _join_form(self, queue: str, lang: str) -> Form:
        q = self.engine.queues[queue]
        zh = lang.startswith("zh")
        return prechat.build_form(q.join_form, q.join_form_optional, {}, lang,
                                  "请填写以下信息" if zh else "Before you join",
                                  "请填写后再排队。" if zh else "Please fill in these fields to join the queue.")

    async def on_join_queue(self, iq: Iq) -> Any:
        queue = self._queue_or_error(iq)
        if queue is None:
            return None
        q = self.engine.queues[queue]
        lang = pick_lang(iq.xml.get(XML_LANG), q.default_lang)
        payload = iq.xml.find(f"{{{stanza.WG}}}join-queue")
        if iq["type"] == "get":
            reply = iq.reply()
            el = stanza.join_queue_element()
            if q.join_form:
                el.append(self._join_form(queue, lang).xml)
            reply.append(el)
            return reply
        values: dict[str, str] = {}
        submitted = payload.find(f"{{{stanza.DATA}}}x") if payload is not None else None
        if q.join_form:
            if submitted is None:
                raise StanzaError("not-acceptable", "this queue needs a form: fetch it with an IQ get of join-queue")
            given = {f.get("var") or "": [v.text or "" for v in f.findall(f"{{{stanza.DATA}}}value")]
                     for f in submitted.findall(f"{{{stanza.DATA}}}field")}
            values, errors = prechat.read_form(given, q.join_form, q.join_form_optional)
            if errors:
                var, key = errors[0]
                raise StanzaError("not-acceptable", f"the field {var} is required" if key == "prechat_required"
                                  else f"the field {var}: {text(key, 'en').rstrip('.')}")
        bare = iq["from"].bare
        existing = self.engine.open_ticket(queue, bare)
        if existing is not None and existing.state in ("pending", "offline"):
            # The customer is back for a ticket that waits for them: queue it (out of hours it keeps waiting).
            if not self.engine.accepting(queue):
                raise JoinRefused("hours", "service-unavailable", "this queue is closed outside its business hours")
            await self.engine.requeue(existing.id, str(iq["from"]))
            return iq.reply()
        reopen = None if existing is not None or not self.engine.accepting(queue) \
            else await self.engine.reopenable(queue, bare)
        if reopen is not None:
            await self.engine.reopen(reopen.id, str(iq["from"]))
            return iq.reply()
        notify = payload is not None and payload.find(f"{{{stanza.WG}}}queue-notifications") is not None
        await self.engine.join(queue, str(iq["from"]), lang, "iq", notify, "", values)
        return iq.reply()

    async def on_depart_queue(self, iq: Iq) -> Any:
        queue = self._queue_or_error(iq)
        if queue is None:
            return None
        requester = iq["from"]
        who = (iq.xml.find(f"{{{stanza.WG}}}depart-queue").findtext(f"{{{stanza.WG}}}jid") or "").strip()
        customer = JID(who).bare if who else requester.bare
        if customer != requester.bare and not self.engine.is_supervisor(queue, requester.bare):
            raise StanzaError("not-authorized", "only supervisors remove other customers from the queue")
        t = self.engine.open_ticket(queue, customer)
        if t is None or t.state not in LEAVABLE_STATES:
            raise StanzaError("item-not-found", "this customer is not waiting in the queue")
        await self.engine.leave(t.id, "depart" if customer == requester.bare else "removed", requester.bare)
        return iq.reply()

    async def on_queue_status(self, iq: Iq) -> Any:
        queue = self._queue_or_error(iq)
        if queue is None:
            return None
        t = self.engine.open_ticket(queue, iq["from"].bare)
        if t is None or t.state not in ("queued", "offered"):
            raise StanzaError("not-authorized", "you are not waiting in this queue")
        reply = iq.reply()
        reply.append(stanza.queue_status(*self.engine.status(t)))
        return reply

    async def on_offer_answer(self, iq: Iq) -> Any:
        queue = self._queue_or_error(iq)
        if queue is None:
            return None
        payload = next(c for c in iq.xml if c.tag.startswith(f"{{{stanza.WG}}}"))
        agent = iq["from"]
        if not any(self.engine.is_agent(q, agent.bare) for q in self.engine.queues):
            raise StanzaError("forbidden", "only agents answer offers")
        customer = (payload.get("jid") or "").strip()
        if not customer:
            raise StanzaError("bad-request", "the offer answer names the customer in its jid attribute")
        ticket_el = payload.find(f"{{{stanza.NS}}}ticket")
        matches = [t for t in self.engine.pending_offers(agent.bare)
                   if (ticket_el is not None and t.id == ticket_el.get("id"))
                   or t.customer_jid == customer or t.customer == JID(customer).bare]
        if not matches:
            raise StanzaError("item-not-found", "there is no pending offer for that customer")
        if payload.tag.endswith("offer-accept"):
            await self.engine.accept(matches[0].id, str(agent))
        else:
            await self.engine.reject(matches[0].id, str(agent))
        return iq.reply()

    async def on_agent_status_request(self, iq: Iq) -> Any:
        queue = self._queue_or_error(iq)
        if queue is None:
            return None
        bare = iq["from"].bare
        if not (self.engine.is_agent(queue, bare) or self.engine.is_supervisor(queue, bare)):
            raise StanzaError("forbidden", "only the queue's agents see its agents")
        reply = iq.reply()
        el = stanza.agent_list([a for a in self.engine.queues[queue].agents if a != bare])
        reply.append(el)
        return reply

    async def on_session_iq(self, iq: Iq) -> Any:
        to = iq["to"]
        if to.domain != self.service.domain:
            return None
        ticket_id = self._ticket_of(to)
        if ticket_id is None:
            if self._queue_of(to):
                raise StanzaError("bad-request", "send conversation requests to the conversation address")
            return None
        t = self.engine.tickets.get(ticket_id)
        bare = iq["from"].bare
        if t is None:
            raise StanzaError("item-not-found", "no open conversation at this address")
        if self.engine.role(t, bare) not in ("agent", "supervisor"):
            raise StanzaError("forbidden", "only the conversation's agent or a supervisor may do this")
        payload = next(c for c in iq.xml if c.tag.startswith(f"{{{stanza.NS}}}"))
        kind = payload.tag.split("}", 1)[1]
        if kind == "close":
            await self.engine.close(t.id, bare, (payload.findtext(f"{{{stanza.NS}}}reason") or "resolved")[:64])
        elif kind == "transfer":
            target, _reason = stanza.parse_transfer(payload)
            await self.engine.transfer(t.id, bare, target)
        else:
            await self.engine.note(t.id, bare, payload.text or "")
        return iq.reply()

    # -- discovery, commands, archive access, rights ---------------------------------------------
    async def on_disco_info(self, iq: Iq) -> Any:
        to = iq["to"]
        if not self._ours(to) or iq["disco_info"]["node"]:
            if self._ours(to):
                return await self._command_node_info(iq)
            return None
        reply = iq.reply()
        info = reply["disco_info"]
        queue = self._queue_of(to)
        if queue:
            info.add_identity("collaboration", "workgroup", name=self.engine.queue_title(queue))
            for feature in (DISCO_INFO, DISCO_ITEMS, stanza.WG, stanza.NS, COMMANDS, MAM):
                info.add_feature(feature)
            # XEP-0128: whether the queue is open now, its hours, when it opens next.
            info.xml.append(self.ops.queue_info(queue, pick_lang(iq.xml.get(XML_LANG), "en")).xml)
            return reply
        ticket_id = self._ticket_of(to) or ""
        t = await self.engine.ticket(ticket_id)
        if t is None:
            raise StanzaError("item-not-found", "there is no conversation at this address")
        info.add_identity("client", "bot", name=f"Ticket {t.id}")
        for feature in (DISCO_INFO, DISCO_ITEMS, stanza.NS, COMMANDS, MAM, xmlns.CHAT_MARKERS,
                        xmlns.CHATSTATES, xmlns.RECEIPTS, xmlns.CORRECT):
            info.add_feature(feature)
        return reply

    async def _command_node_info(self, iq: Iq) -> Any:
        cmds.TARGET.set(iq["to"])
        reply = iq.reply()
        info = reply["disco_info"]
        info["node"] = iq["disco_info"]["node"]
        if not await self.service.commands.node_info(iq, info):
            raise StanzaError("item-not-found", "no such node")
        return reply

    async def on_disco_items(self, iq: Iq) -> Any:
        to = iq["to"]
        if not self._ours(to):
            return None
        node = iq["disco_items"]["node"]
        reply = iq.reply()
        items = reply["disco_items"]
        if node == COMMANDS:
            items["node"] = node
            cmds.TARGET.set(to)
            for command in await self.service.commands.visible_to(iq["from"]):
                items.add_item(to, node=command.node, name=command.title(iq["lang"]))
            return reply
        if node:
            raise StanzaError("item-not-found", "no such node")
        queue = self._queue_of(to)
        if queue and self.engine.is_supervisor(queue, iq["from"].bare):
            for t in self.engine.tickets.values():
                if t.queue == queue:
                    items.add_item(JID(self.engine.session_jid(t.id)), name=f"{t.id} {t.state} {t.customer}")
        return reply

    async def owns_command(self, iq: Iq) -> Any:
        if not self._ours(iq["to"]):
            return None
        cmds.TARGET.set(iq["to"])
        return True

    async def domain_items(self, iq: Iq) -> Any:
        if iq["disco_items"]["node"]:
            return None
        return [(JID(self.engine.queue_jid(name)), None, self.engine.queue_title(name)) for name in self.engine.queues]

    async def mam_access(self, request: Any) -> Any:
        from plugins.mam.hooks import ArchiveAccess

        to = JID(request.to)
        if to.domain != self.service.domain:
            return None
        requester = JID(request.requester).bare
        queue = self._queue_of(to)
        if queue:
            t = self.engine.open_ticket(queue, requester) or await self.store.latest_ticket(queue, requester)
            if t is None:
                return None
            return ArchiveAccess(self.engine.session_jid(t.id), True, False)
        ticket_id = self._ticket_of(to)
        if ticket_id is None:
            return None
        t = await self.engine.ticket(ticket_id)
        if t is None:
            return None
        archive = self.engine.session_jid(t.id)
        if requester == t.customer:
            return ArchiveAccess(archive, True, False)
        if requester in t.agents_seen or self.engine.is_supervisor(t.queue, requester) \
                or self.engine.is_supervisor(t.entry, requester):
            return ArchiveAccess(archive, True, True)
        return ArchiveAccess(archive, False, False, "this conversation is not yours")

    async def admin_rights(self, query: Any) -> Any:
        if getattr(query, "kind", "") != "queue":
            return None
        return [name for name, q in self.engine.queues.items() if query.requester in q.supervisors]


    async def admin_stats(self, _request: Any) -> dict[str, int]:
        """Figures for the admin plugin's service statistics."""
        tickets = self.engine.tickets.values()
        agents = {a.jid for q in self.engine.agents.values() for a in q.values() if a.tier() is not None}
        return {"queued_customers": sum(1 for t in tickets if t.state in ("queued", "offered")),
                "active_conversations": sum(1 for t in tickets if t.state == "active"),
                "agents_online": len(agents)}


class SupportFacade:
    """The public service (``hooks.service("support")``) for the bot, tickets and admin plugins."""

    def __init__(self, plugin: SupportPlugin) -> None:
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

    def summary(self, queue: str) -> dict[str, Any]:
        return self.engine.summary(queue)

    def queue_title(self, name: str) -> str:
        return self.engine.queue_title(name)

    def agents(self, queue: str) -> list[dict[str, Any]]:
        """The queue's agents now (read-only, for monitors): presence, capacity and load.

        ``show`` is the routed (else latest) resource's show ("" = available), None when offline;
        ``routable``: offers may go to them; ``load``: conversations held or offered.
        """
        q = self.engine.queues[queue]
        present = self.engine.agents.get(queue, {})
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

    async def ticket_events(self, since: float, until: float, queue: str | None = None,
                            starts: tuple[str, ...] = ("created",)) -> list[tuple[str, str, str, float, str, dict]]:
        """Every recorded event of the tickets started in [since, until) (see SupportStore.ticket_events)."""
        return await self.engine.store.ticket_events(since, until, queue, starts)

    def waiting_count(self) -> int:
        return sum(1 for t in self.engine.tickets.values() if t.state in ("queued", "offered"))

    async def rebind_customer(self, ticket_id: str, customer_jid: str) -> Ticket:
        """An open ticket's customer continues from a new full JID (ownership proven by the caller)."""
        return await self.engine.rebind_customer(ticket_id, customer_jid)

    async def enqueue(self, ticket_id: str, priority: int | None = None) -> Ticket:
        """Hand a customer the bot was serving to the queue."""
        return await self.engine.enqueue(ticket_id, priority)

    async def say(self, ticket_id: str, body: str, role: str = "bot", name: str = "") -> None:
        """Write to the customer from the queue address (archived in the conversation)."""
        t = self.engine.tickets.get(ticket_id)
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
