"""Pacing (component/pacing.py): bulk notices wait while the server is behind; nothing overtakes a stanza
to the same address; the markers really come back through the server."""

from __future__ import annotations

import asyncio
import time
from xml.etree.ElementTree import Element, SubElement

import pytest

from component.metrics import CoreCollector
from component.pacing import Pacer

from . import harness

pytestmark = pytest.mark.timeout(60)


class Wire:
    """What the pacer wrote, and the markers it sent."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.markers: list[str] = []

    def pacer(self, window: int, timeout: float = 2.0) -> Pacer:
        pacer = Pacer(lambda data, _count: self.written.append(data), self.markers.append, window, timeout)
        pacer.connected()
        return pacer

    def back(self, pacer: Pacer, count: int | None = None) -> None:
        """The server hands back the oldest ``count`` markers (all: None)."""
        handed = self.markers[:count]
        del self.markers[:len(handed)]  # before handing back: that sends new ones
        for marker in handed:
            pacer.marker_back(marker)

    def drain(self, pacer: Pacer) -> int:
        """The server keeps handing markers back until nothing waits; how many rounds it took."""
        rounds = 0
        while pacer.waiting and rounds < 50:
            self.back(pacer)
            rounds += 1
        return rounds


async def test_bulk_is_written_while_the_server_keeps_up_and_waits_beyond_the_window():
    wire = Wire()
    pacer = wire.pacer(window=4)
    for n in range(10):
        pacer.bulk(f"a{n}", "a@example.com/x")
    assert wire.written == ["a0", "a1", "a2", "a3"] and pacer.waiting == 6 and pacer.outstanding == 4
    assert len(wire.markers) == 1  # sent once something waited, none before
    wire.back(pacer)  # the server has handled the four: four more may go
    assert wire.written[4:] == ["a4", "a5", "a6", "a7"] and pacer.waiting == 2
    wire.drain(pacer)
    assert wire.written == [f"a{n}" for n in range(10)] and pacer.waiting == 0


async def test_a_service_that_sends_no_bulk_sends_no_markers_and_bulk_after_it_waits_one_round_trip():
    wire = Wire()
    pacer = wire.pacer(window=4)
    for n in range(100):
        pacer.urgent(f"<message to='r{n}@example.com'/>", f"r{n}@example.com")
    assert len(wire.written) == 100 and wire.markers == []
    pacer.bulk("notice", "a@example.com")  # the server may still be behind those hundred: asked first
    assert wire.written[-1] != "notice" and len(wire.markers) == 1
    wire.back(pacer)
    assert wire.written[-1] == "notice" and pacer.outstanding == 1


async def test_an_urgent_stanza_overtakes_bulk_to_others_but_never_to_its_own_addressee():
    wire = Wire()
    pacer = wire.pacer(window=2)
    for n in range(4):
        pacer.bulk(f"a{n}", "a@example.com")
        pacer.bulk(f"b{n}", "B@Example.com/desk")
    assert wire.written == ["a0", "b0"]
    pacer.urgent("offer-to-c", "c@example.com/phone")
    assert wire.written[-1] == "offer-to-c"  # nothing waiting for c: straight out
    pacer.urgent("offer-to-b", "b@example.com/laptop")
    # What waited for b (any resource, any case) goes first, in order; a's notices still wait.
    assert wire.written[3:] == ["b1", "b2", "b3", "offer-to-b"] and pacer.waiting == 3
    wire.drain(pacer)
    assert wire.written[7:] == ["a1", "a2", "a3"]
    # Several stanzas in one write name no single address: everything waiting goes before them.
    for n in range(6):
        pacer.bulk(f"d{n}", "d@example.com")
    pacer.urgent("<fan-out/><fan-out/>", None, count=2)
    assert wire.written[-1] == "<fan-out/><fan-out/>" and pacer.waiting == 0


async def test_an_urgent_stanza_keeps_its_order_with_its_own_sender_only():
    """RFC 6120 orders what one address sends to another: an offer from a new conversation's address
    need not wait behind the transcript an agent gets from the previous one's."""
    wire = Wire()
    pacer = wire.pacer(window=1)
    pacer.bulk("filler", "x@example.com")
    pacer.bulk("transcript-1", "agent@example.com", "t-1@desk.example")
    pacer.bulk("intro-1", "agent@example.com/desk", "T-1@desk.example/any")
    pacer.bulk("notice", "agent@example.com")  # its sender unknown: it might be anyone's
    pacer.urgent("offer-2", "agent@example.com/desk", sender="t-2@desk.example")
    assert wire.written == ["filler", "notice", "offer-2"] and pacer.waiting == 2
    pacer.urgent("message-1", "agent@example.com/desk", sender="t-1@desk.example")
    assert wire.written[3:] == ["transcript-1", "intro-1", "message-1"] and pacer.waiting == 0
    # Without a sender, everything waiting for the addressee goes first.
    pacer.bulk("a", "agent@example.com", "t-3@desk.example")
    pacer.bulk("b", "agent@example.com", "t-4@desk.example")
    pacer.urgent("unsigned", "agent@example.com")
    assert wire.written[6:] == ["a", "b", "unsigned"] and pacer.waiting == 0 and not wire.drain(pacer)


