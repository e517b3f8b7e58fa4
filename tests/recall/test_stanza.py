"""Parsing and building the retraction and moderation wire forms (XEP-0424, XEP-0425, XEP-0422)."""

from __future__ import annotations

from xml.etree.ElementTree import Element, fromstring, tostring

import pytest

from component.errors import StanzaError
from plugins.recall import stanza

C = "jabber:component:accept"


def msg(inner: str) -> Element:
    return fromstring(f"<message xmlns='{C}' type='groupchat' id='r1'>{inner}</message>")


def test_parse_current_retract():
    request = stanza.parse_retract(msg(
        "<retract xmlns='urn:xmpp:message-retract:1' id='SID-1'/>"
        "<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/>"
        "<body>/me retracted a previous message</body><store xmlns='urn:xmpp:hints'/>"))
    assert request == stanza.RetractRequest("SID-1", stanza.CURRENT)


def test_parse_legacy_apply_to_retract():
    request = stanza.parse_retract(msg(
        "<apply-to xmlns='urn:xmpp:fasten:0' id='origin-1'><retract xmlns='urn:xmpp:message-retract:0'/>"
        "</apply-to><fallback xmlns='urn:xmpp:fallback:0'/><body>retracted</body>"))
    assert request == stanza.RetractRequest("origin-1", stanza.LEGACY)


@pytest.mark.parametrize("inner", [
    "<body>hello</body>",
    "<apply-to xmlns='urn:xmpp:fasten:0' id='x'><external xmlns='urn:xmpp:fasten:0' name='body'/></apply-to>",
    "<retract xmlns='urn:example:other' id='x'/>",
])
def test_messages_without_retraction(inner):
    assert stanza.parse_retract(msg(inner)) is None


@pytest.mark.parametrize("inner", [
    "<retract xmlns='urn:xmpp:message-retract:1'/>",
    "<retract xmlns='urn:xmpp:message-retract:1' id='  '/>",
    "<apply-to xmlns='urn:xmpp:fasten:0'><retract xmlns='urn:xmpp:message-retract:0'/></apply-to>",
])
def test_retract_without_id_is_bad_request(inner):
    with pytest.raises(StanzaError) as err:
        stanza.parse_retract(msg(inner))
    assert (err.value.condition, err.value.etype) == ("bad-request", "modify")


@pytest.mark.parametrize("inner,forged", [
    ("<retract xmlns='urn:xmpp:message-retract:1' id='x'><moderated xmlns='urn:xmpp:message-moderate:1' "
     "by='r@h/m'/></retract>", True),
    ("<apply-to xmlns='urn:xmpp:fasten:0' id='x'><moderated xmlns='urn:xmpp:message-moderate:0'>"
     "<retract xmlns='urn:xmpp:message-retract:0'/></moderated></apply-to>", True),
    ("<retracted xmlns='urn:xmpp:message-retract:1' id='x' stamp='2024-01-01T00:00:00Z'/>", True),
    ("<retracted xmlns='urn:xmpp:message-retract:0' stamp='2024-01-01T00:00:00Z'/>", True),
    ("<retract xmlns='urn:xmpp:message-retract:1' id='x'/>", False),
    ("<body>hi</body>", False),
])
def test_forged_moderation(inner, forged):
    assert stanza.forged_moderation(msg(inner)) is forged


@pytest.mark.parametrize("inner,expected", [
    ("<retract xmlns='urn:xmpp:message-retract:1' id='x'/><body>fallback</body>", True),
    ("<apply-to xmlns='urn:xmpp:fasten:0' id='x'><retract xmlns='urn:xmpp:message-retract:0'/></apply-to>", True),
    ("<apply-to xmlns='urn:xmpp:fasten:0' id='x'><moderated xmlns='urn:xmpp:message-moderate:0'/></apply-to>", True),
    ("<body>hello</body>", False),
    ("<body>about urn:xmpp:message-retract:1</body>", False),
])
def test_is_retraction_on_elements_and_serialized(inner, expected):
    element = msg(inner)
    assert stanza.is_retraction(element) is expected
    assert stanza.is_retraction(tostring(element, encoding="unicode")) is expected


def test_parse_moderate_current():
    payload = fromstring("<moderate xmlns='urn:xmpp:message-moderate:1' id='SID-9'>"
                         "<retract xmlns='urn:xmpp:message-retract:1'/><reason> spam </reason></moderate>")
    assert stanza.parse_moderate(payload) == stanza.ModerateRequest("SID-9", "spam", stanza.CURRENT)


def test_parse_moderate_legacy():
    payload = fromstring("<apply-to xmlns='urn:xmpp:fasten:0' id='SID-9'>"
                         "<moderate xmlns='urn:xmpp:message-moderate:0'><retract xmlns='urn:xmpp:message-retract:0'/>"
                         "<reason>off topic</reason></moderate></apply-to>")
    assert stanza.parse_moderate(payload) == stanza.ModerateRequest("SID-9", "off topic", stanza.LEGACY)


