"""Agents: offers (chat and XEP-0142 IQ; what a client speaks: test_agent_capabilities.py), timeouts
and re-offers, capacity, relay payloads, notes, transfer with history, supervisors, refusals."""

from __future__ import annotations

import asyncio
from xml.etree.ElementTree import SubElement

import pytest
from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from .. import harness
from ..schema import assert_valid
from .kit import (DOMAIN, HELP, NS, SALES, WG, agent_presence, agent_ready, body_has, checked, config, engine,
                  has_child, jid, queue, start_conversation, ticket_of)

pytestmark = pytest.mark.integration


class IqAgent:
    """Makes a slixmpp client speak XEP-0142 offers: disco feature plus a handler answering result."""

    def __init__(self, client) -> None:
        self.client = client
        self.received: asyncio.Queue = asyncio.Queue()
        client.plugin["xep_0030"].add_feature(WG)
        for name in ("offer", "offer-revoke"):
            client.register_handler(Callback(f"wg {name}", MatchXPath(f"{{jabber:client}}iq/{{{WG}}}{name}"),
                                             self._on_iq))

    def _on_iq(self, iq) -> None:
        self.received.put_nowait(iq)
        iq.reply().send()

    async def next(self, name: str, timeout: float = 10):
        while True:
            iq = await asyncio.wait_for(self.received.get(), timeout)
            if iq.xml.find(f"{{{WG}}}{name}") is not None:
                return iq

    async def answer(self, verb: str, customer: str, to: str = HELP):
        iq = self.client.make_iq_set(ito=to)
        SubElement(iq.xml, f"{{{WG}}}offer-{verb}", {"jid": customer})
        return await iq.send(timeout=10)


async def test_offer_times_out_and_goes_to_the_second_agent(component, prosody):
    app = await component(config(queue(offer_timeout=1.0)))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as a1, \
            harness.slix_client(port, "agent2") as a2:
        cin, in1, in2 = harness.Inbox(cust), harness.Inbox(a1), harness.Inbox(a2)
        agent_presence(a1)
        agent_presence(a2)
        await agent_ready(app, "agent1")
        await agent_ready(app, "agent2")
        cust.send_message(mto=HELP, mbody="anyone?", mtype="chat")
        offer = checked(await in1.next(body_has("accept")))       # round-robin starts with agent1
        session = offer["from"].bare
        assert ticket_of(offer).get("state") == "offered"
        routed = checked(await cin.next(has_child(f"{{{WG}}}queue-status")))
        withdrawn = checked(await in1.next(body_has("withdrawn", "no answer in time"), timeout=5))
        assert withdrawn["from"].bare == session
        second = checked(await in2.next(body_has("accept")))
        assert second["from"].bare == session
        # The first agent's late "accept" is refused: the offer is no longer theirs.
        late = a1.make_message(mto=session, mbody="accept", mtype="chat")
        errors = harness.Inbox(a1)
        late.send()
        error = await errors.next(lambda m: m["type"] == "error")
        assert (error["error"]["condition"], error["error"]["type"]) == ("forbidden", "auth")
        a2.send_message(mto=session, mbody="accept", mtype="chat")
        await cin.next(body_has("agent2 is now with you"))
        t = next(iter(engine(app).tickets.values()))
        kinds = [k for k, *_ in await engine(app).store.events(t.id)]
        assert kinds == ["created", "queued", "offered", "offer_timeout", "offered", "accepted"]
        del routed


