"""State survives a restart of the component: active conversations, queued customers, agents."""

from __future__ import annotations

import asyncio
from xml.etree.ElementTree import SubElement

import pytest

from .. import harness
from .kit import HELP, WG, agent_presence, agent_ready, body_has, config, customer_and_two_agents, engine, \
    has_child, jid, queue, ticket_of, until

pytestmark = pytest.mark.integration


async def test_restart_mid_conversation_resumes(component, prosody):
    options = config(queue(agents=[jid("agent1")]))
    app = await component(options)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2, \
            harness.slix_client(port, "agent1") as agent:
        cin1, cin2, ain = harness.Inbox(c1), harness.Inbox(c2), harness.Inbox(agent)
        agent_presence(agent, max_chats=1)
        await agent_ready(app, "agent1")
        c1.send_message(mto=HELP, mbody="before restart", mtype="chat")
        offer = await ain.next(body_has("accept"))
        session = offer["from"].bare
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        await cin1.next(body_has("is now with you"))
        c2.send_message(mto=HELP, mbody="waiting", mtype="chat")
        await cin2.next(has_child(f"{{{WG}}}queue-status"))
        await until(lambda: len(engine(app).tickets) == 2, what="two tickets")

        await app.stop()
        app = await component(options)
        await until(lambda: engine(app).agents["help"].get(jid("agent1")) is not None, what="agent restored")
        states = sorted((t.customer, t.state) for t in engine(app).tickets.values())
        assert states == [(jid("cust1"), "active"), (jid("cust2"), "queued")]

        c1.send_message(mto=HELP, mbody="after restart", mtype="chat")
        got = await ain.next(body_has("after restart"))
        assert got["from"].bare == session
        agent.send_message(mto=session, mbody="still here", mtype="chat")
        await cin1.next(body_has("still here"))
        poll = c2.make_iq_get(ito=HELP)
        SubElement(poll.xml, f"{{{WG}}}queue-status")
        answer = await poll.send(timeout=10)
        assert answer.xml.findtext(f"{{{WG}}}queue-status/{{{WG}}}position") == "0"
        # Capacity is still counted after the restart; closing frees it for the waiting customer.
        await ain.quiet(body_has("New customer"), wait=0.5)
        agent.send_message(mto=session, mbody="/close", mtype="chat")
        await ain.next(body_has("New customer", jid("cust2")))
        archive = app.services[HELP.split("@")[1]].hooks.service("archive")
        items = await archive.history(session, maxstanzas=10, maxchars=None, since=None, seconds=None)
        bodies = [next((c.text for c in el if c.tag.endswith("}body")), "") for el, _ in items]
        assert bodies == ["before restart", "after restart", "still here"]


async def test_pending_offer_survives_a_restart_and_times_out(component, prosody):
    options = config(queue(agents=[jid("agent1"), jid("agent2")], offer_timeout=1.5))
    app = await component(options)
    async with customer_and_two_agents(app, prosody.ports.c2s) as (cust, a1, a2, in1, in2):
        cust.send_message(mto=HELP, mbody="hello", mtype="chat")
        await in1.next(body_has("accept"))
        await app.stop()
        app = await component(options)
        agent_presence(a2)
        await agent_ready(app, "agent2")
        await in1.next(body_has("withdrawn"), timeout=5)
        await in2.next(body_has("accept"), timeout=5)


async def test_a_restart_offers_again_without_asking_the_agent_s_client_first(component, prosody, monkeypatch):
    """The re-offer goes the way the offer went (chat here), without a capability question first:
    after a crash each such question waits behind the server's backlog. This client never answers
    one; the question would be given up only after a minute."""
    from plugins.support import clients
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath

    options = config(queue(agents=[jid("agent1")], offer_timeout=60))
    app = await component(options)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        ain = harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        cust.send_message(mto=HELP, mbody="hello", mtype="chat")
        first = await ain.next(body_has("accept"))
        ticket = ticket_of(first).get("id")
        await until(lambda: engine(app).tickets[ticket].offers == {f"{jid('agent1')}/test": "chat"},
                    what="the offer's form stored")
        await app.stop()
        monkeypatch.setattr(clients, "DISCO_TIMEOUT", 60.0)
        agent.remove_handler("Disco Info")
        agent.register_handler(Callback("never answered", MatchXPath(
            f"{{jabber:client}}iq/{{http://jabber.org/protocol/disco#info}}query"), lambda _iq: None))
        app = await component(options)
        again = await ain.next(body_has("accept"), timeout=15)
        assert ticket_of(again).get("id") == ticket and again["type"] == "chat"
        assert again["from"].bare == first["from"].bare
        assert engine(app).tickets[ticket].offers == {f"{jid('agent1')}/test": "chat"}


