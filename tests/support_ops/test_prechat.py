"""End to end: the pre-chat form — plain-text questions for a client without forms (slixmpp), the form in a
message submitted by a client that renders forms (aioxmpp, in Chinese), and XEP-0142 join-queue with the form."""

from __future__ import annotations

from xml.etree.ElementTree import SubElement

import aioxmpp
import aioxmpp.forms
import pytest
from slixmpp.exceptions import IqError

from plugins.support import stanza

from .. import harness
from ..support.aiox import AioInbox, aioxmpp_client, body_text
from ..support.kit import (HELP, WG, agent_presence, agent_ready, body_has, checked, config, engine, jid,
                           queue, ticket_of, until)
from .kit import XDATA, field_vars, form_of, submit_form

pytestmark = pytest.mark.integration

FORM = {"join_form": ["name", "email", "order"], "join_form_optional": ["order"]}


async def test_plain_text_answers_then_the_agent_sees_them(component, prosody):
    app = await component(config(queue(**FORM)))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        cust.send_message(mto=HELP, mbody="My parcel never arrived", mtype="chat")
        first = checked(await cin.next(body_has("May I have your name?")))
        assert "please answer a few questions" in first["body"]
        ticket = ticket_of(first)
        assert ticket.get("state") == "prechat" and first["thread"] == ticket.get("id")
        form = form_of(first, stanza.PRECHAT_FORM)
        assert form is not None and form.get("type") == "form" and field_vars(form) == ["name", "email", "order"]
        required = [f.get("var") for f in form.findall(f"{{{XDATA}}}field") if f.find(f"{{{XDATA}}}required")
                    is not None]
        assert required == ["name", "email"]
        await ain.quiet(body_has("accept"), wait=0.3)  # nobody is offered the customer yet
        cust.send_message(mto=HELP, mbody="Alice Wang", mtype="chat")
        asked = checked(await cin.next(body_has("What is your email address?")))
        assert form_of(asked, stanza.PRECHAT_FORM) is None  # one question at a time in plain text
        cust.send_message(mto=HELP, mbody="alice at example", mtype="chat")
        again = checked(await cin.next(body_has("does not look like an email address", "What is your email")))
        assert form_of(again, stanza.PRECHAT_FORM) is not None
        cust.send_message(mto=HELP, mbody="alice@example.com", mtype="chat")
        await cin.next(body_has("What is your order number?", "skip"))
        cust.send_message(mto=HELP, mbody="skip", mtype="chat")
        checked(await cin.next(body_has("We will connect you")))
        offer = await ain.next(body_has("accept"))
        agent.send_message(mto=offer["from"].bare, mbody="accept", mtype="chat")
        start = checked(await ain.next(body_has("You are now talking with")))
        assert "Name: Alice Wang · Email: alice@example.com" in start["body"]
        card = form_of(start, stanza.TICKET_FORM)
        values = {f.get("var"): f.findtext(f"{{{XDATA}}}value") for f in card.findall(f"{{{XDATA}}}field")}
        assert (values["prechat#name"], values["prechat#email"]) == ("Alice Wang", "alice@example.com")
    t = (await engine(app).store.tickets("help"))[0]
    assert t.form == {"message": "My parcel never arrived", "name": "Alice Wang", "email": "alice@example.com",
                      "order": ""}
    kinds = [kind for kind, *_ in await engine(app).store.events(t.id)]
    assert kinds[:3] == ["created", "prechat", "queued"]


def submission(values: dict[str, str]) -> aioxmpp.forms.Data:
    data = aioxmpp.forms.Data(aioxmpp.forms.DataType.SUBMIT)
    data.fields.append(aioxmpp.forms.Field(var="FORM_TYPE", type_=aioxmpp.forms.FieldType.HIDDEN,
                                           values=[stanza.PRECHAT_FORM]))
    for var, value in values.items():
        data.fields.append(aioxmpp.forms.Field(var=var, values=[value]))
    return data


