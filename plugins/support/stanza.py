"""Wire formats of the support queue.

XEP-0142 (``http://jabber.org/protocol/workgroup``) where it fits, and our own
namespace ``urn:switchboard:support:0`` (see schemas/support-protocol.md and
schemas/support.xsd) for what it lacks: ticket ids, transfer, notes, closing.
Builders return ``xml.etree`` elements; parsers take them.
"""

from __future__ import annotations

import time
from typing import Sequence
from xml.etree.ElementTree import Element, SubElement

from component import namespaces as xmlns

WG = xmlns.WORKGROUP
NS = xmlns.SUPPORT
DATA = xmlns.DATA
DELAY = xmlns.DELAY
SID = xmlns.SID
RETRACT = xmlns.RETRACT
FASTEN = xmlns.FASTEN
RETRACT_0 = xmlns.RETRACT_0
HINTS = xmlns.HINTS

#: FORM_TYPE values of the data forms we send (XEP-0068 style: our namespace plus a fragment).
PRECHAT_FORM = f"{NS}#prechat"
RATING_FORM = f"{NS}#rating"
QUEUE_INFO_FORM = f"{NS}#queueinfo"
TICKET_FORM = f"{NS}#ticket"

TICKET_STATES = ("new", "bot", "prechat", "queued", "offered", "offline", "active", "pending", "resolved", "closed",
                 "abandoned")
ROLES = ("customer", "agent", "supervisor", "bot", "system")


