"""End to end: rating a closed conversation by the form (aioxmpp, a client that renders forms) and by a
digit (slixmpp, in Chinese with full-width digits), once; stored on the ticket and recorded as an event."""

from __future__ import annotations

import aioxmpp
import aioxmpp.forms
import pytest

from plugins.support import stanza

from .. import harness
from ..support.aiox import AioInbox, aioxmpp_client, body_text
from ..support.kit import DOMAIN, HELP, agent_presence, agent_ready, body_has, checked, config, engine, queue
from .kit import form_of, submit_form

pytestmark = pytest.mark.integration
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


async def serve_and_close(agent, ain, ticket_id: str) -> None:
    session = f"t-{ticket_id}@{DOMAIN}"
    await ain.next(body_has("accept", ticket_id))
    agent.send_message(mto=session, mbody="accept", mtype="chat")
    await ain.next(body_has("You are now talking with"))
    agent.send_message(mto=session, mbody="Done, anything else?", mtype="chat")
    agent.send_message(mto=session, mbody="/close", mtype="chat")
    await ain.next(body_has("is closed"))


def rating_submission(rating: str, comment: list[str]) -> aioxmpp.Message:
    data = aioxmpp.forms.Data(aioxmpp.forms.DataType.SUBMIT)
    data.fields.append(aioxmpp.forms.Field(var="FORM_TYPE", type_=aioxmpp.forms.FieldType.HIDDEN,
                                           values=[stanza.RATING_FORM]))
    data.fields.append(aioxmpp.forms.Field(var="rating", values=[rating]))
    data.fields.append(aioxmpp.forms.Field(var="comment", type_=aioxmpp.forms.FieldType.TEXT_MULTI, values=comment))
    msg = aioxmpp.Message(to=aioxmpp.JID.fromstr(HELP), type_=aioxmpp.MessageType.CHAT)
    msg.xep0004_data.append(data)
    return msg


async def test_rating_by_the_form_in_the_message(component, prosody):
    app = await component(config(queue()))
    port = prosody.ports.c2s
    async with aioxmpp_client(port, "cust2") as client, harness.slix_client(port, "agent1") as agent:
        inbox, ain = AioInbox(client), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        msg = aioxmpp.Message(to=aioxmpp.JID.fromstr(HELP), type_=aioxmpp.MessageType.CHAT)
        msg.body[aioxmpp.structs.LanguageTag.fromstr("en")] = "How do I reset my password?"
        await client.send(msg)
        await inbox.next(lambda m: "We will connect you" in body_text(m))
        ticket_id = next(iter(engine(app).tickets))
        await serve_and_close(agent, ain, ticket_id)
        question = await inbox.next(lambda m: "How would you rate" in body_text(m))
        (form,) = [d for d in question.xep0004_data if d.type_ == aioxmpp.forms.DataType.FORM]
        rating = next(f for f in form.fields if f.var == "rating")
        assert rating.type_ == aioxmpp.forms.FieldType.LIST_SINGLE and rating.required
        assert list(rating.options) == ["5", "4", "3", "2", "1"]
        assert any(f.var == "comment" and f.type_ == aioxmpp.forms.FieldType.TEXT_MULTI for f in form.fields)
        await client.send(rating_submission("9", []))
        await inbox.next(lambda m: "choose a rating from 1 to 5" in body_text(m))
        await client.send(rating_submission("4", ["Quick and clear.", "Thanks"]))
        await inbox.next(lambda m: "Thank you for your feedback" in body_text(m))
        await client.send(rating_submission("1", []))
        await inbox.next(lambda m: "already recorded" in body_text(m))
    stored = await engine(app).store.ticket(ticket_id)
    assert (stored.rating, stored.rating_comment) == (4, "Quick and clear.\nThanks")
    rated = [(kind, data) for kind, _at, actor, data in await engine(app).store.events(ticket_id) if kind == "rated"]
    assert rated == [("rated", {"rating": 4, "comment": "Quick and clear.\nThanks"})]


async def test_rating_by_a_digit_in_chinese(component, prosody):
    app = await component(config(queue()))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        first = cust.make_message(mto=HELP, mbody="我的账户被锁了", mtype="chat")
        first.xml.set(XML_LANG, "zh")
        first.send()
        await cin.next(body_has("接通客服"))
        ticket_id = next(iter(engine(app).tickets))
        await serve_and_close(agent, ain, ticket_id)
        question = checked(await cin.next(body_has("请为本次服务评分", "回复 1（很差）到 5（非常满意）")))
        form = form_of(question, stanza.RATING_FORM)
        assert form is not None and form.findtext("{jabber:x:data}title") == "请为本次服务评分"
        cust.send_message(mto=HELP, mbody="５分 很好", mtype="chat")
        await cin.next(body_has("感谢您的评价"))
        cust.send_message(mto=HELP, mbody="3", mtype="chat")
        await cin.next(body_has("您的评分已经记录"))
    stored = await engine(app).store.ticket(ticket_id)
    assert (stored.rating, stored.rating_comment, stored.state) == (5, "很好", "resolved")
    assert ticket_id not in engine(app).tickets  # a rating does not reopen the ticket
    archive = app.services[DOMAIN].hooks.service("archive")
    items = await archive.history(f"t-{ticket_id}@{DOMAIN}", maxstanzas=10, maxchars=None, since=None, seconds=None)
    bodies = [next((c.text for c in el if c.tag.endswith("}body")), None) for el, _ts in items]
    assert bodies[-1] == "５分 很好"  # the rating reply belongs to the conversation's archive


async def test_a_rating_form_submitted_later_while_a_new_conversation_is_open(component, prosody):
    """The form names its conversation in <thread/>: it rates that one, not the ticket now open."""
    app = await component(config(queue()))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        cust.send_message(mto=HELP, mbody="First problem", mtype="chat")
        await cin.next(body_has("We will connect you"))
        first_id = next(iter(engine(app).tickets))
        await serve_and_close(agent, ain, first_id)
        question = await cin.next(body_has("How would you rate"))
        # With reopening off, a new question opens a new ticket.
        engine(app).queues["help"].reopen_days = 0.0
        cust.send_message(mto=HELP, mbody="Second problem", mtype="chat")
        await cin.next(body_has("We will connect you"))
        second_id = next(iter(engine(app).tickets))
        assert second_id != first_id
        late = cust.make_message(mto=HELP, mtype="chat")
        late["thread"] = question["thread"]
        submit_form(late.xml, {"rating": "2", "comment": ["slow"]}, stanza.RATING_FORM)
        late.send()
        await cin.next(body_has("Thank you for your feedback"))
        assert (await engine(app).store.ticket(first_id)).rating == 2
        assert engine(app).tickets[second_id].rating is None and engine(app).tickets[second_id].state != "resolved"