async def test_xep0142_agent_gets_offer_iq_accepts_and_revoke_when_customer_leaves(component, prosody):
    app = await component(config(queue(agents=[jid("agent1")], offer_timeout=10.0)))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2, \
            harness.slix_client(port, "agent1") as a1:
        cin1, cin2, ain = harness.Inbox(c1), harness.Inbox(c2), harness.Inbox(a1)
        wg = IqAgent(a1)
        presences = harness.Inbox(a1, kinds=("presence",))
        agent_presence(a1, max_chats=2)
        notify = await presences.next(has_child(f"{{{WG}}}notify-queue"))
        checked(notify)
        await agent_ready(app, "agent1")
        # First customer: offered by IQ, then leaves while offered -> offer-revoke IQ.
        c1.send_message(mto=HELP, mbody="first", mtype="chat")
        try:
            offer = await wg.next("offer")
        except asyncio.TimeoutError:
            raise AssertionError(f"no offer IQ; chat messages instead: {ain.items}") from None
        el = offer.xml.find(f"{{{WG}}}offer")
        assert_valid(el)
        assert el.get("jid") == f"{jid('cust1')}/test" and el.findtext(f"{{{WG}}}timeout") == "10"
        assert el.find(f"{{{NS}}}ticket") is not None
        c1.send_message(mto=HELP, mbody="bye", mtype="chat")
        revoke = await wg.next("offer-revoke")
        assert_valid(revoke.xml.find(f"{{{WG}}}offer-revoke"))
        assert "customer left" in revoke.xml.findtext(f"{{{WG}}}offer-revoke/{{{WG}}}reason")
        await cin1.next(has_child(f"{{{WG}}}depart-queue"))
        # Second customer: accepted by IQ; the agent gets the conversation start with the offer meta-data.
        c2.send_message(mto=HELP, mbody="second", mtype="chat")
        offer = await wg.next("offer")
        customer = offer.xml.find(f"{{{WG}}}offer").get("jid")
        # A customer cannot accept offers.
        with pytest.raises(IqError) as err:
            accept = c2.make_iq_set(ito=HELP)
            SubElement(accept.xml, f"{{{WG}}}offer-accept", {"jid": customer})
            await accept.send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("forbidden", "auth")
        await wg.answer("accept", customer)
        start = checked(await ain.next(has_child(f"{{{WG}}}offer")))
        assert start.xml.find(f"{{{WG}}}offer").get("jid") == customer
        await cin2.next(body_has("agent1 is now with you"))
        # Accepting again: nothing pending any more.
        with pytest.raises(IqError) as err:
            await wg.answer("accept", customer)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("item-not-found", "cancel")
        kinds = [k for k, *_ in await engine(app).store.events(ticket_of(start).get("id"))]
        assert kinds[-1] == "accepted"


async def test_capacity_is_respected_and_freed_by_close(component, prosody):
    app = await component(config(queue(agents=[jid("agent1")])))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2, \
            harness.slix_client(port, "agent1") as a1:
        cin1, cin2, ain = harness.Inbox(c1), harness.Inbox(c2), harness.Inbox(a1)
        agent_presence(a1, max_chats=1)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, c1, cin1, a1, ain, "first")
        c2.send_message(mto=HELP, mbody="second", mtype="chat")
        status = await cin2.next(has_child(f"{{{WG}}}queue-status"))
        assert status.xml.findtext(f"{{{WG}}}queue-status/{{{WG}}}position") == "0"
        await ain.quiet(body_has("New customer"), wait=1.0)
        assert [t.state for t in engine(app).tickets.values() if t.customer == jid("cust2")] == ["queued"]
        a1.send_message(mto=session, mbody="/close", mtype="chat")
        offer = await ain.next(body_has("New customer", jid("cust2")))
        assert offer["from"].bare != session


async def test_relay_payloads_correction_note_and_supervisor_copies(component, prosody):
    app = await component(config())
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent, \
            harness.slix_client(port, "super") as sup:
        cin, ain, sin = harness.Inbox(cust), harness.Inbox(agent), harness.Inbox(sup)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, cust, cin, agent, ain, "helo")
        # The supervisor watches silently: history first, then copies of both sides.
        sup.send_message(mto=session, mbody="/watch", mtype="chat")
        await sin.next(body_has("[customer] helo"))
        checked(await sin.next(body_has("watching ticket")))
        # A correction and a receipt request from the customer keep their ids and payloads.
        original = cust.make_message(mto=HELP, mbody="Helo, my order", mtype="chat")
        original["id"] = "orig-1"
        original.send()
        got = await ain.next(body_has("Helo, my order"))
        # Ours among the stanza-ids: ejabberd's own archive adds one by the agent's account.
        assert got["id"] == "orig-1" and session in [e.get("by") for e in got.xml.findall("{urn:xmpp:sid:0}stanza-id")]
        fix = cust.make_message(mto=HELP, mbody="Hello, my order", mtype="chat")
        SubElement(fix.xml, "{urn:xmpp:message-correct:0}replace", {"id": "orig-1"})
        SubElement(fix.xml, "{urn:xmpp:receipts}request")
        fix.send()
        got = await ain.next(body_has("Hello, my order"))
        assert got.xml.find("{urn:xmpp:message-correct:0}replace").get("id") == "orig-1"
        assert got.xml.find("{urn:xmpp:receipts}request") is not None
        copy = checked(await sin.next(body_has("[customer] Hello, my order")))
        assert copy.xml.find(f"{{{NS}}}speaker").get("role") == "customer"
        # A chat state and an OOB link from the agent.
        typing = agent.make_message(mto=session, mtype="chat")
        SubElement(typing.xml, "{http://jabber.org/protocol/chatstates}composing")
        typing.send()
        await cin.next(has_child("{http://jabber.org/protocol/chatstates}composing"))
        link = agent.make_message(mto=session, mbody="https://example.org/manual.pdf", mtype="chat")
        SubElement(SubElement(link.xml, "{jabber:x:oob}x"), "{jabber:x:oob}url").text = \
            "https://example.org/manual.pdf"
        link.send()
        got = await cin.next(body_has("manual.pdf"))
        assert got.xml.findtext("{jabber:x:oob}x/{jabber:x:oob}url") == "https://example.org/manual.pdf"
        await sin.next(body_has("[agent1] https://example.org/manual.pdf"))
        # /note: stored, acknowledged, never relayed.
        agent.send_message(mto=session, mbody="/note customer seems upset", mtype="chat")
        await ain.next(body_has("Note saved"))
        await cin.quiet(body_has("upset"), wait=0.5)
        await sin.quiet(body_has("upset"), wait=0.1)
        t = next(iter(engine(app).tickets.values()))
        assert [n[2] for n in await engine(app).store.notes(t.id)] == ["customer seems upset"]
        archive = app.services[DOMAIN].hooks.service("archive")
        stored = [el for el, _ in await archive.history(session, maxstanzas=50, maxchars=None, since=None,
                                                         seconds=None)]
        assert not any("upset" in (c.text or "") for el in stored for c in el)
        # The supervisor joins openly: the customer is told and hears them; the agent sees a prefix.
        sup.send_message(mto=session, mbody="/join", mtype="chat")
        await cin.next(body_has("Supervisor super has joined"))
        sup.send_message(mto=session, mbody="Sorry for the wait", mtype="chat")
        heard = await cin.next(body_has("Sorry for the wait"))
        assert heard["from"].bare == HELP
        await ain.next(body_has("[super] Sorry for the wait"))
        # /help, unknown commands.
        agent.send_message(mto=session, mbody="/help", mtype="chat")
        await ain.next(body_has("/transfer"))
        agent.send_message(mto=session, mbody="/frobnicate", mtype="chat")
        await ain.next(body_has("Unknown command /frobnicate"))


