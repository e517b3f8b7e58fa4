"""XEP-0045 namespaces, the compact serializer and the builders of what rooms send.

Hot paths (groupchat broadcast, presence fan-out) never build one slixmpp
object per recipient: a stanza is serialized once without its ``to`` attribute
(:class:`Addressed`) and written for every recipient by putting only the
escaped ``to`` in front of the rest.

Elements in ``jabber:client`` / ``jabber:component:accept`` / no namespace are
treated as the stream's default namespace, so an element built for other
plugins (``{jabber:client}message``) and one parsed from our component stream
serialize the same way.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Iterable, Sequence
from xml.etree.ElementTree import Element, SubElement

from component import namespaces as xmlns
from component.xml import NS_CLIENT, NS_XML, STREAM_NAMESPACES, Addressed, escape_attr, escape_text, split_tag  # noqa: F401
from component.xml import serialize as _serialize, serialize_children as _serialize_children

NS_MUC = xmlns.MUC
NS_USER = NS_MUC + "#user"
NS_ADMIN = NS_MUC + "#admin"
NS_OWNER = NS_MUC + "#owner"
NS_ROOMCONFIG = NS_MUC + "#roomconfig"
NS_ROOMINFO = NS_MUC + "#roominfo"
NS_REQUEST = NS_MUC + "#request"
NS_STABLE_ID = NS_MUC + "#stable_id"
NS_SELF_PING = NS_MUC + "#self-ping-optimization"
NS_SID = xmlns.SID
NS_OCCUPANT_ID = xmlns.OCCUPANT_ID
NS_DELAY = xmlns.DELAY
NS_DATA = xmlns.DATA
NS_PING = xmlns.PING
NS_STANZAS = xmlns.STANZAS
NS_COMPONENT = xmlns.COMPONENT
XML_LANG = f"{{{NS_XML}}}lang"

#: Namespaces that mean "the stanza namespace" wherever they appear.

# Status codes (XEP-0045 section 15.6)
REAL_JID_PUBLIC = "100"
AFFILIATION_CHANGED_ABSENT = "101"
SELF = "110"
CONFIG_CHANGED = "104"
LOGGING_ON = "170"
LOGGING_OFF = "171"
NON_ANONYMOUS = "172"
SEMI_ANONYMOUS = "173"
CREATED = "201"
NICK_ASSIGNED = "210"
BANNED = "301"
NEW_NICK = "303"
KICKED = "307"
REMOVED_AFFILIATION = "321"
REMOVED_MEMBERS_ONLY = "322"
REMOVED_SHUTDOWN = "332"
REMOVED_ERROR = "333"


# -- serialization ---------------------------------------------------------
def serialize(elem: Element) -> str:
    """Compact XML of a stanza (or any element) for our stream: no whitespace, no redundant xmlns."""
    return _serialize(elem, NS_CLIENT)


def serialize_children(children: Iterable[Element], parent_ns: str = NS_CLIENT) -> str:
    return _serialize_children(children, parent_ns)


# -- element helpers -------------------------------------------------------
def normalize_namespace(elem: Element) -> Element:
    """Rewrite component-stream tags to ``jabber:client`` (in place), for elements handed to other plugins."""
    prefix = "{" + NS_COMPONENT + "}"
    for node in elem.iter():
        if node.tag.startswith(prefix):
            node.tag = "{" + NS_CLIENT + "}" + node.tag[len(prefix):]
    return elem


def child(elem: Element, tag: str) -> Element | None:
    """The first child with local name/namespace ``tag`` ({ns}name); stanza namespaces are equivalent."""
    ns, local = split_tag(tag)
    if ns in STREAM_NAMESPACES:
        for candidate in elem:
            cns, clocal = split_tag(candidate.tag)
            if clocal == local and cns in STREAM_NAMESPACES:
                return candidate
        return None
    return elem.find(tag)


def child_text(elem: Element, tag: str) -> str | None:
    found = child(elem, tag)
    if found is None:
        return None
    return found.text or ""


def stamp(ts: float | None = None) -> str:
    """XEP-0082 date-time in UTC."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_stamp(text: str) -> float | None:
    try:
        value = text.strip()
        if value.endswith("Z"):
            value = value[:-1] + "+00:00"
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    except (ValueError, AttributeError):
        return None


