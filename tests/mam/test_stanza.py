"""MAM wire format: query parsing and its refusals, result and fin building, the compact serializer."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from component.errors import StanzaError
from plugins.mam import stanza as wire

FORM = "<x xmlns='jabber:x:data' type='submit'>{}</x>"
FT = "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>"


def query(inner: str = "", attrs: str = "") -> ET.Element:
    return ET.fromstring(f"<query xmlns='urn:xmpp:mam:2' {attrs}>{inner}</query>")


def field(var: str, *values: str) -> str:
    return f"<field var='{var}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"


def test_parse_full_query():
    spec = wire.parse_query(query(
        FORM.format(FT + field("with", "room@rooms.example/nick") + field("start", "2024-05-01T12:00:00Z")
                    + field("end", "2024-05-01T14:00:00.500+02:00") + field("before-id", "B")
                    + field("after-id", "A") + field("ids", "1", "2"))
        + "<set xmlns='http://jabber.org/protocol/rsm'><max>20</max><after>X</after></set><flip-page/>",
        "queryid='q1'"))
    assert spec.queryid == "q1" and spec.with_jid == "room@rooms.example/nick"
    assert spec.start == 1714564800.0 and spec.end == 1714564800.5
    assert (spec.before_id, spec.after_id, spec.ids) == ("B", "A", ["1", "2"])
    assert (spec.max, spec.after, spec.before, spec.flip) == (20, "X", None, True)


def test_parse_empty_before_and_empty_fields():
    spec = wire.parse_query(query(FORM.format(FT + "<field var='with'/>")
                                  + "<set xmlns='http://jabber.org/protocol/rsm'><before/></set>"))
    assert spec.before == "" and spec.with_jid is None and spec.max is None
    spec = wire.parse_query(query())
    assert spec == wire.QuerySpec()


@pytest.mark.parametrize("inner, condition, words", [
    (FORM.format(FT + field("colour", "red")), "feature-not-implemented", "colour"),
    (FORM.format(FT + field("start", "yesterday")), "bad-request", "start"),
    (FORM.format(FT + field("end", "2024-13-45T99:00:00Z")), "bad-request", "end"),
    (FORM.format(FT + field("with", "a@b@c")), "bad-request", "with"),
    (FORM.format(FT + field("with", "a@example.org", "b@example.org")), "bad-request", "single"),
    (FORM.format("<field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field>"), "bad-request", "FORM_TYPE"),
    ("<x xmlns='jabber:x:data' type='form'/>", "bad-request", "submit"),
    ("<set xmlns='http://jabber.org/protocol/rsm'><max>ten</max></set>", "bad-request", "max"),
    ("<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>", "bad-request", "max"),
    ("<set xmlns='http://jabber.org/protocol/rsm'><after/></set>", "bad-request", "after"),
    ("<set xmlns='http://jabber.org/protocol/rsm'><index>2</index><after>x</after></set>", "bad-request", "index"),
])
def test_malformed_queries_are_refused_with_a_text(inner, condition, words):
    with pytest.raises(StanzaError) as err:
        wire.parse_query(query(inner))
    assert err.value.condition == condition
    assert words in err.value.text


def test_pubsub_node_queries_are_not_implemented():
    with pytest.raises(StanzaError) as err:
        wire.parse_query(query(attrs="node='urn:xmpp:microblog:0'"))
    assert err.value.condition == "feature-not-implemented"


def test_query_form_lists_every_field():
    form = wire.query_form()
    fields = {f.get("var"): f.get("type") for f in form.iter("{jabber:x:data}field")}
    assert fields == {"FORM_TYPE": "hidden", "with": "jid-single", "start": "text-single", "end": "text-single",
                      "before-id": "text-single", "after-id": "text-single", "ids": "list-multi"}
    assert form.find(".//{http://jabber.org/protocol/xdata-validate}open") is not None
    assert form.find("{jabber:x:data}x").get("type") == "form"


def test_result_message_escapes_and_nests():
    xml = wire.result_message('alice@example.org/a"b', "room@rooms.example", "q<1>", "ID1", 0.25,
                              '<message xmlns="jabber:client" from="room@rooms.example/n"><body>x</body></message>')
    parsed = ET.fromstring(f"<stream xmlns='jabber:component:accept'>{xml}</stream>")[0]
    assert parsed.tag == "{jabber:component:accept}message" and parsed.get("to") == 'alice@example.org/a"b'
    result = parsed.find("{urn:xmpp:mam:2}result")
    assert result.get("queryid") == "q<1>" and result.get("id") == "ID1"
    delay = result.find("{urn:xmpp:forward:0}forwarded/{urn:xmpp:delay}delay")
    assert delay.get("stamp") == "1970-01-01T00:00:00.250Z"
    inner = result.find("{urn:xmpp:forward:0}forwarded/{jabber:client}message")
    assert inner.findtext("{jabber:client}body") == "x"


def test_real_jid_insertion():
    stored = '<message xmlns="jabber:client" from="r@h/n"><body>x</body></message>'
    out = ET.fromstring(wire.with_real_jid(stored, "a&b@example.org"))
    assert out.find("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}item").get(
        "jid") == "a&b@example.org"
    empty = ET.fromstring(wire.with_real_jid('<message xmlns="jabber:client" from="r@h/n"/>', "a@b"))
    assert empty.find("{http://jabber.org/protocol/muc#user}x") is not None


def test_fin_and_metadata():
    fin = wire.fin(True, "A", "B", 10, 3)
    assert fin.get("complete") == "true"
    rsm = fin.find("{http://jabber.org/protocol/rsm}set")
    assert rsm.find("{http://jabber.org/protocol/rsm}first").get("index") == "3"
    assert rsm.findtext("{http://jabber.org/protocol/rsm}last") == "B"
    assert rsm.findtext("{http://jabber.org/protocol/rsm}count") == "10"
    fin = wire.fin(False, None, None, 0, None)
    assert fin.get("complete") is None and fin.find(".//{http://jabber.org/protocol/rsm}first") is None
    assert len(wire.metadata(None, None)) == 0
    meta = wire.metadata(("A", 0.0), ("B", 1.5))
    assert meta.find("{urn:xmpp:mam:2}start").attrib == {"id": "A", "timestamp": "1970-01-01T00:00:00.000Z"}
    assert meta.find("{urn:xmpp:mam:2}end").get("timestamp") == "1970-01-01T00:00:01.500Z"


def test_serializer_is_compact_and_round_trips():
    elem = ET.Element("{jabber:component:accept}message", {"from": "r@h/n\t1", "type": "groupchat",
                                                             "{http://www.w3.org/XML/1998/namespace}lang": "zh"})
    ET.SubElement(elem, "{jabber:component:accept}body").text = "你好 <&> \"q\""
    sid = ET.SubElement(elem, "{urn:xmpp:sid:0}stanza-id", {"id": "1", "by": "r@h"})
    sid.tail = None
    reply = ET.SubElement(elem, "{urn:xmpp:reply:0}reply", {"id": "x"})
    ET.SubElement(reply, "{urn:xmpp:reply:0}to").text = "t"
    xml = wire.serialize(elem)
    assert xml.startswith('<message xmlns="jabber:client"')
    assert 'xml:lang="zh"' in xml and "\n" not in xml and "ns0" not in xml
    assert '<reply xmlns="urn:xmpp:reply:0" id="x"><to>t</to></reply>' in xml
    back = ET.fromstring(xml)
    assert back.get("from") == "r@h/n\t1"
    assert back.findtext("{jabber:client}body") == "你好 <&> \"q\""
    assert back.find("{urn:xmpp:sid:0}stanza-id").get("by") == "r@h"


def test_envelope_keeps_addressing_only():
    stored = ('<message xmlns="jabber:client" from="r@h/n" type="groupchat" id="c1" xml:lang="en">'
              '<body>secret</body><origin-id xmlns="urn:xmpp:sid:0" id="o"/></message>')
    tomb = ET.Element("{urn:xmpp:message-retract:1}retracted", {"id": "R"})
    out = wire.envelope(stored, tomb)
    assert "secret" not in out
    parsed = ET.fromstring(out)
    assert parsed.attrib == {"from": "r@h/n", "type": "groupchat", "id": "c1"}
    assert [c.tag for c in parsed] == ["{urn:xmpp:message-retract:1}retracted"]


@pytest.mark.parametrize("children, archived", [
    ("<body>hi</body>", True),
    ("<subject>topic</subject>", True),
    ("<active xmlns='http://jabber.org/protocol/chatstates'/>", False),
    ("<displayed xmlns='urn:xmpp:chat-markers:0' id='x'/>", False),
    ("<retract xmlns='urn:xmpp:message-retract:1' id='x'/>", True),
    ("<reactions xmlns='urn:xmpp:reactions:0' id='x'/>", True),
    ("<body>hi</body><no-store xmlns='urn:xmpp:hints'/>", False),
    ("<composing xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/>", True),
])
def test_what_rooms_archive(children, archived):
    elem = ET.fromstring(f"<message xmlns='jabber:client' type='groupchat'>{children}</message>")
    assert wire.should_archive(elem) is archived


def test_stamps():
    assert wire.parse_stamp("1970-01-01T00:00:10Z") == 10.0
    assert wire.parse_stamp("1970-01-01T01:00:10+01:00") == 10.0
    assert wire.parse_stamp("1970-01-01T00:00:10.123456Z") == pytest.approx(10.123456)
    with pytest.raises(ValueError):
        wire.parse_stamp("1970-01-01")
    assert wire.format_stamp(10.0) == "1970-01-01T00:00:10.000Z"
