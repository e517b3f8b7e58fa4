"""XEP-0184 receipts of customers' messages, and resent messages kept once (plugins/support/receipts.py).

Real clients on Prosody with slixmpp's xep_0184 plugin: the desk answers a receipt for what it holds
itself, only after the archive's commit; while an agent holds the conversation the agent's client
answers; a resend (same origin-id or id) is acknowledged again, never stored or relayed twice; a
refusal answers its error and no receipt.
"""

from __future__ import annotations

import asyncio
from typing import Any
from xml.etree.ElementTree import Element

import pytest

from component import namespaces as xmlns
from plugins.support import receipts

from .. import harness
from .kit import DOMAIN, HELP, agent_presence, agent_ready, body_has, config, engine, queue, start_conversation, until

pytestmark = pytest.mark.integration

RECEIVED = f"{{{xmlns.RECEIPTS}}}received"


def content(client: Any, to: str, body: str, mid: str, origin: str = "", receipt: bool = True) -> Any:
    msg = client.make_message(mto=to, mbody=body, mtype="chat")
    msg["id"] = mid
    if receipt:
        msg["request_receipt"] = True
    if origin:
        msg.append(Element(f"{{{xmlns.SID}}}origin-id", {"id": origin}))
    return msg


def receipt_for(mid: str):  # type: ignore[no-untyped-def]
    return lambda m: (el := m.xml.find(RECEIVED)) is not None and el.get("id") == mid


async def bodies(app, session: str) -> list[str]:  # type: ignore[no-untyped-def]
    archive = app.services[DOMAIN].hooks.service("archive")
    items = await archive.history(session, maxstanzas=50, maxchars=None, since=None, seconds=None)
    return [next((c.text or "" for c in el if c.tag.endswith("}body")), "") for el, _ts in items]


async def test_the_queue_acknowledges_after_storing_and_keeps_a_resend_once(component, prosody, monkeypatch):
    app = await component(config(queue()))
    archive = app.services[DOMAIN].hooks.service("archive")
    stored = archive.store
    gate = asyncio.Event()

    async def held(record):  # type: ignore[no-untyped-def]
        await gate.wait()
        await stored(record)

    monkeypatch.setattr(archive, "store", held)
    async with harness.slix_client(prosody.ports.c2s, "cust1", plugins=("xep_0184",)) as cust:
        cin = harness.Inbox(cust)
        info = await cust.plugin["xep_0030"].get_info(jid=HELP)
        assert xmlns.RECEIPTS in info["disco_info"]["features"]
        content(cust, HELP, "my parcel is lost", "m-1", origin="o-1").send()
        await until(lambda: engine(app).open_ticket("help", harness.bare(cust.boundjid)), what="the ticket")
        await cin.quiet(receipt_for("m-1"), 0.5)  # held at the archive's write: not acknowledged yet
        gate.set()
        ack = await cin.next(receipt_for("m-1"))
        # From the address written to, of the message's type, with <received/> as its only child (the
        # customer's own server adds its archive's stanza-id on the way).
        assert ack["from"].full == HELP and ack["type"] == "chat"
        assert [c.tag for c in ack.xml if c.tag != f"{{{xmlns.SID}}}stanza-id"] == [RECEIVED]
        t = engine(app).open_ticket("help", harness.bare(cust.boundjid))
        session = engine(app).session_jid(t.id)
        assert await bodies(app, session) == ["my parcel is lost"]
        # Sent again, the same origin-id (another id): acknowledged again, stored once, nothing opened again.
        content(cust, HELP, "my parcel is lost", "m-1-again", origin="o-1").send()
        await cin.next(receipt_for("m-1-again"))
        # The same id without an origin-id (a client without XEP-0359), while waiting in the queue.
        content(cust, HELP, "still waiting", "m-2").send()
        await cin.next(receipt_for("m-2"))
        content(cust, HELP, "still waiting", "m-2").send()
        await cin.next(receipt_for("m-2"))
        # No request, no receipt (the next message's receipt shows the desk has read past it).
        content(cust, HELP, "hello?", "m-3", receipt=False).send()
        content(cust, HELP, "anyone?", "m-4").send()
        await cin.next(receipt_for("m-4"))
        assert not [m for m in cin.items if receipt_for("m-3")(m)]
        assert await bodies(app, session) == ["my parcel is lost", "still waiting", "hello?", "anyone?"]
        assert len([x for x in engine(app).tickets.values() if x.customer == harness.bare(cust.boundjid)]) == 1