async def test_transfer_to_another_queue_keeps_ticket_and_history(component, prosody):
    app = await component(config(queue(agents=[jid("agent1")]), queue("sales", agents=[jid("agent2")])))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as a1, \
            harness.slix_client(port, "agent2") as a2:
        cin, in1, in2 = harness.Inbox(cust), harness.Inbox(a1), harness.Inbox(a2)
        agent_presence(a1)
        agent_presence(a2, to=SALES)
        await agent_ready(app, "agent1")
        await agent_ready(app, "agent2", "sales")
        session = await start_conversation(app, cust, cin, a1, in1, "I want to buy")
        a1.send_message(mto=session, mbody="Let me find a colleague", mtype="chat")
        await cin.next(body_has("Let me find a colleague"))
        a1.send_message(mto=session, mbody="/transfer sales", mtype="chat")
        gone = checked(await in1.next(has_child(f"{{{NS}}}transferred")))
        assert gone.xml.find(f"{{{NS}}}transferred").get("to") == SALES
        await cin.next(body_has("transferring you"))
        offer = await in2.next(body_has("accept"))
        assert offer["from"].bare == session  # same ticket, same conversation JID
        a2.send_message(mto=session, mbody="accept", mtype="chat")
        await in2.next(body_has("I want to buy"))
        await in2.next(body_has("[agent1] Let me find a colleague"))
        await in2.next(body_has("You are now talking with"))
        cust.send_message(mto=HELP, mbody="Still there?", mtype="chat")
        got = await in2.next(body_has("Still there?"))
        assert got["from"].bare == session
        await in1.quiet(body_has("Still there?"), wait=0.3)
        # The previous agent can no longer write into it.
        errors = harness.Inbox(a1)
        a1.send_message(mto=session, mbody="hello?", mtype="chat")
        error = await errors.next(lambda m: m["type"] == "error")
        assert error["error"]["condition"] == "forbidden"
        t = next(iter(engine(app).tickets.values()))
        assert (t.queue, t.entry, t.agent, t.agents_seen) == ("sales", "help", jid("agent2"),
                                                              [jid("agent1"), jid("agent2")])