async def test_a_ticket_stored_before_its_first_message_was_archived_keeps_the_message(component, prosody):
    """The process died between storing a new ticket and archiving the customer's first message (a
    kill -9 in a storm of customers lands there often): the restart answers the customer, and their
    message is in the conversation the agent gets, whole, not only quoted (cut) in the offer."""
    first = "my parcel never came. " * 15  # longer than an offer's quote
    options = config(queue(agents=[jid("agent1")]))
    app = await component(options)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        stored = asyncio.Event()

        async def die_here(_ticket: object) -> None:
            stored.set()  # the ticket is stored: the archive write would come now
            await asyncio.Event().wait()

        joining = asyncio.ensure_future(engine(app).join("help", cust.boundjid.full, "en", "chat", True,
                                                         first, on_created=die_here))
        await asyncio.wait_for(stored.wait(), 10)
        await app.stop()
        joining.cancel()
        app = await component(options)
        (ticket,) = engine(app).tickets.values()
        session = f"t-{ticket.id}@{HELP.split('@')[1]}"
        await cin.next(has_child(f"{{{WG}}}queue-status"))  # answered by the restart
        agent_presence(agent, max_chats=1)
        offer = await ain.next(body_has("accept"))
        assert first[:150] in offer["body"] and first not in offer["body"]
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        replayed = await ain.next(lambda m: m["body"] == first and has_child("{urn:xmpp:delay}delay")(m))
        assert replayed["from"].bare == session
        archive = app.services[HELP.split("@")[1]].hooks.service("archive")
        items = await archive.history(session, maxstanzas=10, maxchars=None, since=None, seconds=None)
        assert [next((c.text for c in el if c.tag.endswith("}body")), "") for el, _ in items] == [first]
        assert items[0][1] == pytest.approx(ticket.created_at, abs=1)


async def test_a_conversation_accepted_just_before_a_crash_reaches_agent_and_customer(component, prosody):
    """The process died after storing an accepted offer but before telling anyone: after the restart
    the agent gets the conversation (introduction and transcript) and the customer hears who is
    with them; an agent who had already answered is not told again."""
    options = config(queue(agents=[jid("agent1")]))
    app = await component(options)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent, max_chats=2)
        await agent_ready(app, "agent1")
        outbox = engine(app).outbox
        stored = asyncio.Event()

        async def die_here(*_args: object) -> None:
            stored.set()  # the acceptance is stored: telling them would come now, and the process dies
            raise RuntimeError("killed")

        outbox.customer_notice = lambda *args, **kwargs: None
        outbox.connect_agent = die_here
        cust.send_message(mto=HELP, mbody="my parcel never came", mtype="chat")
        offer = await ain.next(body_has("accept"))
        session = offer["from"].bare
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        await asyncio.wait_for(stored.wait(), 10)
        await app.stop()
        assert not [m for m in cin.items if body_has("is now with you")(m)]

        app = await component(options)
        await ain.next(lambda m: body_has("my parcel never came")(m) and has_child("{urn:xmpp:delay}delay")(m)
                       and m["from"].bare == session)
        await ain.next(lambda m: body_has("You are now talking with")(m) and m["from"].bare == session)
        await cin.next(body_has("is now with you"))
        # Answered: a later restart does not tell them again.
        agent.send_message(mto=session, mbody="let me check", mtype="chat")
        await cin.next(body_has("let me check"))
        await until(lambda: engine(app).tickets[session[2:].split("@")[0]].first_response_at is not None,
                    what="first response recorded")
        await app.stop()
        app = await component(options)
        await ain.quiet(body_has("You are now talking with"), wait=1.0)
