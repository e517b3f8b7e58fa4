"""End to end: a customer on plain chat, agents on plain chat, the relay and the agent commands."""

from __future__ import annotations

from xml.etree.ElementTree import Element

import pytest

from .. import harness
from .kit import (DOMAIN, HELP, NS, WG, agent_presence, agent_ready, body_has, checked, config, engine, jid,
                  queue, ticket_of, until)

pytestmark = pytest.mark.integration


async def test_plain_chat_customer_is_served_relayed_and_archived(component, prosody):
    app = await component(config(queue(offer_timeout=10.0)))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        cust.send_message(mto=HELP, mbody="My printer is on fire", mtype="chat")
        greeting = checked(await cin.next(body_has("We will connect you")))
        assert greeting["from"].bare == HELP
        t = ticket_of(greeting)
        session = t.get("jid")
        assert session == f"t-{t.get('id')}@{DOMAIN}"
        offer = checked(await ain.next(body_has("accept")))
        assert offer["from"].bare == session and "My printer is on fire" in offer["body"]
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        history = await ain.next(body_has("My printer is on fire"))
        assert history.xml.find("{urn:xmpp:delay}delay") is not None
        checked(await ain.next(body_has("You are now talking with", jid("cust1"))))
        checked(await cin.next(body_has("agent1 is now with you")))
        # Agent -> customer, with a chat state; customer -> agent.
        reply = agent.make_message(mto=session, mbody="Unplug it", mtype="chat")
        reply.append(Element("{http://jabber.org/protocol/chatstates}active"))
        reply.send()
        got = await cin.next(body_has("Unplug it"))
        assert got["from"].bare == HELP
        assert got.xml.find("{http://jabber.org/protocol/chatstates}active") is not None
        cust.send_message(mto=HELP, mbody="Done", mtype="chat")
        got = await ain.next(body_has("Done"))
        assert got["from"].bare == session
        # /close
        agent.send_message(mto=session, mbody="/close", mtype="chat")
        closed = checked(await cin.next(body_has("closed")))
        assert closed.xml.find(f"{{{NS}}}closed") is not None
        await until(lambda: not engine(app).tickets, what="ticket closed")
        archive = app.services[DOMAIN].hooks.service("archive")
        items = await archive.history(session, maxstanzas=50, maxchars=None, since=None, seconds=None)
        bodies = [next((c.text for c in el if c.tag.endswith("}body")), None) for el, _ts in items]
        assert bodies == ["My printer is on fire", "Unplug it", "Done"]
