"""The live monitor feed's payload without a network: what it says, and that it is valid (XSD)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from xml.etree.ElementTree import Element

import pytest
from lxml import etree

from plugins.support_reports.feed import NS, monitor_element, node_of, queue_of, service_level, stamp, today_element
from plugins.support_reports.metrics import queue_figures
from plugins.support_reports.monitor import snapshot
from plugins.support_reports.publisher import probe_element

from ..schema import ROOT, assert_valid
from .test_monitor_units import NOW, help_queue


def test_payload_of_a_busy_queue_is_valid_and_counts_agents():
    snap = snapshot([help_queue()], NOW)
    root = monitor_element(snap, "help")
    assert_valid(root)
    waiting = root.find(f"{{{NS}}}waiting")
    assert waiting.get("count") == "3" and waiting.get("oldest") == stamp(NOW - 300)
    assert [(c.get("ticket"), c.get("position"), c.get("since")) for c in waiting] == [
        ("w2", "1", stamp(NOW - 30)), ("w1", "2", stamp(NOW - 300)), ("w3", "3", stamp(NOW - 10))]
    assert waiting[0].find(f"{{{NS}}}offered").get("agent") == "a2@x"
    agents = root.find(f"{{{NS}}}agents")
    # a1 available with room, a2 away, a3 xa, a4 offline.
    assert {k: agents.get(k) for k in ("online", "available", "busy", "away")} == {
        "online": "3", "available": "1", "busy": "0", "away": "2"}
    assert [t.get("id") for t in agents[0]] == ["c1", "c2"]
    convs = root.find(f"{{{NS}}}conversations")
    assert [(c.get("ticket"), c.get("first-response")) for c in convs] == [("c1", "20.0"), ("c2", None)]
    assert root.find(f"{{{NS}}}counts").attrib == {"bot": "1", "active": "2", "pending": "1", "messages": "2"}


def test_payload_only_changes_when_something_happens():
    from xml.etree.ElementTree import tostring

    assert tostring(monitor_element(snapshot([help_queue()], NOW), "help")) == \
        tostring(monitor_element(snapshot([help_queue()], NOW + 7), "help"))


def test_full_agents_count_as_busy_and_rows_are_capped():
    queue = help_queue()
    queue.agents[0]["load"] = 3
    snap = snapshot([queue], NOW)
    root = monitor_element(snap, "help", rows=1)
    agents = root.find(f"{{{NS}}}agents")
    assert (agents.get("available"), agents.get("busy")) == ("0", "1")
    assert len(root.find(f"{{{NS}}}waiting")) == 1 and root.find(f"{{{NS}}}waiting").get("count") == "3"
    assert len(agents) == 1
    assert_valid(root)


def conv(wait=None, queued=True, abandoned=False, rating=None):
    return SimpleNamespace(wait=wait, queued_at=1.0 if queued else None, abandoned=abandoned, rating=rating)


def test_service_level_counts_settled_customers_only():
    convs = [conv(10), conv(59), conv(61), conv(abandoned=True), conv(), conv(queued=False)]
    assert service_level(convs, 60) == (2, 4)
    assert service_level([], 60) == (0, 0)


def test_today_element_is_valid_with_and_without_data():
    holder = Element("x")
    empty = today_element(holder, queue_figures([]), 0, 0, 60.0, "2026-11-21")
    assert empty.get("service-level") is None and empty.find(f"{{{NS}}}csat").get("average") is None
    full = today_element(holder, {"conversations": 4, "answered": 3, "abandoned": 1, "csat_count": 2,
                                  "csat_avg": 4.5, "csat_4": 1, "csat_5": 1, "wait_avg": 12.25}, 2, 4, 30.0,
                         "2026-11-21")
    assert full.get("service-level") == "0.500" and full.get("wait-avg") == "12.2"
    assert [s.get("count") for s in full.find(f"{{{NS}}}csat")] == ["0", "0", "0", "1", "1"]
    for element in (empty, full):
        root = monitor_element(snapshot([help_queue()], NOW), "help", today=element)
        assert_valid(root)


def test_nodes_name_queues():
    assert node_of("help") == "monitor/help" and queue_of("monitor/help") == "help"
    assert queue_of("monitor/") is None and queue_of("other/help") is None


def test_examples_are_valid():
    for name in ("monitor-notification.xml", "monitor-subscribe.xml", "monitor-cancelled.xml", "monitor-probe.xml"):
        root = etree.parse(str(Path(ROOT / "examples" / name))).getroot()
        assert root.tag.startswith("{jabber:client}")
    note = etree.parse(str(ROOT / "examples" / "monitor-notification.xml")).getroot()
    assert_valid(note.find(f".//{{{NS}}}monitor"))
    probe = etree.parse(str(ROOT / "examples" / "monitor-probe.xml")).getroot()
    assert_valid(probe.find(f"{{{NS}}}probe"))
    assert_valid(probe_element())  # what the publisher sends itself (publisher.py)


@pytest.mark.parametrize("xml", [
    f"<monitor xmlns='{NS}' queue='help' title='t' open='yes'/>",
    f"<monitor xmlns='{NS}' queue='help' title='t' open='true'><waiting count='-1'/><counts bot='0' active='0' "
    "pending='0' messages='0'/><agents online='0' available='0' busy='0' away='0' load='0' capacity='0'/>"
    "<conversations count='0'/></monitor>",
    f"<agent xmlns='{NS}' jid='a@x' status='sleeping' load='0' capacity='1'/>",
    f"<customer xmlns='{NS}' ticket='t1' jid='c@x' position='1' state='queued' since='2026-11-21T14:00:00'"
    " priority='0'/>",
])
def test_invalid_payloads_are_refused(xml: str):
    with pytest.raises(AssertionError):
        assert_valid(xml)