async def test_transfer_to_a_named_agent_and_refusals(component, prosody):
    app = await component(config(queue(agents=[jid("agent1"), jid("agent2"), jid("agent3")])))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as a1, \
            harness.slix_client(port, "agent2") as a2:
        cin, in1, in2 = harness.Inbox(cust), harness.Inbox(a1), harness.Inbox(a2)
        agent_presence(a1)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, cust, cin, a1, in1)
        # agent3 is offline: refused with an explanation, nothing changes.
        a1.send_message(mto=session, mbody=f"/transfer {jid('agent3')}", mtype="chat")
        await in1.next(body_has("not available"))
        a1.send_message(mto=session, mbody="/transfer nosuchqueue", mtype="chat")
        await in1.next(body_has("no queue"))
        # agent2 is not in the conversation: cannot write to it nor read its archive.
        agent_presence(a2)
        await agent_ready(app, "agent2")
        errors = harness.Inbox(a2)
        a2.send_message(mto=session, mbody="let me read", mtype="chat")
        error = await errors.next(lambda m: m["type"] == "error")
        assert (error["error"]["condition"], error["error"]["type"]) == ("forbidden", "auth")
        mam = a2.make_iq_set(ito=session)
        SubElement(mam.xml, "{urn:xmpp:mam:2}query", {"queryid": "q1"})
        with pytest.raises(IqError) as err:
            await mam.send(timeout=10)
        assert err.value.condition == "forbidden"
        # The customer cannot use agent commands on the conversation JID.
        errors = harness.Inbox(cust)
        cust.send_message(mto=session, mbody="/close", mtype="chat")
        error = await errors.next(lambda m: m["type"] == "error")
        assert (error["error"]["condition"], error["error"]["type"]) == ("forbidden", "auth")
        # ... and "/close" to the queue JID is only text for the agent.
        cust.send_message(mto=HELP, mbody="/close", mtype="chat")
        await in1.next(body_has("/close"))
        assert next(iter(engine(app).tickets.values())).state == "active"
        # Unknown conversation.
        cust.send_message(mto=f"t-nosuchticket@{DOMAIN}", mbody="hi", mtype="chat")
        error = await errors.next(lambda m: m["type"] == "error")
        assert (error["error"]["condition"], error["error"]["type"]) == ("item-not-found", "cancel")
        # Transfer to agent2 by JID: offered to agent2 only, who gets the history.
        a1.send_message(mto=session, mbody=f"/transfer {jid('agent2')}", mtype="chat")
        await in2.next(body_has("accept"))
        a2.send_message(mto=session, mbody="accept", mtype="chat")
        await in2.next(body_has("hello"))
        await cin.next(body_has("agent2 is now with you"))
        # The agent of the conversation reads its archive by MAM; the customer through the queue JID.
        results = harness.Inbox(a2)
        mam = a2.make_iq_set(ito=session)
        SubElement(mam.xml, "{urn:xmpp:mam:2}query", {"queryid": "q2"})
        assert (await mam.send(timeout=10))["type"] == "result"
        found = [m for m in results.items if m.xml.find("{urn:xmpp:mam:2}result") is not None]
        assert found
        results = harness.Inbox(cust)
        mam = cust.make_iq_set(ito=HELP)
        SubElement(mam.xml, "{urn:xmpp:mam:2}query", {"queryid": "q3"})
        assert (await mam.send(timeout=10))["type"] == "result"
        assert [m for m in results.items if m.xml.find("{urn:xmpp:mam:2}result") is not None]


class FakeRecall:
    """Stands in for the recall plugin's public service (it needs MUC, absent on a support domain)."""

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.refuse = refuse

    async def retract_direct(self, archive, target_id, requester, **kwargs):
        self.calls.append((archive, target_id, requester))
        if self.refuse:
            from component.errors import StanzaError
            raise StanzaError("not-allowed", "too late to retract")
        return object()


def retraction(client, to, target):
    msg = client.make_message(mto=to, mbody="[retracted]", mtype="chat")
    SubElement(msg.xml, "{urn:xmpp:message-retract:1}retract", {"id": target})
    SubElement(msg.xml, "{urn:xmpp:fallback:0}fallback", {"for": "urn:xmpp:message-retract:1"})
    return msg


async def test_retractions_are_relayed_and_checked_by_recall_when_present(component, prosody):
    app = await component(config())
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, cust, cin, agent, ain)
        # Without a recall service: relayed as-is.
        oops = cust.make_message(mto=HELP, mbody="my password is hunter2", mtype="chat")
        oops["id"] = "m-1"
        oops.send()
        await ain.next(body_has("hunter2"))
        retraction(cust, HELP, "m-1").send()
        got = await ain.next(has_child("{urn:xmpp:message-retract:1}retract"))
        assert got.xml.find("{urn:xmpp:message-retract:1}retract").get("id") == "m-1"
        # With one: it is asked first, with the conversation's archive and the author.
        recall = FakeRecall()
        app.services[DOMAIN].hooks.provide("recall", recall)
        retraction(agent, session, "a-7").send()
        got = await cin.next(has_child("{urn:xmpp:message-retract:1}retract"))
        assert recall.calls == [(session, "a-7", jid("agent1"))]
        # Refused by recall: the author gets the error and nothing is relayed.
        recall.refuse = True
        errors = harness.Inbox(cust)
        retraction(cust, HELP, "m-1").send()
        error = await errors.next(lambda m: m["type"] == "error")
        assert (error["error"]["condition"], error["error"]["type"]) == ("not-allowed", "cancel")
        await ain.quiet(has_child("{urn:xmpp:message-retract:1}retract"), wait=0.5)
