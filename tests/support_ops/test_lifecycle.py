"""End to end: a ticket's life with real clients — tags, priority, pending and the customer's reply, close
with a rating, a thank-you, reopening, search and update by ad-hoc commands, and the recorded events."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from plugins.support import stanza

from .. import harness
from ..support.kit import (DOMAIN, HELP, NS, agent_presence, agent_ready, body_has, checked, config, engine, jid,
                           queue, ticket_of, until)
from .kit import command, fixed_texts, form_of, table_rows

pytestmark = pytest.mark.integration


def state_is(state: str):
    return lambda m: m["type"] != "error" and m.xml.find(f"{{{NS}}}ticket[@state='{state}']") is not None


async def test_ticket_life_cycle_pending_rating_thanks_reopen_and_commands(component, prosody):
    app = await component(config(queue(offer_timeout=10.0)))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent, \
            harness.slix_client(port, "agent2") as agent2, harness.slix_client(port, "cust2") as stranger:
        cin, ain, sin = harness.Inbox(cust), harness.Inbox(agent), harness.Inbox(stranger)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        cust.send_message(mto=HELP, mbody="My invoice is wrong", mtype="chat")
        ticket_id = ticket_of(checked(await cin.next(body_has("We will connect you")))).get("id")
        session = f"t-{ticket_id}@{DOMAIN}"
        await ain.next(body_has("accept", ticket_id))
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        start = checked(await ain.next(body_has("You are now talking with")))
        card = form_of(start, stanza.TICKET_FORM)
        assert card is not None and card.get("type") == "result"
        # Filing the ticket from the conversation window.
        agent.send_message(mto=session, mbody="/tag vip billing", mtype="chat")
        assert "#vip #billing" in (await ain.next(body_has("tags")))["body"]
        agent.send_message(mto=session, mbody="/tag +refund nope/bad", mtype="chat")
        await ain.next(body_has("Not a tag: nope/bad"))  # nothing changes when a word is not a tag
        agent.send_message(mto=session, mbody="/tag +refund -billing", mtype="chat")
        assert "#vip #refund" in (await ain.next(body_has("tags")))["body"]
        agent.send_message(mto=session, mbody="/priority high", mtype="chat")
        await ain.next(body_has("priority 5"))
        agent.send_message(mto=session, mbody="/priority whenever", mtype="chat")
        await ain.next(body_has("Usage: /priority"))
        agent.send_message(mto=session, mbody="Could you send me the invoice number?", mtype="chat")
        await cin.next(body_has("invoice number?"))
        # Pending: the agent's capacity is freed until the customer answers.
        agent.send_message(mto=session, mbody="/pending", mtype="chat")
        checked(await cin.next(state_is("pending")))
        await ain.next(body_has("is pending"))
        t = engine(app).tickets[ticket_id]
        assert (t.state, engine(app).load_of(jid("agent1"))) == ("pending", 0)
        cust.send_message(mto=HELP, mbody="It is INV-42", mtype="chat")
        await cin.next(body_has("connecting you with an agent again"))
        reoffer = await ain.next(body_has("accept", ticket_id))
        assert reoffer["from"].bare == session
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        await ain.next(body_has("INV-42"))  # the reply is in the transcript the agent receives
        await ain.next(body_has("You are now talking with"))
        # Close: the customer is asked for a rating, in text and as a form.
        agent.send_message(mto=session, mbody="/close", mtype="chat")
        closed = checked(await cin.next(state_is("resolved")))
        assert closed.xml.find(f"{{{NS}}}closed") is not None
        question = checked(await cin.next(body_has("How would you rate")))
        assert form_of(question, stanza.RATING_FORM) is not None and question["thread"] == ticket_id
        cust.send_message(mto=HELP, mbody="5 great help", mtype="chat")
        await cin.next(body_has("Thank you for your feedback"))
        stored = await engine(app).store.ticket(ticket_id)
        assert (stored.state, stored.rating, stored.rating_comment, stored.tags, stored.priority) == (
            "resolved", 5, "great help", ["vip", "refund"], 5)
        assert stored.first_response_at and stored.resolved_at and stored.queued_at
        # A thank-you opens nothing.
        cust.send_message(mto=HELP, mbody="Thanks!", mtype="chat")
        await cin.next(body_has("You are welcome"))
        assert ticket_id not in engine(app).tickets
        # Writing again reopens the same ticket, offered to the same agent.
        cust.send_message(mto=HELP, mbody="It broke again", mtype="chat")
        reopened = checked(await cin.next(body_has("reopened your ticket", ticket_id)))
        assert ticket_of(reopened).get("id") == ticket_id
        await ain.next(body_has("accept", ticket_id))
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        await ain.next(body_has("reopened this ticket (1×)"))
        agent.send_message(mto=session, mbody="/close", mtype="chat")
        await cin.next(body_has("How would you rate"))
        # Another agent of the queue searches by tag and updates the ticket.
        listing = await command(agent2, HELP, "support-ticket-search")
        done = await command(agent2, HELP, "support-ticket-search", "complete", listing.get("sessionid"),
                             {"status": ["resolved", "closed"], "tag": "vip"})
        rows = table_rows(done)
        assert [(r["id"], r["status"], r["tags"], r["priority"]) for r in rows] == [
            (ticket_id, "resolved", "vip refund", "5")]
        ask = await command(agent2, HELP, "support-ticket")
        view = await command(agent2, HELP, "support-ticket", "next", ask.get("sessionid"), {"ticket": ticket_id})
        shown = fixed_texts(view)
        assert f"Customer: {jid('cust1')}" in shown and "First message: My invoice is wrong" in shown
        done = await command(agent2, HELP, "support-ticket", "complete", view.get("sessionid"),
                             {"priority": "urgent", "tags": "vip", "status": "closed", "note": ["refund sent"]})
        assert done.get("status") == "completed"
        final = await engine(app).store.ticket(ticket_id)
        assert (final.state, final.tags, final.priority) == ("closed", ["vip"], 10)
        assert [n[2] for n in await engine(app).store.notes(ticket_id)] == ["refund sent"]
        # The plain-text listing at the queue JID.
        agent.send_message(mto=HELP, mbody="/tickets closed #vip", mtype="chat")
        listed = await ain.next(body_has("Tickets (1)"))
        assert ticket_id in listed["body"] and listed["from"].bare == HELP
        # Customers may not run the agents' commands.
        with pytest.raises(IqError) as err:
            await command(stranger, HELP, "support-ticket-search")
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("forbidden", "auth")
        stranger.send_message(mto=f"t-{ticket_id}@{DOMAIN}", mbody="/tag mine", mtype="chat")
        refused = await sin.next(lambda m: m["type"] == "error")
        # A closed ticket is not revealed to outsiders.
        assert (refused["error"]["condition"], refused["error"]["type"]) == ("item-not-found", "cancel")
    recorded = await engine(app).store.events(ticket_id)
    kinds = [kind for kind, *_ in recorded]
    assert kinds == ["created", "queued", "offered", "accepted", "tagged", "tagged", "priority", "first_response",
                     "pending", "queued", "offered", "accepted", "closed", "rated", "reopened", "queued", "offered",
                     "accepted", "closed", "tagged", "priority", "note", "finalized"]
    at = [when for _kind, when, *_ in recorded]
    assert at == sorted(at)
    rated = next(data for kind, _at, actor, data in recorded if kind == "rated")
    assert rated == {"rating": 5, "comment": "great help"}