def test_parse_moderate_other_fastening_is_not_ours():
    payload = fromstring("<apply-to xmlns='urn:xmpp:fasten:0' id='x'><external xmlns='urn:xmpp:fasten:0'/></apply-to>")
    assert stanza.parse_moderate(payload) is None


@pytest.mark.parametrize("xml,condition", [
    ("<moderate xmlns='urn:xmpp:message-moderate:1'><retract xmlns='urn:xmpp:message-retract:1'/></moderate>",
     "bad-request"),
    ("<moderate xmlns='urn:xmpp:message-moderate:1' id='x'><reason>edit it</reason></moderate>",
     "feature-not-implemented"),
    ("<apply-to xmlns='urn:xmpp:fasten:0'><moderate xmlns='urn:xmpp:message-moderate:0'>"
     "<retract xmlns='urn:xmpp:message-retract:0'/></moderate></apply-to>", "bad-request"),
    ("<apply-to xmlns='urn:xmpp:fasten:0' id='x'><moderate xmlns='urn:xmpp:message-moderate:0'/></apply-to>",
     "feature-not-implemented"),
])
def test_parse_moderate_refusals(xml, condition):
    with pytest.raises(StanzaError) as err:
        stanza.parse_moderate(fromstring(xml))
    assert err.value.condition == condition


def test_tombstone_of_self_retraction():
    tomb = stanza.build_tombstone(1700000000.5, "retract-message-1")
    assert tomb.tag == "{urn:xmpp:message-retract:1}retracted"
    assert tomb.attrib == {"stamp": "2023-11-14T22:13:20Z", "id": "retract-message-1"}
    assert len(tomb) == 0


def test_tombstone_of_moderation():
    tomb = stanza.build_tombstone(1700000000, moderated_by="room@rooms.example/mod", moderator_occupant_id="occ-m",
                                  reason="spam")
    moderated = tomb.find("{urn:xmpp:message-moderate:1}moderated")
    assert moderated.get("by") == "room@rooms.example/mod"
    assert moderated.find("{urn:xmpp:occupant-id:0}occupant-id").get("id") == "occ-m"
    assert tomb.findtext("{urn:xmpp:message-retract:1}reason") == "spam"
    assert "id" not in tomb.attrib


def test_moderation_notice_current_form():
    notice = stanza.build_moderation_notice("SID-1", "room@rooms.example/mod", "occ-m", "spam")
    assert notice.tag == "{urn:xmpp:message-retract:1}retract" and notice.get("id") == "SID-1"
    moderated = notice.find("{urn:xmpp:message-moderate:1}moderated")
    assert moderated.get("by") == "room@rooms.example/mod"
    assert moderated.find("{urn:xmpp:occupant-id:0}occupant-id").get("id") == "occ-m"
    assert notice.findtext("{urn:xmpp:message-retract:1}reason") == "spam"


def test_moderation_notice_legacy_form():
    notice = stanza.build_legacy_moderation_notice("SID-1", "room@rooms.example/mod", "spam")
    assert notice.tag == "{urn:xmpp:fasten:0}apply-to" and notice.get("id") == "SID-1"
    moderated = notice.find("{urn:xmpp:message-moderate:0}moderated")
    assert moderated.get("by") == "room@rooms.example/mod"
    assert moderated.find("{urn:xmpp:message-retract:0}retract") is not None
    assert moderated.findtext("{urn:xmpp:message-moderate:0}reason") == "spam"


def test_notices_without_reason_have_no_reason_element():
    assert stanza.build_moderation_notice("S", "r@h/m").find("{urn:xmpp:message-retract:1}reason") is None
    legacy = stanza.build_legacy_moderation_notice("S", "r@h/m")
    assert legacy.find(".//{urn:xmpp:message-moderate:0}reason") is None


def test_retract_payload_for_relays():
    payload = stanza.build_retract("orig-1", "retracted", "zh")
    tags = [e.tag for e in payload]
    assert tags == ["{urn:xmpp:message-retract:1}retract", "{urn:xmpp:fallback:0}fallback",
                    f"{{{C}}}body", "{urn:xmpp:hints}store"]
    assert payload[0].get("id") == "orig-1"
    assert payload[1].get("for") == stanza.NS_RETRACT
    assert payload[2].get("{http://www.w3.org/XML/1998/namespace}lang") == "zh"
    assert [e.tag for e in stanza.build_retract("x")] == ["{urn:xmpp:message-retract:1}retract",
                                                          "{urn:xmpp:hints}store"]


def test_built_elements_serialize_within_a_stream_message():
    from slixmpp.xmlstream import tostring as slix_tostring

    message = Element(f"{{{C}}}message")
    for element in stanza.build_retract("orig-1", "fallback text"):
        message.append(element)
    text = slix_tostring(message, xmlns=C, top_level=True)
    # The fallback body is in the stanza's own namespace, not in none.
    assert "<body>fallback text</body>" in text
    assert 'xmlns=""' not in text


def test_message_lang():
    assert stanza.message_lang(fromstring(
        "<message xmlns='jabber:client' xml:lang='zh-CN'/>")) == "zh-CN"
    assert stanza.message_lang(msg("")) == "en"
