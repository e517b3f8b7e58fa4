"""What differs at the server boundary, checked on whichever server the session runs (Prosody or ejabberd)."""

from __future__ import annotations

import asyncio
from xml.etree.ElementTree import Element, SubElement

import pytest
from slixmpp.exceptions import IqError

from . import harness

pytestmark = pytest.mark.timeout(60)

ROOMS, SUPPORT, OTHER = "rooms.localhost", "support.localhost", "test.localhost"
SERVICES = {ROOMS: {"muc": {}}, SUPPORT: {"mam": {}, "support": {}}}


async def identities(client, jid: str) -> set[tuple[str, str]]:
    info = await client.plugin["xep_0030"].get_info(jid=jid, timeout=10)
    return {(category, kind) for category, kind, _lang, _name in info["disco_info"]["identities"]}


async def test_each_domain_is_answered_by_its_own_service(component, xmpp_server):
    """ejabberd hands every domain of a listener to each stream on it, at random: we re-route in-process."""
    await component(SERVICES)
    async with harness.slix_client(xmpp_server.ports.c2s, "alice") as alice:
        for _ in range(8):
            assert ("conference", "text") in await identities(alice, ROOMS)
            assert ("collaboration", "workgroup") in await identities(alice, SUPPORT)


async def test_answers_to_our_requests_are_matched_whichever_stream_they_come_back_on(component, xmpp_server):
    """The same for the answers to IQs we send (the room asking an occupant's client, offers to agents)."""
    app = await component(SERVICES)
    rooms = app.services[ROOMS]
    async with harness.slix_client(xmpp_server.ports.c2s, "alice") as alice:
        for _ in range(8):
            iq = rooms.make_iq(ifrom=ROOMS, ito=alice.boundjid.full, itype="get")
            iq.xml.append(iq.xml.makeelement("{http://jabber.org/protocol/disco#info}query", {}))
            answer = await rooms.request(iq, timeout=5)
            assert answer["type"] == "result"


async def test_a_domain_this_process_does_not_serve_is_refused_not_impersonated(component, xmpp_server):
    await component({ROOMS: {"muc": {}}})
    async with harness.slix_client(xmpp_server.ports.c2s, "alice") as alice:
        with pytest.raises(IqError) as caught:
            await alice.plugin["xep_0030"].get_info(jid=OTHER, timeout=10)
        error = caught.value.iq["error"]
        if harness.SERVER == "ejabberd":
            # Our own answer: ejabberd delivered it on the rooms stream.
            assert error["condition"] == "service-unavailable"
            assert "connected on this stream" in error["text"]
        else:
            # Prosody answers itself for a component that is not connected.
            assert error["condition"] in ("remote-server-timeout", "service-unavailable")


@pytest.mark.skipif(harness.SERVER != "ejabberd", reason="one ejabberd_service listener per domain is ejabberd's "
                                                          "set-up; Prosody routes each domain to its own stream")
async def test_one_listener_per_domain(component, xmpp_server):
    """The production set-up: each domain on its own port, so only that domain reaches its stream."""
    ports = {d: xmpp_server.component_ports[d] for d in (ROOMS, SUPPORT)}
    app = await component(SERVICES, service_ports=ports)
    assert {d: s.xmpp.server_port for d, s in app.services.items()} == ports
    async with harness.slix_client(xmpp_server.ports.c2s, "alice") as alice:
        for _ in range(4):
            assert ("conference", "text") in await identities(alice, ROOMS)
            assert ("collaboration", "workgroup") in await identities(alice, SUPPORT)
        with pytest.raises(IqError) as caught:
            await alice.plugin["xep_0030"].get_info(jid=OTHER, timeout=10)
        # ejabberd itself answers: no stream has the route, so it takes the domain for another server's,
        # and the test config allows no s2s (with s2s allowed: remote-server-not-found).
        error = caught.value.iq["error"]
        assert error["condition"] == "forbidden" and "connected on this stream" not in (error["text"] or "")


async def test_a_stanza_over_the_servers_limit_is_not_sent_and_the_stream_stays(component, xmpp_server):
    """ejabberd closes the whole component stream on a stanza over its listener's max_stanza_size."""
    extra, limit = "extra.localhost", 20_000
    app = await component({extra: {"echo": {}}}, server_options={"max_stanza_bytes": limit})
    service = app.services[extra]
    async with harness.slix_client(xmpp_server.ports.c2s, "alice") as alice:
        inbox = harness.Inbox(alice, kinds=("message", "iq"))
        to, sender = alice.boundjid.full, f"echo@{extra}"
        service.send(service.xmpp.make_message(mto=to, mfrom=sender, mbody="x" * limit, mtype="chat"))
        # The same for a stanza built as a plain element (the desk's notices): over the limit in bytes
        # (Chinese text: 3 bytes a character), not sent.
        big = Element("{jabber:client}message", {"to": to, "from": sender, "type": "chat"})
        SubElement(big, "{jabber:client}body").text = "好" * (limit // 3 + 1)
        service.send_element(big)
        answer = service.xmpp.make_iq_result(id="big-answer", ito=to, ifrom=extra)
        answer.xml.append(answer.xml.makeelement("{urn:example:big}data", {"v": "y" * limit}))
        service.send(answer)
        service.send(service.xmpp.make_message(mto=to, mfrom=sender, mbody="small", mtype="chat"))
        refused = await inbox.next(lambda s: s.xml.tag.endswith("}iq") and s["id"] == "big-answer")
        assert (refused["type"], refused["error"]["condition"]) == ("error", "resource-constraint")
        assert (await inbox.next(lambda s: s.xml.tag.endswith("}message")))["body"] == "small"
        # Same stream all along: the echo still answers at once.
        alice.send_message(mto=sender, mbody="still there?", mtype="chat")
        assert (await inbox.next(lambda s: s.xml.tag.endswith("}message")))["body"].endswith("still there?")
        assert service.connected.is_set()


async def test_a_client_that_names_no_language_gets_the_servers_default_on_ejabberd(component, xmpp_server):
    """Prosody passes an unnamed language on (the queue's default_lang applies); ejabberd stamps its own
    ``language`` option (default "en") on the stanza, so the queue answers in that."""
    await component({SUPPORT: {"mam": {}, "support": {"queues": [{"name": "help", "default_lang": "zh"}]}}})
    client = harness.new_client("cust2", lang="")  # the stream's xml:lang is empty: no language named
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
    client.connect("127.0.0.1", xmpp_server.ports.c2s)
    try:
        await asyncio.wait_for(started, 15)
        inbox = harness.Inbox(client)
        client.send_raw(f"<message xmlns='jabber:client' to='help@{SUPPORT}' type='chat'><body>hello</body></message>")
        reply = await inbox.next(lambda m: m["type"] == "chat" and m["body"])
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in reply["body"])
        assert chinese == (harness.SERVER == "prosody"), reply["body"]
    finally:
        client.disconnect(wait=0.5)
