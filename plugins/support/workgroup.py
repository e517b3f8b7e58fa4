"""Presence to queue addresses and XEP-0142 IQs (join, depart, status, offers, agents), plus our own
namespace's conversation IQs (close, transfer, note)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from slixmpp import JID, Iq, Presence
from slixmpp.plugins.xep_0004.stanza import Form

from component import caps
from component import namespaces as xmlns
from component.xml import Addressed, escape_attr, serialize
from component.errors import StanzaError
from component.texts import is_zh

from . import prechat, stanza
from .chat import XML_LANG
from .commands import REGISTRY
from .declare import Call
from .engine import JoinRefused
from .model import LEAVABLE_STATES
from .texts import pick_lang, text


log = logging.getLogger("switchboard.plugins.support")


class Workgroup:
    """Presence and IQ handling of :class:`~.plugin.SupportPlugin`; it calls ``_init_workgroup``
    when set up."""

    def _init_workgroup(self) -> None:
        #: Queue -> agents' resources just online, told the queue's presence at the next loop turn.
        self._agents_due: dict[str, list[str]] = {}

    async def on_presence(self, pres: Presence) -> Any:
        to = pres["to"]
        if not self._ours(to):
            return None
        queue = self._queue_of(to)
        ptype = pres["type"]
        if ptype == "error":
            await self.bounced(pres)
            return True
        if queue is None:
            return True
        await self._adopt_for(pres, queue)
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
            agent = engine.agents.get(queue, {}).get(sender.bare)
            if not available or agent is None or str(sender) not in agent.resources:
                self.outbox.forget_client(str(sender))  # gone, or a new session of the resource
                if available:
                    # Asked now, while routing goes on: its first offer need not wait for the answer.
                    self.outbox.learn_client(str(sender), caps.of_presence(pres.xml))
            show = (pres["show"] or "") if available else None
            if show not in (None, "", "chat", "away", "xa", "dnd"):
                show = ""
            await engine.agent_presence(queue, str(sender), show, stanza.parse_max_chats(pres.xml))
            if available:
                self._tell_agent_soon(queue, str(sender))
        else:
            await engine.customer_seen(str(sender), available)
        return True

    def _queue_presence(self, queue: str, to: str) -> None:
        """The queue's own presence, to a customer (subscribed, or probing)."""
        self._send_queue_presence(queue, [to], agent=False)

    def _send_queue_presence(self, queue: str, addressees: list[str], agent: bool) -> None:
        """The queue's presence to each of ``addressees``, built once (only the addressee differs);
        agents also get XEP-0142 notify-queue and notify-agents."""
        queue_jid = self.engine.queue_jid(queue)
        pres = Element(f"{{{xmlns.CLIENT}}}presence", {"from": queue_jid})
        if not self.engine.accepting(queue):
            SubElement(pres, f"{{{xmlns.CLIENT}}}show").text = "xa"
        if agent:
            summary = self.engine.summary(queue)
            pres.extend([stanza.notify_queue(summary["count"], summary["oldest"], summary["time"], summary["status"]),
                         stanza.notify_agents(summary["available"], summary["current_chats"], summary["max_chats"])])
        template = Addressed(serialize(pres))
        for to in addressees:
            self.service.send_raw(template.to(escape_attr(to)), to=to, sender=queue_jid)

    def _tell_agent_soon(self, queue: str, resource: str) -> None:
        """An agent's resource came online: it is told the queue's presence at the next loop turn,
        with the other agents come online meanwhile. Fifty agents online at once cost one summary, and
        what was read already (a client's answer their first offers wait for) goes first."""
        if not self._agents_due:
            asyncio.get_running_loop().call_soon(self._tell_agents_due)
        self._agents_due.setdefault(queue, []).append(resource)

    def _tell_agents_due(self) -> None:
        due, self._agents_due = self._agents_due, {}
        for queue, resources in due.items():
            online = self.engine.agents.get(queue, {})
            still = [r for r in resources if (agent := online.get(r.split("/", 1)[0])) and r in agent.resources]
            try:
                if still and queue in self.engine.queues:
                    self._send_queue_presence(queue, still, agent=True)
            except Exception:  # noqa: BLE001 - a callback's failure would stop the others' presences
                log.exception("queue presence to agents not sent", extra={"queue": queue, "agents": len(resources)})

    # -- XEP-0142 IQs -----------------------------------------------------------------------
    async def _queue_or_error(self, iq: Iq) -> str | None:
        to = iq["to"]
        if to.domain != self.service.domain or not to.user:
            return None
        queue = self._queue_of(to)
        if queue is None:
            if self._ticket_of(to):
                raise StanzaError("bad-request", "send workgroup requests to the queue address")
            raise StanzaError("item-not-found", "there is no queue at this address")
        await self._adopt_for(iq, queue)
        return queue

    async def _customer_ticket(self, iq: Iq, queue: str, customer: str) -> Any:
        """The customer's open ticket at this queue, held here; False when they have none; None when
        another process holds it (its queue is owned there: the request was handed to it)."""
        t = await self.engine.lookup.customer_ticket(queue, customer)
        if t is None:
            return False
        if t.id not in self.engine.tickets:
            self.hand_off(iq, t)
            return None
        return t

    def _join_form(self, queue: str, lang: str) -> Form:
        q = self.engine.queues[queue]
        zh = is_zh(lang)
        return prechat.build_form(q.join_form, q.join_form_optional, {}, lang,
                                  "请填写以下信息" if zh else "Before you join",
                                  "请填写后再排队。" if zh else "Please fill in these fields to join the queue.")

    async def on_join_queue(self, iq: Iq) -> Any:
        queue = await self._queue_or_error(iq)
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
        found = await self._customer_ticket(iq, queue, bare)
        if found is None:
            return True  # handed to the process holding it
        existing = found or None
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
        queue = await self._queue_or_error(iq)
        if queue is None:
            return None
        requester = iq["from"]
        who = (iq.xml.find(f"{{{stanza.WG}}}depart-queue").findtext(f"{{{stanza.WG}}}jid") or "").strip()
        customer = JID(who).bare if who else requester.bare
        if customer != requester.bare and not self.engine.is_supervisor(queue, requester.bare):
            raise StanzaError("not-authorized", "only supervisors remove other customers from the queue")
        t = await self._customer_ticket(iq, queue, customer)
        if t is None:
            return True  # handed to the process holding it
        if not t or t.state not in LEAVABLE_STATES:
            raise StanzaError("item-not-found", "this customer is not waiting in the queue")
        await self.engine.leave(t.id, "depart" if customer == requester.bare else "removed", requester.bare)
        return iq.reply()

    async def on_queue_status(self, iq: Iq) -> Any:
        queue = await self._queue_or_error(iq)
        if queue is None:
            return None
        t = await self._customer_ticket(iq, queue, iq["from"].bare)
        if t is None:
            return True  # handed to the process holding it
        if not t or t.state not in ("queued", "offered"):
            raise StanzaError("not-authorized", "you are not waiting in this queue")
        reply = iq.reply()
        reply.append(stanza.queue_status(*self.engine.status(t)))
        return reply

    async def on_offer_answer(self, iq: Iq) -> Any:
        queue = await self._queue_or_error(iq)
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
        await self._run_element(payload, str(agent), matches[0])
        return iq.reply()

    async def _run_element(self, payload: Any, actor: str, t: Any) -> None:
        """Run the declared command an IQ's child element names, with the values read from it."""
        d = REGISTRY.by_element(payload.tag.split("}", 1)[1])
        if d is None:
            raise StanzaError("feature-not-implemented", "this request is not supported")
        role = REGISTRY.role_of(self, d, actor.split("/", 1)[0], t)
        if role is None:
            raise StanzaError("forbidden", "only the conversation's agent or a supervisor may do this")
        values = d.read_element(payload) if d.read_element else {}
        await REGISTRY.run(d, Call(self, actor, role, self.engine.agent_lang(t), "iq", values, t))

    async def on_agent_status_request(self, iq: Iq) -> Any:
        queue = await self._queue_or_error(iq)
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
        t = await self.engine.lookup.get(ticket_id)
        if t is None or not t.is_open:
            raise StanzaError("item-not-found", "no open conversation at this address")
        payload = next(c for c in iq.xml if c.tag.startswith(f"{{{stanza.NS}}}"))
        if t.id not in self.engine.tickets and payload.tag != f"{{{stanza.NS}}}note":
            # Held by the process owning its queue (a note is kept from the stored ticket, here).
            if self.engine.role(t, iq["from"].bare) is None:
                raise StanzaError("forbidden", "only the conversation's agent or a supervisor may do this")
            self.hand_off(iq, t)
            return True
        await self._run_element(payload, str(iq["from"]), t)
        return iq.reply()