def xep0082(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _text_child(parent: Element, tag: str, value: object) -> Element:
    child = SubElement(parent, tag)
    child.text = str(value)
    return child


# -- XEP-0142 ---------------------------------------------------------------
def queue_status(position: int, seconds: int) -> Element:
    """``<queue-status><position/><time/></queue-status>``: entries ahead, estimated seconds."""
    el = Element(f"{{{WG}}}queue-status")
    _text_child(el, f"{{{WG}}}position", max(0, int(position)))
    _text_child(el, f"{{{WG}}}time", max(0, int(seconds)))
    return el


def no_store() -> Element:
    """XEP-0334 ``<no-store/>``: what is only true for a moment (a place in the queue, an offer) is kept
    neither in the recipient's archive nor for later delivery. The user's server does the least work
    for it, and an offer never reaches an agent who comes back after it was withdrawn."""
    return Element(f"{{{HINTS}}}no-store")


def depart_queue() -> Element:
    return Element(f"{{{WG}}}depart-queue")


def offer(customer: str, timeout: float, extra: Sequence[Element] = ()) -> Element:
    el = Element(f"{{{WG}}}offer", {"jid": customer})
    _text_child(el, f"{{{WG}}}timeout", max(1, int(round(timeout))))
    for child in extra:
        el.append(child)
    return el


def offer_marker(customer: str) -> Element:
    """The ``<offer jid/>`` meta-data that ties the conversation start to the offer (XEP-0142 7.2.6)."""
    return Element(f"{{{WG}}}offer", {"jid": customer})


def offer_revoke(customer: str, reason: str) -> Element:
    el = Element(f"{{{WG}}}offer-revoke", {"jid": customer})
    if reason:
        _text_child(el, f"{{{WG}}}reason", reason)
    return el


def notify_queue(count: int, oldest: float | None, seconds: int, status: str) -> Element:
    el = Element(f"{{{WG}}}notify-queue")
    _text_child(el, f"{{{WG}}}count", count)
    if oldest is not None:
        _text_child(el, f"{{{WG}}}oldest", xep0082(oldest))
    _text_child(el, f"{{{WG}}}time", max(0, int(seconds)))
    _text_child(el, f"{{{WG}}}status", status)
    return el


def notify_agents(available: int, current_chats: int, max_chats: int) -> Element:
    el = Element(f"{{{WG}}}notify-agents")
    _text_child(el, f"{{{WG}}}available", available)
    _text_child(el, f"{{{WG}}}current-chats", current_chats)
    _text_child(el, f"{{{WG}}}max-chats", max_chats)
    return el


def agent_status(current_chats: int | None = None, max_chats: int | None = None) -> Element:
    el = Element(f"{{{WG}}}agent-status")
    if current_chats is not None:
        _text_child(el, f"{{{WG}}}current-chats", current_chats)
    if max_chats is not None:
        _text_child(el, f"{{{WG}}}max-chats", max_chats)
    return el


def parse_max_chats(presence_xml: Element) -> int | None:
    """The ``<max-chats/>`` an agent asks for in its presence, or None (absent or invalid)."""
    status = presence_xml.find(f"{{{WG}}}agent-status")
    if status is None:
        return None
    value = status.findtext(f"{{{WG}}}max-chats")
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number > 0 else None


# -- urn:switchboard:support:0 --------------------------------------------------
def ticket(ticket_id: str, queue: str, state: str, jid: str = "") -> Element:
    """``<ticket id queue state [jid]/>``: which conversation a message belongs to."""
    attrs = {"id": ticket_id, "queue": queue, "state": state}
    if jid:
        attrs["jid"] = jid
    return Element(f"{{{NS}}}ticket", attrs)


def closed(ticket_id: str, by: str = "") -> Element:
    attrs = {"ticket": ticket_id}
    if by:
        attrs["by"] = by
    return Element(f"{{{NS}}}closed", attrs)


def transferred(ticket_id: str, to: str) -> Element:
    return Element(f"{{{NS}}}transferred", {"ticket": ticket_id, "to": to})


def speaker(role: str, name: str = "") -> Element:
    """Who wrote a message in a transcript or a supervisor's copy."""
    attrs = {"role": role}
    if name:
        attrs["name"] = name
    return Element(f"{{{NS}}}speaker", attrs)


def delay(ts: float, by: str) -> Element:
    return Element(f"{{{DELAY}}}delay", {"stamp": xep0082(ts), "from": by})


def stanza_id(sid: str, by: str) -> Element:
    return Element(f"{{{SID}}}stanza-id", {"id": sid, "by": by})


def parse_transfer(el: Element) -> tuple[str, str]:
    """``<transfer to=''><reason/></transfer>`` -> (to, reason)."""
    return (el.get("to") or "").strip(), (el.findtext(f"{{{NS}}}reason") or "").strip()


def retraction_target(message_xml: Element) -> str | None:
    """The id a XEP-0424 retraction (or its XEP-0422 apply-to form) points at, if the message is one."""
    el = message_xml.find(f"{{{RETRACT}}}retract")
    if el is not None:
        return el.get("id") or None
    fasten = message_xml.find(f"{{{FASTEN}}}apply-to")
    if fasten is not None and fasten.find(f"{{{RETRACT_0}}}retract") is not None:
        return fasten.get("id") or None
    return None


def join_queue_element() -> Element:
    return Element(f"{{{WG}}}join-queue")


def agent_list(agents: list[str]) -> Element:
    """``<agent-status-request><agent jid/>…</agent-status-request>`` (XEP-0142 7.2.3)."""
    el = Element(f"{{{WG}}}agent-status-request")
    for jid in agents:
        SubElement(el, f"{{{WG}}}agent", {"jid": jid})
    return el


def submitted_form(parent: Element, form_type: str) -> dict[str, list[str]] | None:
    """The values of a ``jabber:x:data`` submission carried by ``parent``, or None.

    A submission naming another FORM_TYPE is not ours; one without FORM_TYPE is accepted (some
    clients drop hidden fields), the context tells which form it answers.
    """
    for x in parent.findall(f"{{{DATA}}}x"):
        if x.get("type") != "submit":
            continue
        values = {f.get("var") or "": [v.text or "" for v in f.findall(f"{{{DATA}}}value")]
                  for f in x.findall(f"{{{DATA}}}field")}
        if values.get("FORM_TYPE", [form_type]) == [form_type]:
            values.pop("FORM_TYPE", None)
            return values
    return None