async def test_a_marker_that_never_comes_back_counts_as_handled():
    wire = Wire()
    pacer = wire.pacer(window=1, timeout=0.05)
    pacer.bulk("first", "a@example.com")
    pacer.bulk("second", "a@example.com")
    assert wire.written == ["first"]
    await asyncio.sleep(0.2)  # the server dropped the marker
    assert wire.written == ["first", "second"] and pacer.markers_lost >= 1


async def test_a_server_that_never_hands_markers_back_turns_pacing_off():
    wire = Wire()
    pacer = wire.pacer(window=1, timeout=0.02)
    for n in range(5):
        pacer.bulk(f"n{n}", "a@example.com")
    # Each lost marker lets one more out (slowly); the third in a row turns pacing off and lets the rest go.
    for _ in range(100):
        if pacer.off:
            break
        await asyncio.sleep(0.01)
    assert pacer.off and pacer.markers_lost == 3
    assert wire.written == [f"n{n}" for n in range(5)] and pacer.waiting == 0
    markers = len(wire.markers)
    pacer.bulk("after", "a@example.com")
    assert wire.written[-1] == "after" and len(wire.markers) == markers  # straight out, nothing asked


async def test_a_slow_server_that_handed_a_marker_back_stays_paced():
    wire = Wire()
    pacer = wire.pacer(window=1, timeout=0.02)
    pacer.bulk("n0", "a@example.com")
    pacer.bulk("n1", "a@example.com")
    wire.back(pacer)  # the server does hand markers back
    for n in range(2, 7):
        pacer.bulk(f"n{n}", "a@example.com")
    await asyncio.sleep(0.15)  # then it is too slow for several in a row: each counts as handled
    assert pacer.markers_lost >= 3 and not pacer.off
    assert wire.written == [f"n{n}" for n in range(7)] and pacer.waiting == 0


async def test_while_the_connection_is_down_bulk_waits_for_the_next_one():
    wire = Wire()
    pacer = wire.pacer(window=4)
    pacer.bulk("before", "a@example.com")
    pacer.connection_lost()
    pacer.bulk("during", "a@example.com")
    assert wire.written == ["before"] and pacer.outstanding == 0
    pacer.connected()
    assert wire.written == ["before", "during"]


def notice(to: str, sender: str, body: str) -> Element:
    msg = Element("{jabber:client}message", {"to": to, "from": sender, "type": "chat"})
    SubElement(msg, "{jabber:client}body").text = body
    return msg


async def test_through_the_server_an_urgent_stanza_overtakes_bulk_and_the_markers_come_back(component, xmpp_server):
    extra = "extra.localhost"
    app = await component({extra: {"echo": {}}}, server_options={"pacing_window": 4})
    service = app.services[extra]
    assert service.pacer is not None
    async with harness.slix_client(xmpp_server.ports.c2s, "alice") as alice, \
            harness.slix_client(xmpp_server.ports.c2s, "bob") as bob:
        arrived: dict[str, list[tuple[float, str]]] = {"alice": [], "bob": []}
        for name, client in (("alice", alice), ("bob", bob)):
            client.add_event_handler("message",
                                     lambda m, name=name: arrived[name].append((time.monotonic(), m["body"])))
        sender = f"desk@{extra}"
        for n in range(200):
            service.send_bulk(notice(alice.boundjid.full, sender, f"notice {n}"))
        held = service.pacer.waiting
        assert held > 150  # the server has not answered a marker yet
        written = service.pacer.outstanding
        service.send_element(notice(bob.boundjid.full, sender, "offer"))
        # The offer went out at once, ahead of every notice still held. Which client then reads its
        # stanza first is the server's scheduling (ejabberd delivers through one process per
        # session), so the overtaking is checked here, where the component writes.
        assert service.pacer.outstanding == written + 1 and service.pacer.waiting == held
        # What slixmpp sends for us goes our way too: after everything waiting for its addressee.
        service.xmpp.send_message(mto=alice.boundjid.full, mfrom=sender, mbody="last", mtype="chat")
        assert service.pacer.waiting == 0
        deadline = time.monotonic() + 20
        while (len(arrived["alice"]) < 201 or not arrived["bob"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [body for _t, body in arrived["alice"]] == [f"notice {n}" for n in range(200)] + ["last"]
        assert [body for _t, body in arrived["bob"]] == ["offer"]
        # Everything went out on markers that came back through the server, none on a timeout.
        assert service.pacer.waiting == 0 and service.pacer.markers_lost == 0
        # What /metrics shows (the status listener is off here: its collector is read directly).
        shown = {sample.name: sample.value for family in CoreCollector(app).collect() for sample in family.samples
                 if sample.labels.get("domain") == extra}
        assert shown["switchboard_pacing_delayed_total"] == service.pacer.delayed > 150
        assert shown["switchboard_pacing_waiting"] == shown["switchboard_pacing_markers_lost_total"] == 0
        # The markers stayed inside: the echo service saw no message of its own.
        assert service.stanza_counts.get(("in", "message"), 0) == 0
