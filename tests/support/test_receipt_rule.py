"""The receipt rule's pieces (plugins/support/receipts.py): what asks for a receipt, what a resend keeps,
whose stored message a resend is compared with; the resend check and the desk's receipt on a real archive.
The desk's behaviour on Prosody: test_receipts.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any
from xml.etree.ElementTree import Element

import pytest
from slixmpp import Message

from component import namespaces as xmlns
from component.metrics import Metrics
from component.storage import Database, Migrations
from plugins.mam.plugin import MamPlugin
from plugins.mam.service import ArchiveService
from plugins.mam.store import ArchiveStore
from plugins.support import receipts
from plugins.support.model import Ticket
from plugins.support.outbox import StanzaOutbox

from .. import harness

DOMAIN = "support.example"

RECEIVED = f"{{{xmlns.RECEIPTS}}}received"


def test_what_asks_for_a_receipt_and_what_a_resend_keeps() -> None:
    def msg(attrs: dict[str, str], *children: str) -> Element:
        el = Element("{jabber:client}message", attrs)
        for child in children:
            ns, _, name = child.partition(" ")
            sub = Element(f"{{{ns}}}{name}")
            if name == "origin-id":
                sub.set("id", "o-9")
            el.append(sub)
        return el

    asking = msg({"id": "x1", "type": "chat"}, f"{xmlns.RECEIPTS} request")
    assert receipts.requested(asking) == "x1"
    assert receipts.requested(msg({"id": "x1", "type": "normal"}, f"{xmlns.RECEIPTS} request")) == "x1"
    assert receipts.requested(msg({"type": "chat"}, f"{xmlns.RECEIPTS} request")) == ""  # nothing to name
    assert receipts.requested(msg({"id": "x1", "type": "chat"})) == ""
    assert receipts.requested(msg({"id": "x1", "type": "groupchat"}, f"{xmlns.RECEIPTS} request")) == ""
    assert receipts.requested(msg({"id": "x1", "type": "error"}, f"{xmlns.RECEIPTS} request")) == ""
    # An ack message carrying a request is never answered (no loops).
    assert receipts.requested(msg({"id": "x1", "type": "chat"}, f"{xmlns.RECEIPTS} request",
                                  f"{xmlns.RECEIPTS} received")) == ""
    assert receipts.client_key(msg({"id": "x1"}, f"{xmlns.SID} origin-id")) == "o-9"
    assert receipts.client_key(msg({"id": "x1"})) == "x1"
    assert receipts.client_key(msg({})) == ""
    ack = receipts.received("x1")
    assert ack.tag == RECEIVED and ack.get("id") == "x1"


def test_only_the_customers_stored_message_counts_as_sent_before() -> None:
    from plugins.support import stanza

    def stored(role: str | None) -> Element:
        el = Element("{jabber:client}message")
        if role is not None:
            el.append(stanza.speaker(role, "ann" if role != "customer" else ""))
        return el

    assert receipts.is_customers(stored("customer"))
    assert not receipts.is_customers(stored("agent"))
    assert not receipts.is_customers(stored("supervisor"))
    assert not receipts.is_customers(stored(None)) and not receipts.is_customers(None)


# -- the resend check and the desk's receipt on a real archive (no network) -------------------------------
@pytest.fixture
async def desk(tmp_path: Path) -> Any:
    """The support plugin's outbox on a real archive, with the component's stream replaced by a list of
    what it would send."""
    import slixmpp

    database = Database(harness.database_url(tmp_path))
    await database.migrate([Migrations("mam", MamPlugin.migrations)])
    archive = ArchiveService(ArchiveStore(database), DOMAIN)
    sent: list[Any] = []
    service = SimpleNamespace(domain=DOMAIN, xmpp=slixmpp.ComponentXMPP(DOMAIN, "secret", "127.0.0.1", 1),
                              hooks=SimpleNamespace(service=lambda name, default=None: archive
                                                    if name == "archive" else default),
                              send=sent.append, app=SimpleNamespace(metrics=Metrics()))
    outbox = StanzaOutbox(service, SimpleNamespace())  # type: ignore[arg-type]
    outbox.engine = SimpleNamespace(session_jid=lambda tid: f"t-{tid}@{DOMAIN}",  # type: ignore[assignment]
                                    queue_jid=lambda q: f"{q}@{DOMAIN}")
    yield outbox, archive, sent
    await archive.close()
    await database.close()


def ticket(tid: str = "tk1") -> Ticket:
    return Ticket(id=tid, queue="help", entry="help", customer="ann@example.com",
                  customer_jid="ann@example.com/phone", lang="en", created_at=0.0, state="queued")


def customer_message(mid: str, body: str = "hello", origin: str = "", receipt: bool = True,
                     sender: str = "ann@example.com/phone") -> Message:
    msg = Message(sto=f"help@{DOMAIN}", sfrom=sender, stype="chat")
    msg["id"] = mid
    msg["body"] = body
    if receipt:
        msg.xml.append(Element(f"{{{xmlns.RECEIPTS}}}request"))
    if origin:
        msg.xml.append(Element(f"{{{xmlns.SID}}}origin-id", {"id": origin}))
    return msg


async def test_a_stored_message_is_known_by_its_origin_id_or_id_in_its_ticket_only(desk: Any) -> None:
    outbox, _archive, _sent = desk
    t = ticket()
    await outbox.archive_only(t, customer_message("m1", origin="o1"), "customer", "")
    await outbox.archive_only(t, customer_message("m2"), "customer", "")
    await outbox.archive_only(t, customer_message("m3", origin="o3", sender="bob@example.com/desk"), "agent", "bob")
    assert await outbox.stored_before(t, customer_message("m1-again", origin="o1"))  # the origin-id counts
    assert await outbox.stored_before(t, customer_message("m2"))  # no origin-id: the id counts
    assert not await outbox.stored_before(t, customer_message("m1"))  # it had an origin-id: its id is not the key
    # The customer on another JID (a resumed web conversation): still theirs.
    assert await outbox.stored_before(t, customer_message("x", origin="o1", sender="guest-7@guest.example.com/w"))
    assert not await outbox.stored_before(t, customer_message("m3-copy", origin="o3"))  # the agent's, not a resend
    assert not await outbox.stored_before(ticket("tk2"), customer_message("m1-again", origin="o1"))  # another ticket
    assert not await outbox.stored_before(t, customer_message("", body="hello"))  # nothing to know it by
    assert not await outbox.stored_before(t, customer_message("m2", body=""))  # a chat state is never stored


async def test_the_desk_acknowledges_after_the_commit_and_only_when_asked(desk: Any) -> None:
    outbox, archive, sent = desk
    stored = archive.store
    seen_at_commit: list[int] = []

    async def store(record: Any) -> None:
        seen_at_commit.append(len(sent))  # what had been sent when the write began
        await stored(record)

    archive.store = store
    t = ticket()
    await outbox.archive_only(t, customer_message("m1", origin="o1"), "customer", "")
    assert seen_at_commit == [0] and len(sent) == 1
    ack = sent[0]
    assert (ack["to"].full, ack["from"].full, ack["type"]) == ("ann@example.com/phone", f"help@{DOMAIN}", "chat")
    assert [(c.tag, c.get("id")) for c in ack.xml] == [(RECEIVED, "m1")]
    await outbox.archive_only(t, customer_message("m2", receipt=False), "customer", "")
    await outbox.archive_only(t, customer_message("m3", sender="bob@example.com/desk"), "agent", "bob")
    assert len(sent) == 1  # not asked for; an agent's note or message is never the desk's to acknowledge