async def test_the_agents_client_answers_while_they_hold_the_conversation(component, prosody):
    app = await component(config(queue(offer_timeout=10.0)))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust2", plugins=("xep_0184",)) as cust, \
            harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, cust, cin, agent, ain, first="hello there")
        content(cust, HELP, "is it fixed?", "a-1", origin="ao-1").send()
        got = await ain.next(body_has("is it fixed?"))
        # Relayed with its request and its id: the receipt is the agent's to give, not the desk's.
        assert got["id"] == "a-1" and got["request_receipt"]
        agent.send_message(mto=session, mbody="looking", mtype="chat")
        await cin.next(body_has("looking"))  # whatever the desk sent before this has arrived
        assert not [m for m in cin.items if receipt_for("a-1")(m)]
        ack = agent.make_message(mto=session)
        ack["receipt"] = "a-1"
        ack.send()
        relayed = await cin.next(receipt_for("a-1"))
        assert relayed["from"].bare == HELP
        # Sent again: it is stored, so the desk acknowledges; the agent does not get it twice.
        content(cust, HELP, "is it fixed?", "a-1-again", origin="ao-1").send()
        await cin.next(receipt_for("a-1-again"))
        agent.send_message(mto=session, mbody="yes", mtype="chat")
        await cin.next(body_has("yes"))
        content(cust, HELP, "thanks", "a-2").send()
        await ain.next(body_has("thanks"))
        assert not [m for m in ain.items if body_has("is it fixed?")(m)]
        assert await bodies(app, session) == ["hello there", "is it fixed?", "looking", "yes", "thanks"]

        # Refusals keep their errors and get no receipt: a forged conversation address, and the
        # customer writing to their own conversation's address (agents' commands live there).
        for to, mid, condition in ((f"t-nosuchticket@{DOMAIN}", "f-1", "item-not-found"),
                                   (session, "f-2", "forbidden")):
            content(cust, to, "let me in", mid).send()
            error = await cin.next(lambda m, mid=mid: m["type"] == "error" and m["id"] == mid)
            assert error["error"]["condition"] == condition
        content(cust, HELP, "ok", "a-3").send()
        await ain.next(body_has("ok"))
        agent.send_message(mto=session, mbody="bye now", mtype="chat")
        await cin.next(body_has("bye now"))
        assert not [m for m in cin.items if receipt_for("f-1")(m) or receipt_for("f-2")(m)]
        # Closed (resolved: a new message would reopen it), a resend of what it kept is acknowledged only.
        agent.send_message(mto=session, mbody="/close", mtype="chat")
        await until(lambda: not engine(app).tickets, what="closed")
        content(cust, HELP, "is it fixed?", "a-1-late", origin="ao-1").send()
        await cin.next(receipt_for("a-1-late"))
        assert not engine(app).tickets
        assert await bodies(app, session) == ["hello there", "is it fixed?", "looking", "yes", "thanks", "ok",
                                              "bye now"]


async def test_a_first_message_restored_after_a_crash_is_known_when_sent_again(component, prosody):
    """The process died between storing a new ticket and archiving its first message, before any receipt:
    the restart archives the message from the ticket with its origin-id, so the customer's resend of it
    is acknowledged and kept once."""
    options = config(queue())
    app = await component(options)
    async with harness.slix_client(prosody.ports.c2s, "cust3", plugins=("xep_0184",)) as cust:
        cin = harness.Inbox(cust)
        stored = asyncio.Event()

        async def die_here(_ticket: object) -> None:
            stored.set()  # the ticket is stored: the archive write (and the receipt) would come now
            await asyncio.Event().wait()

        joining = asyncio.ensure_future(engine(app).join("help", cust.boundjid.full, "en", "chat", True,
                                                         "where is my refund?", on_created=die_here,
                                                         first_id="r-1"))
        await asyncio.wait_for(stored.wait(), 10)
        await app.stop()
        joining.cancel()
        app = await component(options)
        (ticket,) = engine(app).tickets.values()
        content(cust, HELP, "where is my refund?", "r-1-again", origin="r-1").send()
        await cin.next(receipt_for("r-1-again"))
        assert await bodies(app, engine(app).session_jid(ticket.id)) == ["where is my refund?"]
