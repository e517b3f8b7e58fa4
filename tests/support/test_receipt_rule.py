"""The receipt rule's pieces (plugins/support/receipts.py): what asks for a receipt, what a resend keeps,
whose stored message a resend is compared with. The desk's behaviour on Prosody: test_receipts.py."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from component import namespaces as xmlns
from plugins.support import receipts

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
