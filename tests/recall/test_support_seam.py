"""The real recall service behind the support queue's 1:1 conversations (support + mam + recall, no MUC).

Uses the support tests' own configuration helpers, so the queue is set up the
way its own tests set it up.
"""

from __future__ import annotations

import uuid
from xml.etree.ElementTree import SubElement

import pytest

from .. import harness
from ..support.kit import (DOMAIN, HELP, agent_presence, agent_ready, body_has, config, has_child, jid,
                           start_conversation)
from .roomkit import NS_RETRACT, database_file, database_trace, sql_trace

pytestmark = pytest.mark.integration


def retraction(client, to: str, target: str):
    msg = client.make_message(mto=to, mbody="[retracted]", mtype="chat")
    msg["id"] = uuid.uuid4().hex
    SubElement(msg.xml, f"{{{NS_RETRACT}}}retract", {"id": target})
    SubElement(msg.xml, "{urn:xmpp:fallback:0}fallback", {"for": NS_RETRACT})
    return msg


async def test_customer_recalls_a_message_in_a_support_conversation(component, prosody, tmp_path):
    services = config()
    services[DOMAIN]["recall"] = {"window_seconds": 120}
    app = await component(services)
    port = prosody.ports.c2s
    secret = f"hunter2-{uuid.uuid4().hex[:10]}"
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, cust, cin, agent, ain)
        oops = cust.make_message(mto=HELP, mbody=f"my password is {secret}", mtype="chat")
        oops["id"] = "m-1"
        oops.send()
        await ain.next(body_has(secret))
        # The agent cannot retract the customer's message: refused, nothing relayed.
        refused = retraction(agent, session, "m-1")
        refused.send()
        # (Matched by type: the core's error reply to a message does not keep the message's id yet.)
        error = await ain.next(lambda m: m["type"] == "error")
        assert (error["error"]["condition"], error["error"]["type"]) == ("item-not-found", "cancel")
        await cin.quiet(has_child(f"{{{NS_RETRACT}}}retract"), wait=0.3)
        # The customer can: the agent is told, the archive keeps only a tombstone.
        mine = retraction(cust, HELP, "m-1")
        mine.send()
        got = await ain.next(has_child(f"{{{NS_RETRACT}}}retract"))
        assert got.xml.find(f"{{{NS_RETRACT}}}retract").get("id") == "m-1"
        recall = app.services[DOMAIN].hooks.service("recall")
        [entry] = await recall.store.audit_entries(session)
        assert (entry.actor, entry.author, entry.kind, entry.moderated) == (jid("cust1"), jid("cust1"), "chat", False)
        await recall.flush()
        assert await sql_trace(app.db, secret) == []
        if app.db.is_sqlite:
            assert database_trace(database_file(tmp_path), secret) == []
