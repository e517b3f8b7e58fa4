"""What an agent's client speaks (XEP-0142 offers or plain chat): asked once per session, and once
per client version announced with XEP-0115 capabilities."""

from __future__ import annotations

import asyncio

import pytest
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from .. import harness
from .kit import DOMAIN, HELP, WG, agent_presence, agent_ready, body_has, config, engine, jid, queue, start_conversation
from .test_agents import IqAgent

pytestmark = pytest.mark.integration


async def test_agents_of_one_client_version_are_asked_what_they_speak_once(component, prosody):
    """XEP-0115: agents whose presence announces the same client version (here slixmpp's own caps)
    share one disco#info question, asked at that version's node; the answer is checked against the
    version before it is believed of the second agent, whose offers then come as IQs unasked."""
    app = await component(config(queue(agents=[jid("agent1"), jid("agent2")], offer_timeout=10.0)))
    port = prosody.ports.c2s
    asked: list[tuple[str, str]] = []
    async with harness.slix_client(port, "agent1", plugins=("xep_0115",), presence=False) as a1, \
            harness.slix_client(port, "agent2", plugins=("xep_0115",), presence=False) as a2, \
            harness.slix_client(port, "cust1") as c1:
        wg2 = IqAgent(a2)
        IqAgent(a1)  # both speak XEP-0142 offers, so both announce the same version
        for agent, name in ((a1, "agent1"), (a2, "agent2")):
            await agent.plugin["xep_0115"].update_caps(broadcast=False)
            agent.register_handler(Callback("count disco", MatchXPath(
                "{jabber:client}iq/{http://jabber.org/protocol/disco#info}query"),
                lambda iq, name=name: asked.append((name, iq["disco_info"]["node"] or ""))))
        ver = await a1.plugin["xep_0115"].get_verstring()
        assert ver and ver == await a2.plugin["xep_0115"].get_verstring()
        outbox = app.services[DOMAIN].plugins["support"].outbox
        agent_presence(a1, show="dnd")  # agent1 takes urgent customers only: this one goes to agent2
        await agent_ready(app, "agent1")
        await harness.until(lambda: outbox.caps.asked == 1 and not outbox.caps._asking,
                            what="agent1 asked what it speaks")
        assert asked == [("agent1", f"{a1.plugin['xep_0115'].caps_node}#{ver}")], asked
        agent_presence(a2, max_chats=3)
        await agent_ready(app, "agent2")
        c1.send_message(mto=HELP, mbody="hello", mtype="chat")
        offer = await wg2.next("offer")  # an IQ offer: what agent1 answered was believed of agent2
        assert offer.xml.find(f"{{{WG}}}offer") is not None
        assert [name for name, _ in asked] == ["agent1"] and outbox.caps.unverified == 0, asked


async def test_an_agents_offer_capability_is_learned_once_per_session_and_again_after_a_reconnect(component, prosody):
    """XEP-0142: the desk asks an agent's resource what it speaks once (not before every offer), and
    asks again when that resource comes back (here a plain chat client, then one speaking offers)."""
    app = await component(config(queue(agents=[jid("agent1")], offer_timeout=10.0)))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2, \
            harness.slix_client(port, "cust3") as c3:
        cin1 = harness.Inbox(c1)
        async with harness.slix_client(port, "agent1") as a1:
            ain = harness.Inbox(a1)
            asked: list[str] = []
            a1.register_handler(Callback("count disco", MatchXPath(
                "{jabber:client}iq/{http://jabber.org/protocol/disco#info}query"),
                lambda iq: asked.append(iq["type"])))
            agent_presence(a1, max_chats=3)
            await agent_ready(app, "agent1")
            # Asked as the session starts, before any customer: the first offer need not wait for it.
            await harness.until(lambda: asked == ["get"], what="disco#info at the agent's arrival")
            await start_conversation(app, c1, cin1, a1, ain, first="first")
            c2.send_message(mto=HELP, mbody="second", mtype="chat")
            await ain.next(body_has("accept"))  # offered in chat again, without asking again
            assert asked.count("get") == 1
        await harness.until(lambda: not engine(app).agents["help"][jid("agent1")].resources, what="agent1 offline")
        async with harness.slix_client(port, "agent1") as a1:
            wg = IqAgent(a1)
            agent_presence(a1, max_chats=3)
            await agent_ready(app, "agent1")
            c3.send_message(mto=HELP, mbody="third", mtype="chat")
            offer = await wg.next("offer")  # the same resource, now a client that speaks XEP-0142 offers
            assert offer.xml.find(f"{{{WG}}}offer") is not None


async def test_an_offer_made_as_the_agent_arrives_is_written_once_its_client_answers(component, prosody):
    """A customer waits before any agent: the offer made as the agent comes online waits for the
    answer to what its client speaks, and is written as that answer is read (once, in chat)."""
    app = await component(config(queue(agents=[jid("agent1")], offer_timeout=10.0)))
    outbox = engine(app).outbox
    waited: list[tuple[int, int]] = []  # offers waiting for the answer as it is read, and after
    known = outbox._client_known

    def counting(full: str) -> None:
        before = len(outbox._offers_waiting.get(full, []))
        known(full)
        waited.append((before, len(outbox._offers_waiting.get(full, []))))

    outbox._client_known = counting
    ask, answered = outbox._features_of, asyncio.Event()

    async def answer_held(full: str) -> set[str] | None:  # read only once the offer waits for it
        found = await ask(full)
        await answered.wait()
        return found

    outbox._features_of = answer_held
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "agent1") as a1:
        ain = harness.Inbox(a1)
        c1.send_message(mto=HELP, mbody="anyone there?", mtype="chat")
        await harness.until(lambda: engine(app).waiting_count("help") == 1, what="the customer waiting")
        agent_presence(a1, max_chats=3)
        await harness.until(lambda: outbox._offers_waiting, what="the offer waiting for the client's answer")
        answered.set()
        offer = await ain.next(body_has("accept"))
        assert "anyone there?" in offer["body"]
        assert waited == [(1, 0)]  # the offer was waiting for the answer, and went out with it
        await ain.quiet(body_has("accept"), wait=1.0)
        assert not outbox._offers_waiting