def stanza_id_xml(stanza_id: str, by: str) -> str:
    return f'<stanza-id xmlns="{NS_SID}" id="{escape_attr(stanza_id)}" by="{escape_attr(by)}"/>'


def occupant_id_xml(occupant_id: str) -> str:
    return f'<occupant-id xmlns="{NS_OCCUPANT_ID}" id="{escape_attr(occupant_id)}"/>'


def delay_xml(ts: float, by: str) -> str:
    return f'<delay xmlns="{NS_DELAY}" stamp="{stamp(ts)}" from="{escape_attr(by)}"/>'


def with_delay(serialized: str, ts: float, by: str) -> str:
    """Insert a XEP-0203 delay as the last child of a serialized stanza."""
    delay = delay_xml(ts, by)
    if serialized.endswith("/>"):
        cut = serialized.rfind("/>")
        name_end = 1
        while serialized[name_end] not in " />":
            name_end += 1
        name = serialized[1:name_end]
        return serialized[:cut] + ">" + delay + f"</{name}>"
    cut = serialized.rfind("</")
    return serialized[:cut] + delay + serialized[cut:]


def status_xml(codes: Sequence[str]) -> str:
    return "".join(f'<status code="{code}"/>' for code in codes)


def item_xml(affiliation: str, role: str, jid: str = "", nick: str = "", actor_nick: str = "",
             reason: str = "") -> str:
    attrs = f'affiliation="{affiliation}" role="{role}"' if role else f'affiliation="{affiliation}"'
    if jid:
        attrs += f' jid="{escape_attr(jid)}"'
    if nick:
        attrs += f' nick="{escape_attr(nick)}"'
    inner = ""
    if actor_nick:
        inner += f'<actor nick="{escape_attr(actor_nick)}"/>'
    if reason:
        inner += f"<reason>{escape_text(reason)}</reason>"
    if inner:
        return f"<item {attrs}>{inner}</item>"
    return f"<item {attrs}/>"


def presence_xml(from_jid: str, payload: str, item: str, codes: Sequence[str], occupant_id: str,
                 unavailable: bool = False, extra_user: str = "") -> str:
    """An occupant presence without ``to``: payload, then muc#user x, then occupant-id."""
    ptype = ' type="unavailable"' if unavailable else ""
    return (f'<presence from="{escape_attr(from_jid)}"{ptype}>{payload}'
            f'<x xmlns="{NS_USER}">{item}{status_xml(codes)}{extra_user}</x>'
            f"{occupant_id_xml(occupant_id) if occupant_id else ''}</presence>")


def subject_xml(from_jid: str, subject: str, occupant_id: str = "") -> str:
    body = f"<subject>{escape_text(subject)}</subject>" if subject else "<subject/>"
    oid = occupant_id_xml(occupant_id) if occupant_id else ""
    return f'<message from="{escape_attr(from_jid)}" type="groupchat">{body}{oid}</message>'


def status_message_xml(room: str, codes: Sequence[str], body: str = "") -> str:
    """A message from the room itself carrying status codes (e.g. 104 config changed)."""
    text = f"<body>{escape_text(body)}</body>" if body else ""
    return (f'<message from="{escape_attr(room)}" type="groupchat">{text}'
            f'<x xmlns="{NS_USER}">{status_xml(codes)}</x></message>')


def affiliation_notice_xml(room: str, jid: str, affiliation: str, codes: Sequence[str], reason: str = "") -> str:
    """A message from the room telling of an absent user's new affiliation (XEP-0045 9.3-9.8, ex. 195)."""
    return (f'<message from="{escape_attr(room)}"><x xmlns="{NS_USER}">'
            f'{item_xml(affiliation, "", jid=jid, reason=reason)}{status_xml(codes)}'
            f'</x></message>')


def new_element(tag: str, attrib: dict[str, str] | None = None, text: str | None = None) -> Element:
    elem = Element(tag, attrib or {})
    if text is not None:
        elem.text = text
    return elem


def sub(parent: Element, tag: str, attrib: dict[str, str] | None = None, text: str | None = None) -> Element:
    elem = SubElement(parent, tag, attrib or {})
    if text is not None:
        elem.text = text
    return elem
