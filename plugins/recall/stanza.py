"""Wire forms of message retraction (XEP-0424) and moderation (XEP-0425).

Current forms: ``urn:xmpp:message-retract:1`` (XEP-0424 0.4) and
``urn:xmpp:message-moderate:1`` (XEP-0425 0.3.0). Deployed clients still send
the older XEP-0422 fastening forms, so those are parsed too:
``<apply-to xmlns='urn:xmpp:fasten:0'><retract xmlns='urn:xmpp:message-retract:0'/>``
and ``<apply-to><moderate xmlns='urn:xmpp:message-moderate:0'>``.

Parsers take ``xml.etree`` elements (what the MUC hooks and slixmpp stanzas
hold) and raise ``StanzaError`` for malformed requests; builders return
elements ready to append to a message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from xml.etree.ElementTree import Element, SubElement, fromstring

from component import namespaces as xmlns
from component.errors import StanzaError

NS_RETRACT = xmlns.RETRACT
NS_RETRACT_0 = xmlns.RETRACT_0
NS_MODERATE = xmlns.MODERATE
NS_MODERATE_0 = xmlns.MODERATE_0
NS_FASTEN = xmlns.FASTEN
NS_OCCUPANT_ID = xmlns.OCCUPANT_ID
NS_FALLBACK = xmlns.FALLBACK
NS_HINTS = xmlns.HINTS
NS_SID = xmlns.SID
NS_XML = xmlns.XML
#: Stanza children such as <body/> live in the stream's namespace.
NS_STREAM = xmlns.COMPONENT

FEATURE_TOMBSTONE = NS_RETRACT + "#tombstone"
#: What a room advertises once this plugin runs there.
ROOM_FEATURES = (NS_RETRACT, FEATURE_TOMBSTONE, NS_MODERATE, NS_MODERATE_0)

#: IQ payloads this plugin answers (``{namespace}name``).
MODERATE_TAG = f"{{{NS_MODERATE}}}moderate"
APPLY_TO_TAG = f"{{{NS_FASTEN}}}apply-to"

#: Protocol generations, to answer in the form a request used.
CURRENT = 1
LEGACY = 0


@dataclass(frozen=True)
class RetractRequest:
    """A sender asks to retract one of its own messages."""

    target_id: str
    version: int  # CURRENT (retract:1) or LEGACY (apply-to + retract:0)


@dataclass(frozen=True)
class ModerateRequest:
    """A moderator asks the room to retract someone's message."""

    target_id: str
    reason: str
    version: int  # CURRENT (moderate:1, XEP-0425 0.3.0) or LEGACY (apply-to + moderate:0, 0.2)


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def parse_retract(message: Element) -> RetractRequest | None:
    """The retraction a message carries, or None when it carries none.

    A ``<retract>`` holding ``<moderated>`` is a moderation notice: only the room
    sends those, so it is reported by :func:`forged_moderation`, not here.
    """
    retract = message.find(f"{{{NS_RETRACT}}}retract")
    if retract is not None:
        target = (retract.get("id") or "").strip()
        if not target:
            raise StanzaError("bad-request", "the <retract/> element needs the id of the message to retract")
        return RetractRequest(target, CURRENT)
    apply_to = message.find(APPLY_TO_TAG)
    if apply_to is not None and apply_to.find(f"{{{NS_RETRACT_0}}}retract") is not None:
        target = (apply_to.get("id") or "").strip()
        if not target:
            raise StanzaError("bad-request", "the <apply-to/> element needs the id of the message to retract")
        return RetractRequest(target, LEGACY)
    return None


def forged_moderation(message: Element) -> bool:
    """True if a message claims to be a moderation notice or a tombstone.

    Those only ever come from the room itself (XEP-0425 business rules) or from
    the archive; an occupant sending one tries to make others hide a message.
    """
    retract = message.find(f"{{{NS_RETRACT}}}retract")
    if retract is not None and retract.find(f"{{{NS_MODERATE}}}moderated") is not None:
        return True
    apply_to = message.find(APPLY_TO_TAG)
    if apply_to is not None and apply_to.find(f"{{{NS_MODERATE_0}}}moderated") is not None:
        return True
    return (message.find(f"{{{NS_RETRACT}}}retracted") is not None
            or message.find(f"{{{NS_RETRACT_0}}}retracted") is not None)


def is_retraction(message: Element | str) -> bool:
    """True for a retraction or moderation notice (those cannot be retracted themselves)."""
    if isinstance(message, str):
        message = fromstring(message)
    if message.find(f"{{{NS_RETRACT}}}retract") is not None:
        return True
    apply_to = message.find(APPLY_TO_TAG)
    return apply_to is not None and (apply_to.find(f"{{{NS_RETRACT_0}}}retract") is not None
                                     or apply_to.find(f"{{{NS_MODERATE_0}}}moderated") is not None)


