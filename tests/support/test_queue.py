"""Customers: joining by plain chat (aioxmpp and slixmpp) and by XEP-0142 IQs, positions, leaving."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import SubElement

import aioxmpp
import pytest
from slixmpp.exceptions import IqError

from .. import harness
from .aiox import AioInbox, aioxmpp_client, body_text
from .kit import (HELP, WG, agent_presence, agent_ready, body_has, checked, config, engine, has_child, jid, queue,
                  start_conversation, until)

pytestmark = pytest.mark.integration

STATUS = f"{{{WG}}}queue-status"


def join_iq(client, to=HELP, notifications=True, form=None):
    iq = client.make_iq_set(ito=to)
    el = SubElement(iq.xml, f"{{{WG}}}join-queue")
    if notifications:
        SubElement(el, f"{{{WG}}}queue-notifications")
    if form is not None:
        x = SubElement(el, "{jabber:x:data}x", {"type": "submit"})
        for var, value in form.items():
            SubElement(SubElement(x, "{jabber:x:data}field", {"var": var}), "{jabber:x:data}value").text = value
    return iq


def position(msg) -> int:
    return int(msg.xml.find(STATUS).findtext(f"{{{WG}}}position"))


async def test_aioxmpp_customer_joins_by_plain_chat_and_hears_in_chinese(component, prosody):
    app = await component(config())
    async with aioxmpp_client(prosody.ports.c2s, "cust2") as client:
        inbox = AioInbox(client)
        msg = aioxmpp.Message(to=aioxmpp.JID.fromstr(HELP), type_=aioxmpp.MessageType.CHAT)
        msg.body[aioxmpp.structs.LanguageTag.fromstr("zh")] = "你好，我的订单丢了"
        msg.xep0045_muc_user = None
        await client.send(msg)
        greeting = await inbox.next(lambda m: "接通客服" in body_text(m))
        assert str(greeting.from_.bare()) == HELP
        waiting = await inbox.next(lambda m: "当前排在第 1 位" in body_text(m))
        assert waiting.lang is None or str(waiting.lang).startswith("zh")
        await inbox.next(lambda m: "没有在线的客服" in body_text(m))
        t = await until(lambda: next(iter(engine(app).tickets.values()), None), what="ticket")
        assert (t.customer, t.lang, t.state, t.via) == (jid("cust2"), "zh", "queued", "chat")


async def test_positions_of_three_customers_update_when_one_leaves(component, prosody):
    app = await component(config())
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2, \
            harness.slix_client(port, "cust3") as c3:
        inboxes = [harness.Inbox(c) for c in (c1, c2, c3)]
        for n, (client, inbox) in enumerate(zip((c1, c2, c3), inboxes)):
            client.send_message(mto=HELP, mbody=f"question {n}", mtype="chat")
            status = checked(await inbox.next(has_child(STATUS)))
            assert position(status) == n
            assert f"number {n + 1} in the queue" in status["body"]
            checked(await inbox.next(body_has("No agent is online")))
        # The first leaves with a plain "bye": recorded as abandoned, the others move up.
        c1.send_message(mto=HELP, mbody="bye", mtype="chat")
        left = checked(await inboxes[0].next(has_child(f"{{{WG}}}depart-queue")))
        assert "left the queue" in left["body"]
        assert position(checked(await inboxes[1].next(has_child(STATUS)))) == 0
        assert position(checked(await inboxes[2].next(has_child(STATUS)))) == 1
        tickets = await engine(app).store.tickets("help")
        states = sorted((t.customer, t.state, t.close_reason) for t in tickets)
        assert states == [(jid("cust1"), "abandoned", "bye"), (jid("cust2"), "queued", ""),
                          (jid("cust3"), "queued", "")]
        # Updates are rate-limited per customer: nothing more arrives while nothing changes.
        await inboxes[1].quiet(has_child(STATUS), wait=0.6)


async def test_xep0142_join_poll_conflict_depart(component, prosody):
    app = await component(config())
    async with harness.slix_client(prosody.ports.c2s, "cust1") as cust:
        inbox = harness.Inbox(cust)
        result = await join_iq(cust).send(timeout=10)
        assert result["type"] == "result"
        status = checked(await inbox.next(has_child(STATUS)))
        assert position(status) == 0
        # Polling the position.
        poll = cust.make_iq_get(ito=HELP)
        SubElement(poll.xml, f"{{{WG}}}queue-status")
        answer = await poll.send(timeout=10)
        checked(answer)
        assert answer.xml.find(STATUS).findtext(f"{{{WG}}}position") == "0"
        # Joining twice: conflict.
        with pytest.raises(IqError) as err:
            await join_iq(cust).send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("conflict", "cancel")
        # Departing: result, then a depart-queue message.
        depart = cust.make_iq_set(ito=HELP)
        SubElement(depart.xml, f"{{{WG}}}depart-queue")
        assert (await depart.send(timeout=10))["type"] == "result"
        checked(await inbox.next(has_child(f"{{{WG}}}depart-queue")))
        t = (await engine(app).store.tickets("help"))[0]
        assert (t.state, t.close_reason, t.via) == ("abandoned", "depart", "iq")
        # Departing again, or polling, when not queued.
        depart = cust.make_iq_set(ito=HELP)
        SubElement(depart.xml, f"{{{WG}}}depart-queue")
        with pytest.raises(IqError) as err:
            await depart.send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("item-not-found", "cancel")
        poll = cust.make_iq_get(ito=HELP)
        SubElement(poll.xml, f"{{{WG}}}queue-status")
        with pytest.raises(IqError) as err:
            await poll.send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("not-authorized", "auth")


async def test_xep0142_refusals_closed_form_unknown_queue_and_removal_rights(component, prosody):
    await component(config(queue(), queue("sales", open=False), queue("vip", join_form=["account"])))
    async with harness.slix_client(prosody.ports.c2s, "cust1") as cust, \
            harness.slix_client(prosody.ports.c2s, "cust2") as other:
        inbox = harness.Inbox(cust)
        with pytest.raises(IqError) as err:
            await join_iq(cust, to=f"sales@{HELP.split('@')[1]}").send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("service-unavailable", "cancel")
        with pytest.raises(IqError) as err:
            await join_iq(cust, to=f"nosuch@{HELP.split('@')[1]}").send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("item-not-found", "cancel")
        vip = f"vip@{HELP.split('@')[1]}"
        with pytest.raises(IqError) as err:
            await join_iq(cust, to=vip).send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("not-acceptable", "modify")
        get = cust.make_iq_get(ito=vip)
        SubElement(get.xml, f"{{{WG}}}join-queue")
        form = await get.send(timeout=10)
        assert form.xml.find(f"{{{WG}}}join-queue/{{jabber:x:data}}x/{{jabber:x:data}}field[@var='account']") \
            is not None
        assert (await join_iq(cust, to=vip, form={"account": "A-42"}).send(timeout=10))["type"] == "result"
        # A closed queue answers plain chat with an explanation.
        cust.send_message(mto=f"sales@{HELP.split('@')[1]}", mbody="hello?", mtype="chat")
        assert "closed" in (await inbox.next(body_has("Sorry")))["body"]
        # Removing someone else needs rights.
        depart = other.make_iq_set(ito=vip)
        SubElement(SubElement(depart.xml, f"{{{WG}}}depart-queue"), f"{{{WG}}}jid").text = jid("cust1")
        with pytest.raises(IqError) as err:
            await depart.send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("not-authorized", "auth")


async def test_customer_offline_past_grace_leaves_the_queue(component, prosody):
    app = await component(config(queue(grace_period=0.3)))
    async with harness.slix_client(prosody.ports.c2s, "cust3") as cust:
        inbox = harness.Inbox(cust)
        # A client that sends its presence to the queue is followed by presence.
        cust.send_presence(pto=HELP)
        cust.send_message(mto=HELP, mbody="hello", mtype="chat")
        await inbox.next(has_child(STATUS))
        await until(lambda: engine(app).tickets, what="ticket")
    await until(lambda: not engine(app).tickets, what="customer removed after the grace period")
    t = (await engine(app).store.tickets("help"))[0]
    assert (t.state, t.close_reason) == ("abandoned", "offline")


async def test_offline_customer_without_presence_is_found_by_liveness_check(component, prosody):
    app = await component(config(queue(grace_period=0.2), liveness_interval=0.3))
    async with harness.slix_client(prosody.ports.c2s, "cust3", presence=False) as cust:
        inbox = harness.Inbox(cust)
        cust.send_message(mto=HELP, mbody="hello", mtype="chat")
        await inbox.next(has_child(STATUS))
        await until(lambda: engine(app).tickets, what="ticket")
        # Still online across several checks: stays queued.
        await harness.Inbox(cust).quiet(wait=0.8)
        assert len(engine(app).tickets) == 1
    await until(lambda: not engine(app).tickets, what="customer removed after going offline")
    assert (await engine(app).store.tickets("help"))[0].close_reason == "offline"


def bounce(client: Any, to: str, condition: str = "remote-server-not-found") -> None:
    """What a server sends back from an address it cannot deliver to (here sent by that address itself)."""
    msg = client.make_message(mto=to, mtype="error")
    error = SubElement(msg.xml, "{jabber:client}error", {"type": "cancel"})
    SubElement(error, f"{{urn:ietf:params:xml:ns:xmpp-stanzas}}{condition}")
    msg.send()


async def test_a_bounce_from_the_customer_counts_as_gone_and_is_never_answered(component, prosody):
    # The grace period outlasts the client's logout below: the check after it finds no one.
    app = await component(config(queue(grace_period=1.5)))
    async with harness.slix_client(prosody.ports.c2s, "cust3", presence=False) as cust:
        inbox = harness.Inbox(cust)
        cust.send_message(mto=HELP, mbody="hello", mtype="chat")
        await inbox.next(has_child(STATUS))
        await until(lambda: engine(app).tickets, what="ticket")
        bounce(cust, HELP)
        # No error in return for an error: nothing can loop.
        await inbox.quiet(lambda m: m["type"] == "error", wait=0.3)
    # No presence was ever sent, and liveness checks are off: only the bounce tells us.
    await until(lambda: not engine(app).tickets, what="customer removed after the bounce")
    assert (await engine(app).store.tickets("help"))[0].close_reason == "offline"


async def test_a_bounce_from_a_customer_in_conversation_is_told_to_the_agent_once(component, prosody):
    app = await component(config(queue(agents=[jid("agent1")])))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust3") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, cust, cin, agent, ain)
        bounce(cust, HELP)
        told = await ain.next(body_has("undelivered", jid("cust3")))
        assert told["from"].bare == session
        # Still the agent's to close; told once, not at every bounce, and nothing goes back to the customer.
        bounce(cust, HELP, "recipient-unavailable")
        await ain.quiet(body_has("undelivered"), wait=0.5)
        await cin.quiet(lambda m: m["type"] == "error", wait=0.1)
        assert [t.state for t in engine(app).tickets.values()] == ["active"]
        # Seen again, a later bounce is told again.
        cust.send_message(mto=HELP, mbody="back", mtype="chat")
        await ain.next(body_has("back"))
        bounce(cust, HELP)
        await ain.next(body_has("undelivered"))


async def test_a_bounce_from_an_agent_makes_them_unavailable(component, prosody):
    app = await component(config())
    async with harness.slix_client(prosody.ports.c2s, "agent1") as agent:
        agent_presence(agent)
        await agent_ready(app, "agent1")
        bounce(agent, HELP, "recipient-unavailable")
        await until(lambda: engine(app).agents["help"][jid("agent1")].tier() is None, what="agent unavailable")
        # An error that does not mean "gone" changes nothing.
        agent_presence(agent)
        await agent_ready(app, "agent1")
        bounce(agent, HELP, "not-acceptable")
        await harness.Inbox(agent).quiet(wait=0.3)
        assert engine(app).agents["help"][jid("agent1")].tier() is not None
