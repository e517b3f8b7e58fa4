"""XEP-0313 (MAM, ``urn:xmpp:mam:2`` + ``#extended``) and XEP-0059 (RSM) on the wire.

Archived messages are kept as compact XML strings and result messages are
built by string concatenation: a page of results costs no XML parsing at all,
only the stored text plus a few escaped attributes.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element

from slixmpp import JID
from slixmpp.jid import InvalidJID

from component import namespaces as xmlns
from component.errors import StanzaError

from .hooks import QuerySpec

from component.xml import NS_CLIENT, NS_XML, STREAM_NAMESPACES, escape_attr, escape_text, split_tag  # noqa: F401
from component.xml import serialize as _serialize

NS = xmlns.MAM
NS_EXTENDED = xmlns.MAM_EXTENDED
NS_RSM = xmlns.RSM
NS_DATA = xmlns.DATA
NS_VALIDATE = xmlns.DATA_VALIDATE
NS_FORWARD = xmlns.FORWARD
NS_DELAY = xmlns.DELAY
NS_MUC_USER = xmlns.MUC_USER
NS_SID = xmlns.SID
NS_HINTS = xmlns.HINTS

#: Namespaces a stanza's own children may carry depending on the stream they
#: came from; in an archive they are all ``jabber:client``.

QUERY = f"{{{NS}}}query"
METADATA = f"{{{NS}}}metadata"

#: Form fields we understand, with their XEP-0004 types.
FIELD_TYPES = {
    "FORM_TYPE": "hidden",
    "with": "jid-single",
    "start": "text-single",
    "end": "text-single",
    "before-id": "text-single",
    "after-id": "text-single",
    "ids": "list-multi",
}


# -- XML text ---------------------------------------------------------------
def serialize(elem: Element) -> str:
    """Compact XML for a stanza, declaring its namespace (the form a forwarded message takes)."""
    return _serialize(elem, None)


def parse(xml: str) -> Element:
    return ET.fromstring(xml)


def sanitize(stanza: Element | str, kind: str) -> str:
    """The stored form of a message: compact ``jabber:client`` XML.

    Room messages lose their ``to`` (a forwarded room message has none) and any
    ``<x xmlns='muc#user'>``: rooms need not sanitize it, and a copy from the
    sender could forge a real JID (XEP-0313 security considerations).
    A str is parsed once, so a caller's serialization cannot break results.
    """
    elem = parse(stanza) if isinstance(stanza, str) else stanza
    if split_tag(elem.tag)[1] != "message":
        raise ValueError("an archived stanza is a <message/>")
    if kind != "groupchat":
        return serialize(elem)
    # A shallow copy: the caller is about to broadcast the original.
    copy = Element(elem.tag, {k: v for k, v in elem.attrib.items() if k != "to"})
    copy.text = elem.text
    copy.extend(child for child in elem if child.tag != f"{{{NS_MUC_USER}}}x")
    return serialize(copy)


def with_real_jid(xml: str, jid: str) -> str:
    """Add the author's real JID to a stored room message (only for requesters who may see it)."""
    extra = f'<x xmlns="{NS_MUC_USER}"><item jid="{escape_attr(jid)}"/></x>'
    if xml.endswith("</message>"):
        return xml[:-10] + extra + "</message>"
    if xml.endswith("/>"):
        return xml[:-2] + ">" + extra + "</message>"
    return xml


def envelope(xml: str, content: Element, *more: Element) -> str:
    """A tombstone: the stored message's addressing (from, to, type, id) around ``content`` only."""
    original = parse(xml)
    shell = Element(f"{{{NS_CLIENT}}}message",
                    {k: v for k, v in original.attrib.items() if k in ("from", "to", "type", "id")})
    shell.append(content)
    shell.extend(more)
    return serialize(shell)


