"""XEP-0184 receipts from the desk, and resent messages (XEP-0359 origin-id) kept once.

XEP-0114 acknowledges nothing: what the server had written to the component's socket when the
process died is lost without an error, and the sender is not told. A customer's client that asks
for receipts learns it, and sends again what was not acknowledged. Who answers a receipt request:

- a message of a conversation that an agent holds (active, with an agent) is relayed with its
  request, end to end: the agent's client answers, and its receipt is relayed back;
- any other message a customer writes to a queue address has the desk as its recipient (the queue
  or its bot, a waiting or pending ticket, a conversation restored after a restart): the desk
  answers once the message is stored, after the archive's commit, never before;
- a message sent again (same origin-id, or the same id without one; the ticket's customer; the same
  ticket) is found in the stored conversation: it is acknowledged again, neither stored nor relayed
  a second time. The check reads the archive, so it holds across a restart.

Refusals (a stanza error, a closed or full queue, a forged conversation address) answer no receipt.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from component import namespaces as xmlns

RECEIPTS = xmlns.RECEIPTS
SID = xmlns.SID
#: Message types a receipt may be asked for on (XEP-0184 section 5); groupchat is not ours here.
ACKABLE_TYPES = ("chat", "normal", "headline", "")


def requested(xml: Element) -> str:
    """The id to acknowledge when this message asks for a receipt, else "" (no id: nothing to name)."""
    if xml.get("type", "") not in ACKABLE_TYPES:
        return ""
    if xml.find(f"{{{RECEIPTS}}}request") is None or xml.find(f"{{{RECEIPTS}}}received") is not None:
        return ""  # an ack message never carries a request (XEP-0184 section 5.4): do not answer one
    return xml.get("id", "")


def client_key(xml: Element) -> str:
    """What a resend keeps: the XEP-0359 origin-id, else the stanza's id attribute ("" when neither).

    The same key the archive stores as the message's origin id (transcript.py), so a stored message
    is found by it."""
    origin = xml.find(f"{{{SID}}}origin-id")
    return (origin.get("id", "") if origin is not None else "") or xml.get("id", "")


def received(acked_id: str) -> Element:
    """The one child of an ack message (XEP-0184 section 5): the content message's id."""
    return Element(f"{{{RECEIPTS}}}received", {"id": acked_id})


def is_customers(record_xml: Element | None) -> bool:
    """Was this stored message written by the customer (our speaker annotation says so)?"""
    if record_xml is None:
        return False
    for child in record_xml:
        if isinstance(child.tag, str) and child.tag.endswith("}speaker"):
            return child.get("role", "customer") == "customer"
    return False
