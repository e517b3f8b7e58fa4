"""The canonical examples and every element builder validate against our XSDs; bad ones do not."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from plugins.support import stanza
from ..schema import ROOT, assert_valid, validate_children

EXAMPLES = sorted((ROOT / "examples").glob("support-*.xml"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_valid(path: Path):
    root = etree.parse(str(path)).getroot()
    checked = validate_children(root)
    # Workgroup elements carry ours as meta-data (offer > ticket): validate those with our XSD too.
    for child in root:
        if child.tag.startswith(f"{{{stanza.NS}}}"):
            continue
        for grandchild in child:
            if isinstance(grandchild.tag, str) and grandchild.tag.startswith(f"{{{stanza.NS}}}"):
                assert_valid(grandchild)
                checked += 1
    assert checked >= 1, f"{path.name} has no element of our namespaces"


def test_builders_are_valid():
    ticket = stanza.ticket("01hq3v9z0k8m2n4p6r8t0v2x4z", "help@s.example", "queued", "t-x@s.example")
    for el in (stanza.queue_status(0, 0), stanza.queue_status(3, 120), stanza.depart_queue(),
               stanza.offer("c@e/r", 0.4, [ticket]), stanza.offer_marker("c@e/r"),
               stanza.offer_revoke("c@e/r", "late"), stanza.offer_revoke("c@e/r", ""),
               stanza.notify_queue(0, None, 0, "open"), stanza.notify_queue(2, 1.8e9, 30, "closed"),
               stanza.notify_agents(0, 0, 0), stanza.agent_status(1, 3), stanza.agent_list(["a@e"]),
               stanza.join_queue_element(), ticket, stanza.closed("abc", "a@e"), stanza.transferred("abc", "q@e"),
               stanza.speaker("agent", "bob"), stanza.speaker("customer")):
        assert_valid(el)


@pytest.mark.parametrize("xml", [
    "<ticket xmlns='urn:switchboard:support:0' id='UPPER' queue='q@e' state='queued'/>",
    "<ticket xmlns='urn:switchboard:support:0' id='abc' queue='q@e' state='lost'/>",
    "<ticket xmlns='urn:switchboard:support:0' id='abc' state='queued'/>",
    "<transfer xmlns='urn:switchboard:support:0'/>",
    "<note xmlns='urn:switchboard:support:0'></note>",
    "<speaker xmlns='urn:switchboard:support:0' role='boss'/>",
    "<queue-status xmlns='http://jabber.org/protocol/workgroup'><position>-1</position></queue-status>",
    "<notify-queue xmlns='http://jabber.org/protocol/workgroup'><status>moderator</status></notify-queue>",
    "<offer-revoke xmlns='http://jabber.org/protocol/workgroup'/>",
])
def test_invalid_elements_are_refused(xml: str):
    with pytest.raises(AssertionError):
        assert_valid(xml)


def test_parsers():
    import xml.etree.ElementTree as ET
    presence = ET.fromstring("<presence xmlns='jabber:client'><agent-status xmlns='http://jabber.org/protocol/"
                             "workgroup'><max-chats>4</max-chats></agent-status></presence>")
    assert stanza.parse_max_chats(presence) == 4
    bad = ET.fromstring("<presence xmlns='jabber:client'><agent-status xmlns='http://jabber.org/protocol/"
                        "workgroup'><max-chats>lots</max-chats></agent-status></presence>")
    assert stanza.parse_max_chats(bad) is None
    retract = ET.fromstring("<message xmlns='jabber:client'><retract xmlns='urn:xmpp:message-retract:1' id='m1'/>"
                            "</message>")
    assert stanza.retraction_target(retract) == "m1"
    old = ET.fromstring("<message xmlns='jabber:client'><apply-to xmlns='urn:xmpp:fasten:0' id='m2'><retract "
                        "xmlns='urn:xmpp:message-retract:0'/></apply-to></message>")
    assert stanza.retraction_target(old) == "m2"
    transfer = ET.fromstring("<transfer xmlns='urn:switchboard:support:0' to='sales'><reason>x</reason></transfer>")
    assert stanza.parse_transfer(transfer) == ("sales", "x")