# -- time -------------------------------------------------------------------
def format_stamp(timestamp: float) -> str:
    """XEP-0082 DateTime in UTC with milliseconds."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_stamp(text: str) -> float:
    """Seconds since the epoch from a XEP-0082 DateTime (raises ValueError)."""
    text = text.strip()
    if "T" not in text:
        raise ValueError("not a XEP-0082 DateTime")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    value = moment.timestamp()
    if not math.isfinite(value):
        raise ValueError("not a finite time")
    return value


# -- query parsing ----------------------------------------------------------
def _values(field_el: Element) -> list[str]:
    return [(v.text or "").strip() for v in field_el.findall(f"{{{NS_DATA}}}value")]


def _single(var: str, values: list[str]) -> str | None:
    values = [v for v in values if v]
    if len(values) > 1:
        raise StanzaError("bad-request", f"form field {var!r} takes a single value")
    return values[0] if values else None


def parse_query(query: Element) -> QuerySpec:
    """Read a ``<query xmlns='urn:xmpp:mam:2'>``; malformed input raises ``StanzaError``."""
    spec = QuerySpec(queryid=query.get("queryid", ""))
    if query.get("node"):
        raise StanzaError("feature-not-implemented", "archives of pubsub nodes are not offered here")
    form = query.find(f"{{{NS_DATA}}}x")
    if form is not None:
        _parse_form(form, spec)
    rsm = query.find(f"{{{NS_RSM}}}set")
    if rsm is not None:
        _parse_rsm(rsm, spec)
    spec.flip = query.find(f"{{{NS}}}flip-page") is not None
    return spec


def _parse_form(form: Element, spec: QuerySpec) -> None:
    if form.get("type", "submit") not in ("submit",):
        raise StanzaError("bad-request", "the query form must be of type 'submit'")
    for field_el in form.findall(f"{{{NS_DATA}}}field"):
        var = field_el.get("var", "")
        values = _values(field_el)
        if var not in FIELD_TYPES:
            raise StanzaError("feature-not-implemented", f"unknown query field {var!r}")
        if var == "FORM_TYPE":
            if _single(var, values) not in (None, NS):
                raise StanzaError("bad-request", f"FORM_TYPE must be {NS}")
        elif var == "with":
            value = _single(var, values)
            if value is not None:
                try:
                    spec.with_jid = JID(value).full
                except InvalidJID as exc:
                    raise StanzaError("bad-request", f"form field 'with': not a JID ({exc})") from exc
        elif var in ("start", "end"):
            value = _single(var, values)
            if value is not None:
                try:
                    setattr(spec, var, parse_stamp(value))
                except (ValueError, OverflowError, OSError) as exc:
                    raise StanzaError("bad-request", f"form field {var!r}: not a XEP-0082 date and time "
                                      f"such as 2024-05-01T12:00:00Z") from exc
        elif var in ("before-id", "after-id"):
            value = _single(var, values)
            if value is not None:
                setattr(spec, var.replace("-", "_"), value)
        elif var == "ids":
            ids = [v for v in values if v]
            if ids:
                spec.ids = ids


def _int(name: str, text: str | None) -> int:
    try:
        value = int((text or "").strip())
    except ValueError:
        raise StanzaError("bad-request", f"RSM <{name}/> must be a non-negative integer") from None
    if value < 0:
        raise StanzaError("bad-request", f"RSM <{name}/> must be a non-negative integer")
    return value


def _parse_rsm(rsm: Element, spec: QuerySpec) -> None:
    max_el = rsm.find(f"{{{NS_RSM}}}max")
    if max_el is not None:
        spec.max = _int("max", max_el.text)
    after = rsm.find(f"{{{NS_RSM}}}after")
    if after is not None:
        spec.after = (after.text or "").strip()
        if not spec.after:
            raise StanzaError("bad-request", "RSM <after/> needs the id of an archived message")
    before = rsm.find(f"{{{NS_RSM}}}before")
    if before is not None:
        spec.before = (before.text or "").strip()
    index = rsm.find(f"{{{NS_RSM}}}index")
    if index is not None:
        spec.index = _int("index", index.text)
        if spec.after is not None or spec.before is not None:
            raise StanzaError("bad-request", "RSM <index/> cannot be combined with <after/> or <before/>")


# -- replies ----------------------------------------------------------------
def query_form() -> Element:
    """The fields a client may use (answer to an IQ get of an empty query)."""
    query = Element(QUERY)
    form = ET.SubElement(query, f"{{{NS_DATA}}}x", {"type": "form"})
    form_type = ET.SubElement(form, f"{{{NS_DATA}}}field", {"type": "hidden", "var": "FORM_TYPE"})
    ET.SubElement(form_type, f"{{{NS_DATA}}}value").text = NS
    for var, ftype in FIELD_TYPES.items():
        if var == "FORM_TYPE":
            continue
        field_el = ET.SubElement(form, f"{{{NS_DATA}}}field", {"type": ftype, "var": var})
        if var == "ids":
            validate = ET.SubElement(field_el, f"{{{NS_VALIDATE}}}validate", {"datatype": "xs:string"})
            ET.SubElement(validate, f"{{{NS_VALIDATE}}}open")
    return query


def result_message(to: str, sender: str, queryid: str, archive_id: str, timestamp: float, stanza_xml: str) -> str:
    """One ``<message><result/></message>`` for the component stream (its default namespace)."""
    qid = f' queryid="{escape_attr(queryid)}"' if queryid else ""
    return (f'<message to="{escape_attr(to)}" from="{escape_attr(sender)}">'
            f'<result xmlns="{NS}"{qid} id="{escape_attr(archive_id)}">'
            f'<forwarded xmlns="{NS_FORWARD}"><delay xmlns="{NS_DELAY}" stamp="{format_stamp(timestamp)}"/>'
            f'{stanza_xml}</forwarded></result></message>')


def fin(complete: bool, first: str | None, last: str | None, count: int | None,
        first_index: int | None) -> Element:
    attrs = {"complete": "true"} if complete else {}
    element = Element(f"{{{NS}}}fin", attrs)
    rsm = ET.SubElement(element, f"{{{NS_RSM}}}set")
    if first is not None:
        first_el = ET.SubElement(rsm, f"{{{NS_RSM}}}first")
        first_el.text = first
        if first_index is not None:
            first_el.set("index", str(first_index))
    if last is not None:
        ET.SubElement(rsm, f"{{{NS_RSM}}}last").text = last
    if count is not None:
        ET.SubElement(rsm, f"{{{NS_RSM}}}count").text = str(count)
    return element


def metadata(first: tuple[str, float] | None, last: tuple[str, float] | None) -> Element:
    element = Element(METADATA)
    if first is not None and last is not None:
        ET.SubElement(element, f"{{{NS}}}start", {"id": first[0], "timestamp": format_stamp(first[1])})
        ET.SubElement(element, f"{{{NS}}}end", {"id": last[0], "timestamp": format_stamp(last[1])})
    return element


def should_archive(stanza: Element) -> bool:
    """Whether a room message belongs in the archive (XEP-0313 business rules, XEP-0334 hints).

    Messages with a body or a subject do; so do retractions, moderation,
    reactions and corrections (no body needed); state-only messages (chat
    states, markers, receipts) do not. An explicit hint wins.
    """
    for child in stanza:
        if child.tag in (f"{{{NS_HINTS}}}no-store", f"{{{NS_HINTS}}}no-permanent-store"):
            return False
    for child in stanza:
        ns, local = split_tag(child.tag)
        if ns in STREAM_NAMESPACES and local in ("body", "subject"):
            return True
        if child.tag == f"{{{NS_HINTS}}}store":
            return True
        if ns in _ARCHIVED_NAMESPACES:
            return True
    return False


_ARCHIVED_NAMESPACES = frozenset({
    xmlns.RETRACT, xmlns.RETRACT_0, xmlns.FASTEN,
    xmlns.MODERATE, xmlns.MODERATE_0, xmlns.REACTIONS,
    xmlns.CORRECT, xmlns.OOB, xmlns.SIMS, xmlns.SFS,
    "eu.siacs.conversations.axolotl", xmlns.OMEMO, xmlns.ENCRYPTED, xmlns.OPENPGP,
})
