"""XEP-0050 commands on queue and conversation JIDs, our IQ operations, service discovery."""

from __future__ import annotations

from xml.etree.ElementTree import SubElement

import pytest
from slixmpp.exceptions import IqError

from .. import harness
from .kit import (DOMAIN, HELP, NS, WG, agent_presence, agent_ready, body_has, checked, config, engine,
                  has_child, jid, queue, until)

pytestmark = pytest.mark.integration
CMD = "http://jabber.org/protocol/commands"
XDATA = "jabber:x:data"


async def command(client, to, node, action="execute", sessionid=None, fields=None):
    return await harness.run_command(client, to, node, action, sessionid, fields)

async def listed(client, to):
    items = await client.plugin["xep_0030"].get_items(jid=to, node=CMD, timeout=10)
    return sorted(item[1] for item in items["disco_items"]["items"])


async def test_adhoc_commands_on_conversation_and_queue(component, prosody):
    app = await component(config(queue(agents=[jid("agent1"), jid("agent2")]), queue("sales",
                                                                                     agents=[jid("agent2")])))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "cust2") as cust2, \
            harness.slix_client(port, "agent1") as a1, harness.slix_client(port, "agent2") as a2, \
            harness.slix_client(port, "super") as sup:
        cin, in1, in2, cin2 = harness.Inbox(cust), harness.Inbox(a1), harness.Inbox(a2), harness.Inbox(cust2)
        agent_presence(a1)
        await agent_ready(app, "agent1")
        cust.send_message(mto=HELP, mbody="need help", mtype="chat")
        offer = await in1.next(body_has("accept"))
        session = offer["from"].bare
        # The offered agent sees "accept" among the conversation's commands and uses it.
        assert "support-accept" in await listed(a1, session)
        done = await command(a1, session, "support-accept")
        assert done.get("status") == "completed"
        await cin.next(body_has("agent1 is now with you"))
        assert await listed(a1, session) == ["support-close", "support-note", "support-pending", "support-transfer"]
        assert await listed(sup, session) == ["support-close", "support-monitor", "support-note", "support-pending",
                                              "support-transfer", "support-whisper"]
        assert await listed(cust, session) == []
        with pytest.raises(IqError) as err:
            await command(cust, session, "support-close")
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("forbidden", "auth")
        # Note, then transfer to sales through forms.
        form = await command(a1, session, "support-note")
        sid = form.get("sessionid")
        done = await command(a1, session, "support-note", "complete", sid, {"note": "VIP customer"})
        assert done.get("status") == "completed"
        t = next(iter(engine(app).tickets.values()))
        assert [n[2] for n in await engine(app).store.notes(t.id)] == ["VIP customer"]
        agent_presence(a2, to=f"sales@{DOMAIN}")
        await agent_ready(app, "agent2", "sales")
        form = await command(a1, session, "support-transfer")
        options = [o.findtext(f"{{{XDATA}}}value") for o in form.iter(f"{{{XDATA}}}option")]
        assert f"sales@{DOMAIN}" in options
        done = await command(a1, session, "support-transfer", "complete", form.get("sessionid"),
                             {"to": f"sales@{DOMAIN}"})
        assert done.get("status") == "completed"
        await in2.next(body_has("accept"))
        # At the queue JID: the agent takes the next customer directly; supervisors list tickets.
        agent_presence(a1, max_chats=3)
        cust2.send_message(mto=HELP, mbody="me too", mtype="chat")
        await until(lambda: any(x.customer == jid("cust2") and x.state != "new"
                                for x in engine(app).tickets.values()), what="cust2")
        assert "support-next" in await listed(a1, HELP)
        done = await command(a1, HELP, "support-next")
        assert "cust2" in done.findtext(f"{{{CMD}}}note")
        table = await command(sup, HELP, "support-tickets")
        rows = [{f.get("var"): f.findtext(f"{{{XDATA}}}value") for f in item}
                for item in table.iter(f"{{{XDATA}}}item")]
        assert [(r["customer"], r["state"], r["agent"]) for r in rows] == [(jid("cust2"), "active", jid("agent1"))]
        with pytest.raises(IqError) as err:
            await command(cust, HELP, "support-tickets")
        assert err.value.condition == "forbidden"
        # Close by command: the customer is told.
        t2 = next(x for x in engine(app).tickets.values() if x.customer == jid("cust2"))
        s2 = engine(app).session_jid(t2.id)
        form = await command(a1, s2, "support-close")
        await command(a1, s2, "support-close", "complete", form.get("sessionid"), {"reason": "solved"})
        closed = checked(await cin2.next(has_child(f"{{{NS}}}closed")))
        assert closed["from"].bare == HELP
        assert (await engine(app).store.ticket(t2.id)).close_reason == "solved"


async def test_our_iq_operations_and_disco(component, prosody):
    app = await component(config())
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        # Discovery: the domain lists its queues; a queue is a workgroup.
        items = await cust.plugin["xep_0030"].get_items(jid=DOMAIN, timeout=10)
        assert [i[0] for i in items["disco_items"]["items"]] == [HELP]
        info = await cust.plugin["xep_0030"].get_info(jid=HELP, timeout=10)
        assert ("collaboration", "workgroup") in {i[:2] for i in info["disco_info"]["identities"]}
        assert {WG, NS, "urn:xmpp:mam:2"} <= set(info["disco_info"]["features"])
        with pytest.raises(IqError) as err:
            await cust.plugin["xep_0030"].get_info(jid=f"t-nosuch@{DOMAIN}", timeout=10)
        assert err.value.condition == "item-not-found"
        agent_presence(agent)
        await agent_ready(app, "agent1")
        cust.send_message(mto=HELP, mbody="hi", mtype="chat")
        offer = await ain.next(body_has("accept"))
        session = offer["from"].bare
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        await cin.next(body_has("is now with you"))
        # <note/> and <close/> IQs on the conversation JID; the customer may not.
        iq = cust.make_iq_set(ito=session)
        SubElement(iq.xml, f"{{{NS}}}close")
        with pytest.raises(IqError) as err:
            await iq.send(timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("forbidden", "auth")
        iq = agent.make_iq_set(ito=session)
        SubElement(iq.xml, f"{{{NS}}}note").text = "by IQ"
        assert (await iq.send(timeout=10))["type"] == "result"
        iq = agent.make_iq_set(ito=session)
        SubElement(SubElement(iq.xml, f"{{{NS}}}close"), f"{{{NS}}}reason").text = "done"
        assert (await iq.send(timeout=10))["type"] == "result"
        await cin.next(has_child(f"{{{NS}}}closed"))
        iq = agent.make_iq_set(ito=session)
        SubElement(iq.xml, f"{{{NS}}}close")
        with pytest.raises(IqError) as err:
            await iq.send(timeout=10)
        assert err.value.condition == "item-not-found"
        # A closed conversation refuses messages.
        errors = harness.Inbox(agent)
        agent.send_message(mto=session, mbody="one more thing", mtype="chat")
        error = await errors.next(lambda m: m["type"] == "error")
        assert (error["error"]["condition"], error["error"]["type"]) == ("not-allowed", "cancel")
