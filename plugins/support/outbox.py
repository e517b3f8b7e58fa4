"""Delivery: the engine's :class:`~plugins.support.engine.Outbox` built on stanzas, and the relay.

Customers hear from the queue JID they wrote to; agents and supervisors hear
from the conversation JID ``t-<ticket>@<domain>``, so each customer is a
separate chat window in any client. Offers go as XEP-0142 ``offer`` IQs to
clients that announce the workgroup feature in disco#info, and as a chat
message to every other client (and to one that answers the IQ with an error).
What the archive keeps of a conversation is in :mod:`.transcript`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence
from xml.etree.ElementTree import Element, SubElement

from slixmpp import Message
from slixmpp.exceptions import IqError, IqTimeout

from component import namespaces as xmlns
from component.ids import new_id
from component.logs import request_arrived
from component.slices import SlicedWork

from component.forms import ResultField, result_form
from component.texts import is_zh

from . import prechat, ratings, stanza
from .model import Ticket
from .texts import label, text
from .tickets import status_of
from .clients import AgentClients
from .transcript import ConversationRecord

if TYPE_CHECKING:
    from component.service import Service

    from .engine import SupportEngine

log = logging.getLogger("switchboard.plugins.support")

CLIENT = xmlns.CLIENT
COMPONENT = xmlns.COMPONENT
MESSAGE = f"{{{CLIENT}}}message"
BODY = f"{{{CLIENT}}}body"
XML_LANG = f"{{{xmlns.XML}}}lang"
#: Seconds; 20 and 50 ms are the desk's targets after a close and for a storm's first offers.
OFFER_DELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OFFER_TIMEOUT = 5.0


@dataclass(slots=True, eq=False)
class WaitingOffer:
    """An offer waiting for its client to say what it speaks."""
    ticket: Ticket
    body: str
    since: float | None  # when the stanza that made it arrived (the offer delay metric)
    sent: bool = False


class StanzaOutbox(ConversationRecord, AgentClients):
    def __init__(self, service: "Service", options: Any) -> None:
        self.service = service
        self.options = options
        self.engine: "SupportEngine | None" = None
        self._restoring: dict[str, asyncio.Event] = {}  # see ConversationRecord.restoring
        self._openings = SlicedWork(self._open_conversation, "opening a conversation")
        self._offers_waiting: dict[str, list[WaitingOffer]] = {}  # full JID -> chat offers waiting for its answer
        self._start_clients()
        self.offer_delay = service.app.metrics.histogram(
            "support_offer_delay_seconds", "From the stanza that let a customer be offered (an agent "
            "coming online, an offer answered, a conversation closed, the customer's request) reaching the "
            "component to the offer leaving it: the desk's own share of a customer's wait; the server's "
            "delivery comes on top.", ["domain"], buckets=OFFER_DELAY_BUCKETS)

    # -- building ----------------------------------------------------------------
    def message(self, mfrom: str, mto: str, body: str = "", lang: str = "",
                children: Sequence[Element] = ()) -> Message:
        msg = self.service.xmpp.make_message(mto=mto, mbody=body or None, mtype="chat", mfrom=mfrom)
        msg["id"] = new_id().lower()
        if lang:
            msg["lang"] = lang
        for child in children:
            msg.append(child)
        return msg

    def say(self, mfrom: str, mto: str, body: str = "", lang: str = "", children: Sequence[Element] = (),
            bulk: bool = False) -> None:
        """Send a chat message as ``message`` builds it, without a stanza object (notices go out by the
        thousand in a storm: a slixmpp stanza and its serializer cost most of a customer's join).

        ``bulk``: a notice that may wait while the server is behind, so that offers and answers to
        what somebody just asked overtake it (see component/pacing.py)."""
        msg = Element(MESSAGE, {"type": "chat", "to": mto, "from": mfrom, "id": new_id().lower()})
        if lang:
            msg.set(XML_LANG, lang)
        if body:
            SubElement(msg, BODY).text = body
        msg.extend(children)
        (self.service.send_bulk if bulk else self.service.send_element)(msg)

    def _ticket_el(self, t: Ticket, state: str | None = None) -> Element:
        assert self.engine is not None
        return stanza.ticket(t.id, self.engine.queue_jid(t.queue), state or t.state, self.engine.session_jid(t.id))

    def _entry_jid(self, t: Ticket) -> str:
        assert self.engine is not None
        return self.engine.queue_jid(t.entry or t.queue)

    # -- the engine's Outbox ---------------------------------------------------------
    def customer_notice(self, t: Ticket, body: str, status: tuple[int, int] | None = None,
                        transient: bool = False, update: bool = False) -> None:
        """``transient``: true for a moment only (as a place in the queue is): not kept by the server."""
        children = [self._ticket_el(t)]
        if status is not None or transient:
            # The welcome and every notice about the conversation itself stay in the customer's archive.
            children.append(stanza.no_store())
        if status is not None and t.notify:
            children.insert(0, stanza.queue_status(*status))
        # A newcomer's place in the queue is news they wait for (told within a second of joining): it
        # goes at once. A status batch's places and the other notices may wait while the server is
        # behind: a thousand customers moving up one place must not hold back the offers that moved them.
        self.say(self._entry_jid(t), t.customer_jid, body, t.lang, children, bulk=status is None or update)

    def customer_departed(self, t: Ticket, body: str) -> None:
        self.say(self._entry_jid(t), t.customer_jid, body, t.lang,
                 [stanza.depart_queue(), self._ticket_el(t)], bulk=True)

    def customer_closed(self, t: Ticket, body: str, by: str) -> None:
        self.say(self._entry_jid(t), t.customer_jid, body, t.lang,
                 [stanza.closed(t.id), self._ticket_el(t)], bulk=True)
        if t.rating_requested_at is not None and t.rating is None:
            # The question in the text for every client, the same as a form for those that render one.
            ask = self.message(self._entry_jid(t), t.customer_jid, text("rating_question", t.lang), t.lang,
                               [ratings.build_form(t.lang).xml, self._ticket_el(t)])
            ask["thread"] = t.id
            self.service.send(ask)

    def held(self, t: Ticket, reason: str, note: str = "") -> None:
        assert self.engine is not None
        if reason == "prechat":
            q = self.engine.queues[t.queue]
            missing = prechat.missing(q.join_form, t.form)
            if not missing:
                return
            fresh = not any(var in t.form for var in q.join_form)
            lines = [text("prechat_intro", t.lang)] if fresh else []
            if note:
                lines.append(text(note, t.lang))
            lines.append(prechat.question(missing[0], t.lang, missing[0] in q.join_form_optional))
            children = [self._ticket_el(t)]
            if fresh or note:
                children.insert(0, prechat.build_form(q.join_form, q.join_form_optional, t.form, t.lang).xml)
            msg = self.message(self._entry_jid(t), t.customer_jid, "\n".join(lines), t.lang, children)
            msg["thread"] = t.id
            self.service.send(msg)
            return
        lines = [self.out_of_hours(t.queue, t.lang)]
        lines.append(text("leave_message", t.lang, ticket=t.id) if reason == "offline" else text("come_back", t.lang))
        self.say(self._entry_jid(t), t.customer_jid, "\n".join(lines), t.lang,
                 [self._ticket_el(t)])

    def out_of_hours(self, queue: str, lang: str) -> str:
        """The queue's out-of-hours text: its own, or the hours; and when it opens again."""
        assert self.engine is not None
        q = self.engine.queues[queue]
        calendar = self.engine.calendars[queue]
        zh = is_zh(lang)
        own = q.out_of_hours_zh if zh else q.out_of_hours_en
        if self.engine.hours_override.get(queue) is False:
            # Closed by hand: the hours would say it is open, and no one knows when it reopens.
            return text("closed_for_now", lang, queue=self.engine.queue_title(queue))
        lines = [own or text("out_of_hours", lang, queue=self.engine.queue_title(queue),
                             hours=calendar.describe(lang))]
        opens = calendar.next_open(self.engine.hours_clock())
        if opens is not None:
            lines.append(text("opens_at", lang, when=f"{calendar.local_time(opens, lang)} ({calendar.timezone})"))
        return "\n".join(lines)

    def ticket_form(self, t: Ticket, lang: str) -> Element:
        """The ticket as a XEP-0004 result form, for agents whose client renders forms."""
        assert self.engine is not None
        zh = is_zh(lang)
        fields: list[ResultField] = [("id", "", "工单" if zh else "Ticket", t.id),
                                     ("status", "", "状态" if zh else "Status", status_of(t.state)),
                                     ("customer", "jid-single", "客户" if zh else "Customer", t.customer)]
        asked = self.engine.queues[t.queue].join_form if t.queue in self.engine.queues else []
        fields += [(f"prechat#{var}", "", prechat.label(var, lang), t.form[var]) for var in asked if t.form.get(var)]
        if t.form.get("message"):
            fields.append(("message", "", "首条消息" if zh else "First message", t.opening()))
        fields += [("tags", "text-multi", "标签" if zh else "Tags", list(t.tags) or None),
                   ("priority", "", "优先级" if zh else "Priority", str(t.priority)),
                   ("reopened", "", "重新打开次数" if zh else "Times reopened", str(t.reopened))]
        return result_form(("工单 " if zh else "Ticket ") + t.id, stanza.TICKET_FORM, fields)

    def session_notice(self, t: Ticket, to: str, body: str, marker: Any = None) -> None:
        assert self.engine is not None
        children = [self._ticket_el(t)]
        if marker == "closed":
            children.append(stanza.closed(t.id))
        elif isinstance(marker, tuple) and marker[0] == "transferred":
            children.append(stanza.transferred(t.id, marker[1]))
        self.say(self.engine.session_jid(t.id), to, body, self.engine.agent_lang(t), children, bulk=True)

    async def offer(self, t: Ticket, agent_jid: str, timeout: float, body: str, via: str = "") -> str:
        assert self.engine is not None
        # Made while handling the stanza that let the customer be offered (an agent online, an offer
        # answered, a conversation closed, the customer's request): what it waited for here.
        since = request_arrived()
        if not via and agent_jid not in self._features:
            # Written as soon as the client's answer is read (``_client_known``): fifty agents of one
            # client version online together get theirs at once, not each at this task's turn.
            waiting = WaitingOffer(t, body, since)
            self._offers_waiting.setdefault(agent_jid, []).append(waiting)
            try:
                await self.supports_offers(agent_jid)
            finally:
                left = self._offers_waiting.get(agent_jid, [])
                if waiting in left:
                    left.remove(waiting)
                    if not left:
                        del self._offers_waiting[agent_jid]
            if waiting.sent:
                return "chat"
        if via == "iq" or (not via and await self.supports_offers(agent_jid)):
            iq = self.service.make_iq(ifrom=self.engine.queue_jid(t.queue), ito=agent_jid, itype="set")
            iq.append(stanza.offer(t.customer_jid, timeout, [self._ticket_el(t, "offered")]))
            self._leaving(since)
            since = None
            try:
                await self.service.request(iq, timeout=OFFER_TIMEOUT)
                return "iq"
            except (IqError, IqTimeout) as error:
                # It announced the feature but refused the IQ: talk to it in plain chat from now on.
                log.info("offer IQ refused, falling back to chat", extra={"ticket": t.id, "error": str(error)})
                self._features[agent_jid] = False
        self._leaving(since)
        self._chat_offer(t, agent_jid, body)
        return "chat"

    def _client_known(self, jid: str) -> None:
        if self._features.get(jid) is not False:
            return  # an offer IQ, sent by its task
        for waiting in self._offers_waiting.pop(jid, []):
            self._leaving(waiting.since)
            self._chat_offer(waiting.ticket, jid, waiting.body)
            waiting.sent = True

    def offer_now(self, t: Ticket, agent_jid: str, timeout: float, body: str) -> str:
        """The offer as a chat message, written at once, for a client known to take offers so."""
        if self._features.get(agent_jid) is not False:
            return ""  # an offer IQ waits for its answer, an unknown client for the question
        self._leaving(request_arrived())
        self._chat_offer(t, agent_jid, body)
        return "chat"

    def _chat_offer(self, t: Ticket, agent_jid: str, body: str) -> None:
        assert self.engine is not None
        self.say(self.engine.session_jid(t.id), agent_jid, body, self.engine.agent_lang(t),
                 [self._ticket_el(t, "offered"), stanza.no_store()])

    def _leaving(self, since: float | None) -> None:
        if since is not None:
            self.offer_delay.labels(self.service.domain).observe(max(0.0, time.monotonic() - since))

    def revoke(self, t: Ticket, agent_jid: str, via: str, reason: str) -> None:
        assert self.engine is not None
        if via == "command":
            return
        if via == "pending" and self._features.get(agent_jid):
            via = "iq"  # the offer IQ is on its way: revoke the same way
        if via == "iq":
            iq = self.service.make_iq(ifrom=self.engine.queue_jid(t.queue), ito=agent_jid, itype="set")
            iq.append(stanza.offer_revoke(t.customer_jid, reason))
            self.engine._spawn(self._fire_and_forget(iq))
            return
        from .texts import text
        self.say(self.engine.session_jid(t.id), agent_jid,
                 text("offer_revoked", self.engine.agent_lang(t), ticket=t.id, reason=reason),
                 self.engine.agent_lang(t), [self._ticket_el(t), stanza.no_store()])

    async def _fire_and_forget(self, iq: Any) -> None:
        try:
            await self.service.request(iq, timeout=OFFER_TIMEOUT)
        except (IqError, IqTimeout):
            pass

    async def connect_agent(self, t: Ticket, agent_jid: str, intro: str) -> None:
        """Open the conversation for the agent who took the ticket: the transcript of what was archived
        until now (what comes later reaches the agent as it comes), then the introduction.

        Queued, and written a slice of the loop's time at a time (``_openings``): fifty agents
        accepting together each cost the loop most of a millisecond here, and written in one go they
        held back every acceptance read meanwhile, and so the next round of offers, by 30-40 ms."""
        self._openings.put((t, agent_jid, intro, time.time()))

    async def _open_conversation(self, opening: tuple[Ticket, str, str, float]) -> None:
        t, agent_jid, intro, until = opening
        if t.agent_jid != agent_jid or not t.is_open:
            return  # transferred or closed while waiting: whoever holds it now was told
        lang = self.engine.agent_lang(t)
        await self.send_history(t, agent_jid, until=until)
        self.say(self.engine.session_jid(t.id), agent_jid, intro, lang,
                 [self._ticket_el(t), stanza.offer_marker(t.customer_jid), self.ticket_form(t, lang)], bulk=True)

    async def close(self) -> None:
        await self._openings.close()

    # -- relay -------------------------------------------------------------------------
    def _payload(self, msg: Message) -> list[Element]:
        """The sender's children worth passing on (body, chat states, receipts, corrections, links…)."""
        kept = []
        ours = self.service.domain
        for child in msg.xml:
            if child.tag in (f"{{{stanza.SID}}}stanza-id",) and (child.get("by") or "").endswith(ours):
                continue  # never let a sender forge our archive ids
            if child.tag.startswith(f"{{{stanza.NS}}}") or child.tag.startswith("{urn:switchboard:support:peer:"):
                continue  # our own annotations are ours to add
            if child.tag == f"{{{COMPONENT}}}error":
                continue
            kept.append(copy.deepcopy(child))
        return kept

    async def relay(self, t: Ticket, msg: Message, role: str, name: str,
                    watchers: dict[str, str] | None = None) -> None:
        """Pass a message of the conversation on: archive it first (when it has content), then deliver.

        ``role`` is who wrote it: customer, agent or supervisor (joined openly). ``t`` may be the
        ticket as stored (this process does not hold it); then ``watchers`` are its stored watchers.
        """
        assert self.engine is not None
        session = self.engine.session_jid(t.id)
        entry = self._entry_jid(t)
        payload = self._payload(msg)
        body = msg["body"]
        retracted = stanza.retraction_target(msg.xml)
        if retracted is not None:
            await self._recall(t, msg, retracted)
        archived = bool(body) or retracted is not None
        sid = new_id()
        if archived:
            await self._archive(t, msg, payload, role, name, sid)
        client_id = msg["id"] or new_id().lower()
        if role == "customer":
            targets = [(t.agent_jid or t.agent, session)] if t.agent else []
            if not targets and archived:
                self.acknowledge(msg)  # stored, and nobody else to answer for it
        else:
            targets = [(t.customer_jid, entry)]
            if role == "supervisor" and t.agent:
                targets.append((t.agent_jid or t.agent, session))
        for to, mfrom in targets:
            out = self.message(mfrom, to)
            out["id"] = client_id
            prefix = role == "supervisor" and to != t.customer_jid
            for child in payload:
                if prefix and child.tag.endswith("}body"):
                    child = copy.deepcopy(child)
                    child.text = f"[{name}] {child.text or ''}"
                out.append(child)
            if archived:
                out.append(stanza.stanza_id(sid, mfrom))
            self.service.send(out)
        if body:
            self.copy_to_watchers(t, body, role, name, exclude=msg["from"].bare, watchers=watchers)

    async def _recall(self, t: Ticket, msg: Message, target_id: str) -> None:
        """XEP-0424 in a conversation: with a recall service, it checks the author and tombstones the
        archived original (raising a StanzaError to refuse); without one the retraction is relayed as-is.
        The other side knows the message by the same id, since the relay keeps ids."""
        assert self.engine is not None
        recall = self.service.hooks.service("recall", None)
        if recall is None or not hasattr(recall, "retract_direct"):
            return
        await recall.retract_direct(self.engine.session_jid(t.id), target_id, msg["from"].bare,
                                    retraction_id=msg["id"] or "", lang=t.lang)

    def copy_to_watchers(self, t: Ticket, body: str, role: str, name: str, exclude: str = "",
                         watchers: dict[str, str] | None = None) -> None:
        assert self.engine is not None
        lang = self.engine.agent_lang(t)
        if watchers is None:
            watchers = self.engine.watchers.get(t.id, {})
        for jid, _mode in watchers.items():
            if jid == exclude:
                continue
            self.say(self.engine.session_jid(t.id), jid,
                     f"[{name or label(role, lang)}] {body}", lang,
                     [stanza.speaker(role, name), self._ticket_el(t)], bulk=True)