async def test_a_client_that_renders_forms_submits_it_in_chinese(component, prosody):
    app = await component(config(queue(**FORM)))
    async with aioxmpp_client(prosody.ports.c2s, "cust2") as client:
        inbox = AioInbox(client)
        zh = aioxmpp.structs.LanguageTag.fromstr("zh")
        msg = aioxmpp.Message(to=aioxmpp.JID.fromstr(HELP), type_=aioxmpp.MessageType.CHAT)
        msg.body[zh] = "我的包裹一直没到"
        await client.send(msg)
        asked = await inbox.next(lambda m: "请问怎么称呼您" in body_text(m))
        (form,) = [d for d in asked.xep0004_data if d.type_ == aioxmpp.forms.DataType.FORM]
        labels = {f.var: f.label for f in form.fields}
        assert (labels["name"], labels["email"], labels["order"]) == ("姓名", "电子邮箱", "订单号")
        assert asked.thread is not None
        # A wrong address in the form: the form comes back with the reason.
        reply = aioxmpp.Message(to=aioxmpp.JID.fromstr(HELP), type_=aioxmpp.MessageType.CHAT)
        reply.thread = asked.thread
        reply.xep0004_data.append(submission({"name": "王小明", "email": "wang@", "order": "A-1001"}))
        await client.send(reply)
        refused = await inbox.next(lambda m: "不是有效的电子邮箱" in body_text(m))
        assert any(d.type_ == aioxmpp.forms.DataType.FORM for d in refused.xep0004_data)
        reply = aioxmpp.Message(to=aioxmpp.JID.fromstr(HELP), type_=aioxmpp.MessageType.CHAT)
        reply.xep0004_data.append(submission({"email": "wang@example.cn"}))
        await client.send(reply)
        await inbox.next(lambda m: "接通客服" in body_text(m))
        t = await until(lambda: next((t for t in engine(app).tickets.values() if t.state == "queued"), None),
                        what="queued ticket")
        assert (t.form["name"], t.form["email"], t.form["order"], t.lang) == (
            "王小明", "wang@example.cn", "A-1001", "zh")


async def test_xep0142_join_with_the_form_and_leaving_during_it(component, prosody):
    app = await component(config(queue(**FORM)))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "cust3") as leaver:
        get = cust.make_iq_get(ito=HELP)
        SubElement(get.xml, f"{{{WG}}}join-queue")
        answer = await get.send(timeout=10)
        form = answer.xml.find(f"{{{WG}}}join-queue/{{{XDATA}}}x")
        assert field_vars(form) == ["name", "email", "order"]
        assert [f.get("label") for f in form.findall(f"{{{XDATA}}}field") if f.get("var") != "FORM_TYPE"] == [
            "Name", "Email", "Order number"]

        def join(values):
            iq = cust.make_iq_set(ito=HELP)
            el = SubElement(iq.xml, f"{{{WG}}}join-queue")
            SubElement(el, f"{{{WG}}}queue-notifications")
            submit_form(el, values, stanza.PRECHAT_FORM)
            return iq.send(timeout=10)

        with pytest.raises(IqError) as err:
            await join({"name": "Carol", "email": "carol.example.com"})
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("not-acceptable", "modify")
        assert "email" in err.value.text
        with pytest.raises(IqError) as err:
            await join({"email": "carol@example.com"})
        assert (err.value.condition, err.value.text) == ("not-acceptable", "the field name is required")
        assert (await join({"name": "Carol", "email": "carol@example.com"}))["type"] == "result"
        t = await until(lambda: next(iter(engine(app).tickets.values()), None), what="ticket")
        assert (t.state, t.via, t.form) == ("queued", "iq", {"name": "Carol", "email": "carol@example.com",
                                                             "order": ""})
        # "bye" while answering the questions leaves: the ticket is abandoned.
        lin = harness.Inbox(leaver)
        leaver.send_message(mto=HELP, mbody="hello?", mtype="chat")
        await lin.next(body_has("May I have your name?"))
        leaver.send_message(mto=HELP, mbody="bye", mtype="chat")
        await lin.next(body_has("You have left the queue"))
    stored = [x for x in await engine(app).store.tickets("help") if x.customer == jid("cust3")]
    assert [(x.state, x.close_reason) for x in stored] == [("abandoned", "bye")]
