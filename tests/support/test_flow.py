"""End to end: a customer on plain chat, agents on plain chat, the relay and the agent commands."""

from __future__ import annotations

import asyncio
from xml.etree.ElementTree import Element

import pytest

from .. import harness
from .kit import (DOMAIN, HELP, NS, agent_presence, agent_ready, body_has, checked, config,
                  customer_and_two_agents, engine, jid, queue, ticket_of, until)

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


async def test_bot_seam_keeps_the_customer_then_hands_off_with_the_transcript(component, prosody):
    """The next issue's bot plugs in through support.before_queue / support.bot_message."""
    from plugins.support import hooks as events

    app = await component(config())
    hooks = app.services[DOMAIN].hooks
    support = hooks.service(events.SERVICE)
    seen: list[str] = []

    async def first_line(ev: events.BeforeQueue):
        seen.append(ev.body)
        await support.say(ev.ticket_id, "Have you tried turning it off and on again?")
        return True   # the bot keeps the customer

    async def next_line(ev: events.CustomerMessage):
        seen.append(ev.body)
        return None   # nobody answers: hand off to the queue

    hooks.on(events.BEFORE_QUEUE, first_line)
    hooks.on(events.BOT_MESSAGE, next_line)
    kinds: list[str] = []
    hooks.on(events.TICKET_EVENT, lambda ev: kinds.append(ev.kind))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        cust.send_message(mto=HELP, mbody="It is broken", mtype="chat")
        await cin.next(body_has("turning it off and on"))
        await ain.quiet(body_has("accept"), wait=0.3)
        assert [t.state for t in engine(app).tickets.values()] == ["bot"]
        cust.send_message(mto=HELP, mbody="human please", mtype="chat")
        offer = await ain.next(body_has("accept"))
        agent.send_message(mto=offer["from"].bare, mbody="accept", mtype="chat")
        await ain.next(body_has("It is broken"))
        await ain.next(body_has("[bot] Have you tried"))
        await ain.next(body_has("human please"))
        await ain.next(body_has("You are now talking with"))
    assert seen == ["It is broken", "human please"]
    assert kinds[:4] == ["created", "bot", "queued", "offered"]


async def test_a_message_while_the_conversation_opens_reaches_the_agent_once(component, prosody):
    """The agent's transcript and introduction are written in turn with other openings: what the
    customer writes after the acceptance comes live, and is not in the transcript too."""
    app = await component(config(queue(offer_timeout=10.0)))
    outbox = engine(app).outbox
    held, release = asyncio.Event(), asyncio.Event()
    opening = outbox._open_conversation

    async def after_a_wait(item):  # type: ignore[no-untyped-def]
        held.set()
        await release.wait()
        await opening(item)

    outbox._openings._run = after_a_wait
    async with customer_and_two_agents(app, prosody.ports.c2s) as (cust, agent, _agent2, ain, _in2):
        cin = harness.Inbox(cust)
        cust.send_message(mto=HELP, mbody="before the agent", mtype="chat")
        offer = await ain.next(body_has("accept"))
        session = offer["from"].bare
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        await cin.next(body_has("agent1 is now with you"))
        await asyncio.wait_for(held.wait(), 10)
        cust.send_message(mto=HELP, mbody="while it opens", mtype="chat")
        live = await ain.next(body_has("while it opens"))
        assert live.xml.find("{urn:xmpp:delay}delay") is None
        release.set()
        history = await ain.next(body_has("before the agent"))
        assert history.xml.find("{urn:xmpp:delay}delay") is not None
        await ain.next(body_has("You are now talking with"))
        await ain.quiet(body_has("while it opens"), wait=1.0)