def parse_moderate(payload: Element) -> ModerateRequest | None:
    """Parse an IQ set payload: ``<moderate/>`` (0.3.0) or ``<apply-to><moderate/>`` (0.2).

    Returns None for an ``<apply-to/>`` that is not a moderation (another kind of
    fastening is not ours to answer).
    """
    if payload.tag == MODERATE_TAG:
        target = (payload.get("id") or "").strip()
        if not target:
            raise StanzaError("bad-request", "the <moderate/> element needs the stanza-id of the message")
        if payload.find(f"{{{NS_RETRACT}}}retract") is None:
            # XEP-0425 leaves room for other moderator actions; retraction is the only one defined.
            raise StanzaError("feature-not-implemented", "only the retraction of a message can be moderated here")
        return ModerateRequest(target, _text(payload.find(f"{{{NS_MODERATE}}}reason")), CURRENT)
    if payload.tag == APPLY_TO_TAG:
        moderate = payload.find(f"{{{NS_MODERATE_0}}}moderate")
        if moderate is None:
            return None
        target = (payload.get("id") or "").strip()
        if not target:
            raise StanzaError("bad-request", "the <apply-to/> element needs the stanza-id of the message")
        if moderate.find(f"{{{NS_RETRACT_0}}}retract") is None:
            raise StanzaError("feature-not-implemented", "only the retraction of a message can be moderated here")
        return ModerateRequest(target, _text(moderate.find(f"{{{NS_MODERATE_0}}}reason")), LEGACY)
    return None


def stamp(timestamp: float) -> str:
    """XEP-0082 date-time in UTC."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _moderated(namespace: str, by: str, occupant_id: str) -> Element:
    moderated = Element(f"{{{namespace}}}moderated")
    if by:
        moderated.set("by", by)
    if occupant_id and namespace == NS_MODERATE:
        SubElement(moderated, f"{{{NS_OCCUPANT_ID}}}occupant-id", {"id": occupant_id})
    return moderated


def build_tombstone(timestamp: float, retraction_id: str = "", *, moderated_by: str | None = None,
                    moderator_occupant_id: str = "", reason: str = "") -> Element:
    """``<retracted xmlns='urn:xmpp:message-retract:1' id stamp>`` that replaces an archived message.

    ``retraction_id`` is the 'id' of the retraction message (XEP-0424 §Tombstones),
    so clients can match the tombstone to it. ``moderated_by`` (possibly "") marks
    a moderation and adds ``<moderated/>``; the reason is kept only for those.
    """
    retracted = Element(f"{{{NS_RETRACT}}}retracted", {"stamp": stamp(timestamp)})
    if retraction_id:
        retracted.set("id", retraction_id)
    if moderated_by is not None:
        retracted.append(_moderated(NS_MODERATE, moderated_by, moderator_occupant_id))
        if reason:
            SubElement(retracted, f"{{{NS_RETRACT}}}reason").text = reason
    return retracted


def build_legacy_tombstone(timestamp: float, *, moderated_by: str | None = None, reason: str = "") -> Element:
    """The same tombstone in the older forms (XEP-0424 0.3 / XEP-0425 0.2), stored alongside the
    current one so that clients of either generation recognise it (Converse 10, Prosody 0.12's module):
    ``<retracted xmlns='urn:xmpp:message-retract:0'/>``, inside ``<moderated xmlns='…moderate:0'>``
    for a moderation."""
    retracted = Element(f"{{{NS_RETRACT_0}}}retracted", {"stamp": stamp(timestamp)})
    if moderated_by is None:
        return retracted
    moderated = Element(f"{{{NS_MODERATE_0}}}moderated")
    if moderated_by:
        moderated.set("by", moderated_by)
    moderated.append(retracted)
    if reason:
        SubElement(moderated, f"{{{NS_MODERATE_0}}}reason").text = reason
    return moderated


def build_moderation_notice(target_id: str, by: str, occupant_id: str = "", reason: str = "") -> Element:
    """XEP-0425 0.3.0 notice the room broadcasts from its bare JID."""
    retract = Element(f"{{{NS_RETRACT}}}retract", {"id": target_id})
    retract.append(_moderated(NS_MODERATE, by, occupant_id))
    if reason:
        SubElement(retract, f"{{{NS_RETRACT}}}reason").text = reason
    return retract


def build_legacy_moderation_notice(target_id: str, by: str, reason: str = "") -> Element:
    """XEP-0425 0.2 notice: ``<apply-to><moderated><retract/><reason/></moderated></apply-to>``."""
    apply_to = Element(APPLY_TO_TAG, {"id": target_id})
    moderated = SubElement(apply_to, f"{{{NS_MODERATE_0}}}moderated")
    if by:
        moderated.set("by", by)
    SubElement(moderated, f"{{{NS_RETRACT_0}}}retract")
    if reason:
        SubElement(moderated, f"{{{NS_MODERATE_0}}}reason").text = reason
    return apply_to


def build_fallback_body(text: str, lang: str = "") -> list[Element]:
    """A XEP-0428 fallback body for clients that do not know retractions, plus the store hint."""
    fallback = Element(f"{{{NS_FALLBACK}}}fallback", {"for": NS_RETRACT})
    body = Element(f"{{{NS_STREAM}}}body")
    body.text = text
    if lang:
        body.set(f"{{{NS_XML}}}lang", lang)
    return [fallback, body, Element(f"{{{NS_HINTS}}}store")]


def build_retract(target_id: str, fallback_text: str = "", lang: str = "") -> list[Element]:
    """Payload of a retraction message (XEP-0424 0.4), e.g. to relay one in a 1:1 conversation."""
    payload = [Element(f"{{{NS_RETRACT}}}retract", {"id": target_id})]
    if fallback_text:
        payload += build_fallback_body(fallback_text, lang)
    else:
        payload.append(Element(f"{{{NS_HINTS}}}store"))
    return payload


def message_lang(message: Element, default: str = "en") -> str:
    return message.get(f"{{{NS_XML}}}lang") or default
