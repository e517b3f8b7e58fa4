"""End to end: canned replies managed by a supervisor with ad-hoc commands, refused to others, and sent by an
agent with /c in the customer's language, archived like any agent message."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from .. import harness
from ..support.kit import (DOMAIN, HELP, SALES, agent_presence, agent_ready, body_has, config, engine, jid, queue,
                           ticket_of)
from .kit import CMD, XDATA, command, table_rows

pytestmark = pytest.mark.integration
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def note_of(command_el) -> str:
    note = command_el.find(f"{{{CMD}}}note")
    return note.text if note is not None else ""


async def test_canned_replies_managed_by_supervisors_and_sent_by_agents(component, prosody):
    app = await component(config(queue(), queue("sales", agents=[jid("agent3")], supervisors=[])))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "super") as sup, harness.slix_client(port, "agent1") as agent, \
            harness.slix_client(port, "agent3") as other, harness.slix_client(port, "cust2") as cust:
        # A supervisor adds replies (English and Chinese).
        form = await command(sup, HELP, "support-canned-add")
        done = await command(sup, HELP, "support-canned-add", "complete", form.get("sessionid"), {
            "shortcut": "Greet", "text": ["Hello {name}, I am {agent}.", "How can I help?"],
            "text_zh": ["{name}您好，我是{agent}，请问有什么可以帮您？"]})
        assert done.get("status") == "completed" and "/c greet" in note_of(done)
        form = await command(sup, HELP, "support-canned-add")
        retry = await command(sup, HELP, "support-canned-add", "complete", form.get("sessionid"),
                              {"shortcut": "greet", "text": ["again"]})
        assert retry.get("status") == "executing" and "exists already" in note_of(retry)
        retry = await command(sup, HELP, "support-canned-add", "complete", form.get("sessionid"),
                              {"shortcut": "two words", "text": ["x"]})
        assert retry.get("status") == "executing" and "one word" in note_of(retry)
        done = await command(sup, HELP, "support-canned-add", "complete", form.get("sessionid"),
                             {"shortcut": "later", "text": ["Talk to you later."]})
        assert done.get("status") == "completed"
        # Editing: pick a shortcut, get the form filled in, change it.
        pick = await command(sup, HELP, "support-canned-edit")
        options = [o.findtext(f"{{{XDATA}}}value") for o in pick.iter(f"{{{XDATA}}}option")]
        assert options == ["greet", "later"]
        edit = await command(sup, HELP, "support-canned-edit", "next", pick.get("sessionid"), {"shortcut": "later"})
        prefilled = edit.find(f"{{{XDATA}}}x/{{{XDATA}}}field[@var='text']/{{{XDATA}}}value")
        assert prefilled is not None and prefilled.text == "Talk to you later."
        await command(sup, HELP, "support-canned-edit", "complete", edit.get("sessionid"),
                      {"text": ["Talk to you soon."]})
        # Deleting.
        pick = await command(sup, HELP, "support-canned-delete")
        done = await command(sup, HELP, "support-canned-delete", "complete", pick.get("sessionid"),
                             {"shortcut": ["later"]})
        assert "1 canned" in note_of(done)
        # Agents list them; they may not change them; another queue's agent and customers see nothing.
        rows = table_rows(await command(agent, HELP, "support-canned-list"))
        assert [(r["shortcut"], r["updated_by"]) for r in rows] == [("greet", jid("super"))]
        for client, node in ((agent, "support-canned-add"), (other, "support-canned-list"),
                             (cust, "support-canned-list"), (other, "support-canned-delete")):
            with pytest.raises(IqError) as err:
                await command(client, HELP, node)
            assert (err.value.condition, err.value.iq["error"]["type"]) == ("forbidden", "auth")
        items = await agent.plugin["xep_0030"].get_items(jid=HELP, node=CMD, timeout=10)
        nodes = {item[1] for item in items["disco_items"]["items"]}
        assert {"support-canned-list", "support-ticket-search", "support-take"} <= nodes
        assert not nodes & {"support-canned-add", "support-canned-edit", "support-canned-delete"}
        items = await sup.plugin["xep_0030"].get_items(jid=HELP, node=CMD, timeout=10)
        assert {"support-canned-add", "support-canned-edit", "support-canned-delete"} <= {
            item[1] for item in items["disco_items"]["items"]}
        assert table_rows(await command(other, SALES, "support-canned-list")) == []

        # In a conversation with a customer writing in Chinese.
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        first = cust.make_message(mto=HELP, mbody="你好，我需要帮助", mtype="chat")
        first.xml.set(XML_LANG, "zh")
        first.send()
        ticket_id = ticket_of(await cin.next(body_has("接通客服"))).get("id")
        session = f"t-{ticket_id}@{DOMAIN}"
        await ain.next(body_has("accept", ticket_id))
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        await ain.next(body_has("You are now talking with"))
        agent.send_message(mto=session, mbody="/c", mtype="chat")
        await ain.next(body_has("Canned replies: greet"))
        agent.send_message(mto=session, mbody="/c nope", mtype="chat")
        await ain.next(body_has("No canned reply “nope”"))
        # A supervisor watching silently may not speak through a canned reply.
        sin = harness.Inbox(sup)
        sup.send_message(mto=session, mbody="/c greet", mtype="chat")
        await sin.next(body_has("Supervisor commands here"))
        await cin.quiet(body_has("您好，我是"), wait=0.3)
        agent.send_message(mto=session, mbody="/c greet", mtype="chat")
        heard = await cin.next(body_has("cust2您好，我是agent1，请问有什么可以帮您？"))
        assert heard["from"].bare == HELP
        assert heard.xml.find("{urn:xmpp:sid:0}stanza-id") is not None
        await ain.next(body_has("» cust2您好"))
        t = engine(app).tickets[ticket_id]
        assert t.first_response_at is not None
        archive = app.services[DOMAIN].hooks.service("archive")
        items = await archive.history(session, maxstanzas=10, maxchars=None, since=None, seconds=None)
        bodies = [next((c.text for c in el if c.tag.endswith("}body")), None) for el, _ts in items]
        assert bodies == ["你好，我需要帮助", "cust2您好，我是agent1，请问有什么可以帮您？"]
        speaker = items[-1][0].find("{urn:switchboard:support:0}speaker")
        assert (speaker.get("role"), speaker.get("name")) == ("agent", "agent1")
