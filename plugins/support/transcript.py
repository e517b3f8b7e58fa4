"""The conversation's record in the archive: what is stored of each message, the transcript an
agent or supervisor gets, and the first message restored from the ticket after a crash.

A part of :class:`~plugins.support.outbox.StanzaOutbox` (it is mixed in there), kept apart because it
changes with the archive's contract, not with what people are told.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from slixmpp import Message
from slixmpp.xmlstream import tostring

from component import namespaces as xmlns
from component.errors import StanzaError
from component.ids import new_id

from . import receipts, stanza
from .model import FIRST_KEY, Ticket
from .texts import label

if TYPE_CHECKING:
    from component.service import Service

    from .engine import SupportEngine

log = logging.getLogger("switchboard.plugins.support")

CLIENT = xmlns.CLIENT
COMPONENT = xmlns.COMPONENT


def body_of(el: Element) -> str:
    for child in el:
        if child.tag.endswith("}body") or child.tag == "body":
            return child.text or ""
    return ""


def as_client(el: Element) -> Element:
    """A copy in the jabber:client namespace (how archived and forwarded stanzas are written)."""
    out = copy.deepcopy(el)
    for node in out.iter():
        if isinstance(node.tag, str) and node.tag.startswith(f"{{{COMPONENT}}}"):
            node.tag = f"{{{CLIENT}}}" + node.tag[len(COMPONENT) + 2:]
    return out


class ConversationRecord:
    """Needs from the class it is mixed into: ``service``, ``options``, ``engine``, ``message``,
    ``_payload`` and ``_entry_jid``."""

    service: "Service"
    options: Any
    engine: "SupportEngine | None"
    _restoring: dict[str, asyncio.Event]  #: ticket -> set once its first message is back (after a restart)

    async def send_history(self, t: Ticket, to: str, label_customer: bool = False,
                           until: float | None = None) -> int:
        assert self.engine is not None
        archive = self.service.hooks.service("archive", None)
        if archive is None:
            return 0
        session = self.engine.session_jid(t.id)
        items = await archive.history(session, maxstanzas=self.options.history_max, maxchars=None, since=None,
                                      seconds=None, until=until)
        lang = self.engine.agent_lang(t)
        for el, ts in items:
            body = body_of(el)
            if not body:
                continue
            who = el.find(f"{{{stanza.NS}}}speaker")
            role = who.get("role", "customer") if who is not None else "customer"
            name = who.get("name", "") if who is not None else ""
            if role != "customer" or label_customer:
                body = f"[{name or label(role, lang)}] {body}"
            children = [stanza.delay(ts, session)]
            if who is not None:
                children.append(copy.deepcopy(who))
            self.say(session, to, body, lang, children, bulk=True)
        return len(items)

    async def archive_only(self, t: Ticket, msg: Message, role: str, name: str) -> None:
        """Store a message the desk itself receives (nobody else is told of it); a customer who asked
        for a receipt gets it once the message is stored (see :mod:`.receipts`)."""
        if msg["body"] or stanza.retraction_target(msg.xml) is not None:
            await self._archive(t, msg, self._payload(msg), role, name, new_id())
            if role == "customer":
                self.acknowledge(msg)

    async def stored_before(self, t: Ticket, msg: Message) -> bool:
        """Is this customer's message already in the conversation (a resend: same origin-id, or the same
        id without one)? Any JID of the customer counts: a resumed web conversation has a new one."""
        archive = self.service.hooks.service("archive", None)
        key = receipts.client_key(msg.xml)
        if archive is None or not key or not (msg["body"] or stanza.retraction_target(msg.xml) is not None):
            return False
        restored = self._restoring.get(t.id)
        if restored is not None:
            await restored.wait()
        assert self.engine is not None
        found = await archive.find_by_origin_id(self.engine.session_jid(t.id), None, key)
        return found is not None and receipts.is_customers(found.stanza)

    def acknowledge(self, msg: Message) -> None:
        """XEP-0184 from the desk, to a message it holds (stored, or found stored): from the address it
        was written to, of its type, with only ``<received/>``."""
        acked = receipts.requested(msg.xml)
        if not acked:
            return
        ack = self.service.xmpp.make_message(mto=msg["from"], mfrom=msg["to"].bare,
                                             mtype=msg.xml.get("type") or None)
        ack["id"] = new_id().lower()
        ack.append(receipts.received(acked))
        self.service.send(ack)

    def restoring(self, ticket_ids: list[str]) -> None:
        """These tickets' first messages may be put back by :meth:`keep_first_messages`: until then, a
        customer's resend of one waits (found stored afterwards, it is kept once)."""
        for ticket_id in ticket_ids:
            self._restoring.setdefault(ticket_id, asyncio.Event())

    async def keep_first_messages(self, ticket_ids: list[str]) -> None:
        """After a restart, before anyone is answered: a ticket loaded "new" was stored, but the process
        may have died before the customer's first message reached the archive (it is written once the
        ticket exists). Put it there from the ticket, at its time."""
        self.restoring(ticket_ids)
        try:
            await self._keep_first_messages(ticket_ids)
        finally:
            for ticket_id in ticket_ids:
                done = self._restoring.pop(ticket_id, None)
                if done is not None:
                    done.set()

    async def _keep_first_messages(self, ticket_ids: list[str]) -> None:
        assert self.engine is not None
        archive = self.service.hooks.service("archive", None)
        if archive is None:
            return
        for t in [self.engine.tickets[i] for i in ticket_ids if i in self.engine.tickets]:
            if t.state != "new" or not t.form.get("message"):
                continue
            session = self.engine.session_jid(t.id)
            if await archive.history(session, maxstanzas=1, maxchars=None, since=None, seconds=None):
                continue
            msg = self.service.xmpp.make_message(mto=self._entry_jid(t), mfrom=t.customer_jid,
                                                 mbody=t.form["message"], mtype="chat")
            created = next((data for kind, _at, _actor, data in await self.engine.store.events(t.id)
                            if kind == "created"), {})
            if created.get(FIRST_KEY):
                msg["id"] = created[FIRST_KEY]  # so that the customer's resend of it is known (receipts.py)
            await self._archive(t, msg, self._payload(msg), "customer", "", new_id(t.created_at), at=t.created_at)
            log.info("first message archived from the ticket", extra={"ticket": t.id})

    async def _archive(self, t: Ticket, msg: Message, payload: list[Element], role: str, name: str,
                       sid: str, at: float | None = None) -> None:
        """Store the message as the customer sees the conversation: with the queue JID as the other side."""
        assert self.engine is not None
        archive = self.service.hooks.service("archive", None)
        if archive is None:
            return
        from plugins.mam.hooks import ArchiveRecord  # the archive's public contract

        entry = self._entry_jid(t)
        record_xml = Element(f"{{{CLIENT}}}message", {"type": "chat"})
        if role == "customer":
            record_xml.set("from", t.customer_jid)
            record_xml.set("to", entry)
        else:
            record_xml.set("from", entry)
            record_xml.set("to", t.customer_jid)
        if msg["id"]:
            record_xml.set("id", msg["id"])
        for child in payload:
            record_xml.append(child)
        record_xml.append(stanza.speaker(role, name if role != "customer" else ""))
        record_xml = as_client(record_xml)
        origin = msg.xml.find(f"{{{stanza.SID}}}origin-id")
        record = ArchiveRecord(archive=self.engine.session_jid(t.id), stanza_id=sid, timestamp=at or time.time(),
                               stanza=tostring(record_xml), author=msg["from"].bare, with_jid=t.customer,
                               # 1:1 retractions name the origin-id, or the id attribute without one.
                               origin_id=(origin.get("id", "") if origin is not None else "") or msg["id"] or "",
                               client_id=msg["id"] or "", kind="chat")
        try:
            await archive.store(record)
        except Exception as exc:  # noqa: BLE001 - nothing is relayed that is not archived
            log.exception("archiving a support message failed", extra={"ticket": t.id})
            raise StanzaError("internal-server-error", "the message could not be stored; it was not delivered") \
                from exc
