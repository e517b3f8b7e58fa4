"""A conversation served from the stored ticket, not only from the memory of the process that holds it.

A process that does not own a ticket's queue (several processes share the domain) has no
in-memory ticket; here the engine forgets one to be in that place. Relaying both ways, a note, a
rating of a finished ticket and the refusals (a forged conversation JID, someone who is no party)
still work from the ticket as stored, read through a cache that each stored change invalidates.
"""

from __future__ import annotations

import pytest

from plugins.support.lookup import TicketLookup, notices, read_notice
from plugins.support.peering import adopt_element, handoff_element

from .. import harness
from ..schema import assert_valid
from ..support_ops.kit import A, Clock, migrated, new_engine, settle
from .kit import HELP, agent_presence, agent_ready, body_has, config, engine, queue, start_conversation, until

pytestmark = pytest.mark.integration


def forget(app, session: str):
    """This process no longer holds the ticket (as a process not owning its queue never did)."""
    eng = engine(app)
    t = eng.tickets[session.split("@", 1)[0][2:]]
    eng._forget(t)
    return t.id


async def test_relay_note_and_refusals_served_from_the_stored_ticket(component, prosody):
    app = await component(config(queue(supervisors=["super@localhost"])))
    eng = engine(app)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as a1, \
            harness.slix_client(port, "agent2") as a2, harness.slix_client(port, "cust2") as other:
        cin, ain, in2, oin = harness.Inbox(cust), harness.Inbox(a1), harness.Inbox(a2), harness.Inbox(other)
        agent_presence(a1)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, cust, cin, a1, ain)
        a1.send_message(mto=session, mbody="first answer", mtype="chat")
        await cin.next(body_has("first answer"))
        ticket_id = session.split("@", 1)[0][2:]
        await until(lambda: (t := eng.tickets.get(ticket_id)) is not None and t.first_response_at is not None,
                    what="the first response recorded")
        await eng.journal.drain()
        eng.shared = True  # its memory is not all there is (it owns the queue, not the ticket)
        forget(app, session)
        reads = eng.lookup.reads

        # Agent -> customer and customer -> agent, from the stored ticket.
        a1.send_message(mto=session, mbody="served from the store", mtype="chat")
        got = await cin.next(body_has("served from the store"))
        assert got["from"].bare == HELP
        cust.send_message(mto=HELP, mbody="the customer answers", mtype="chat")
        got = await ain.next(body_has("the customer answers"))
        assert got["from"].bare == session
        assert eng.lookup.reads > reads and ticket_id not in eng.tickets
        archive = app.services["support.localhost"].hooks.service("archive")
        bodies = [el.findtext("{jabber:client}body") for el, _ in
                  await archive.history(session, maxstanzas=50, maxchars=None, since=None, seconds=None)]
        assert "served from the store" in bodies and "the customer answers" in bodies

        # A note: its event is written, the ticket's row (its holder's) is not.
        a1.send_message(mto=session, mbody="/note checked the invoice", mtype="chat")
        await ain.next(body_has("Note saved"))
        assert [n[2] for n in await eng.store.notes(ticket_id)] == ["checked the invoice"]
        kinds = [k for k, *_ in await eng.store.events(ticket_id)]
        assert kinds[-1] == "note"
        assert (await eng.store.ticket(ticket_id)).state == "active"

        # Refusals: a forged conversation JID; someone who is no party of the ticket.
        a1.send_message(mto=f"t-{'0' * 26}@support.localhost", mbody="hello?", mtype="chat")
        error = await ain.next(lambda m: m["type"] == "error")
        assert error["error"]["condition"] == "item-not-found"
        for client, inbox in ((a2, in2), (other, oin)):
            client.send_message(mto=session, mbody="let me in", mtype="chat")
            error = await inbox.next(lambda m: m["type"] == "error")
            assert error["error"]["condition"] == "forbidden"
        other.send_message(mto=session, mbody="/note sneaky", mtype="chat")
        error = await oin.next(lambda m: m["type"] == "error")
        assert error["error"]["condition"] == "forbidden"
        assert [n[2] for n in await eng.store.notes(ticket_id)] == ["checked the invoice"]
        # A hand-off to the queue's owner comes only from the service itself, never from a client.
        forged = other.make_message(mto=HELP, mtype="normal")
        inner = a1.make_message(mto=session, mbody="/close", mtype="chat")
        inner["from"] = "agent1@localhost/x"
        forged.append(handoff_element(inner.xml))
        forged.send()
        error = await oin.next(lambda m: m["type"] == "error")
        assert error["error"]["condition"] == "forbidden"
        assert not [m for m in cin.items if "let me in" in (m["body"] or "")]
        assert (await eng.store.ticket(ticket_id)).state == "active"


async def test_rating_of_a_closed_ticket_served_from_the_store(component, prosody):
    app = await component(config(queue(ratings=True)))
    eng = engine(app)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as a1:
        cin, ain = harness.Inbox(cust), harness.Inbox(a1)
        agent_presence(a1)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, cust, cin, a1, ain)
        ticket_id = session.split("@", 1)[0][2:]
        a1.send_message(mto=session, mbody="/close", mtype="chat")
        await cin.next(body_has("How would you rate"))
        await eng.journal.drain()
        assert ticket_id not in eng.tickets
        before = await eng.lookup.get(ticket_id)
        assert before is not None and before.rating is None  # cached, as stored
        cust.send_message(mto=HELP, mbody="5 quick and kind", mtype="chat")
        await cin.next(body_has("Thank you for your feedback"))
        # The change invalidated the cached copy: the lookup sees the rating without a read.
        reads = eng.lookup.reads
        after = await eng.lookup.get(ticket_id)
        assert (after.rating, after.rating_comment) == (5, "quick and kind")
        assert eng.lookup.reads == reads
        assert (await eng.store.ticket(ticket_id)).rating == 5


@pytest.fixture
async def db(tmp_path):
    database = await migrated(harness.database_url(tmp_path))
    yield database
    await database.close()


async def test_cache_invalidated_on_change_and_expiring(db):
    clock = Clock()
    eng, _rec = await new_engine(db, clock)
    t = await eng.join("help", "c@x/r", "en")
    await settle()
    await eng.journal.drain()
    ticks = [0.0]
    lookup = TicketLookup(eng, ttl=10.0, clock=lambda: ticks[0])
    eng.lookup = lookup
    eng._forget(eng.tickets[t.id])  # not held here: read as stored
    first = await lookup.get(t.id)
    assert first is not None and first.state == "queued" and lookup.reads == 1
    assert (await lookup.get(t.id)) is first and lookup.reads == 1
    # Another process changed it: read again.
    lookup.changed([t.id])
    assert (await lookup.get(t.id)).state == "queued" and lookup.reads == 2
    # A change stored here replaces the cached copy (no read).
    eng._take_in(await eng.store.ticket(t.id))
    await eng.update(t.id, A, add_tags=["vip"])
    await eng.journal.drain()
    eng._forget(eng.tickets[t.id])
    assert (await lookup.get(t.id)).tags == ["vip"] and lookup.reads == 2
    # A missed notification is repaired by the expiry.
    ticks[0] += 11
    await lookup.get(t.id)
    assert lookup.reads == 3
    # Nothing there: remembered too, until a change names it.
    assert await lookup.get("0" * 26) is None and await lookup.get("0" * 26) is None and lookup.reads == 4
    changed = {f"{i:026d}": "help" if i % 2 else "sales" for i in range(450)}
    payloads = notices("support.x", changed)
    assert len(payloads) > 1 and all(len(p.encode()) <= 7000 for p in payloads)
    assert {k: v for p in payloads for k, v in read_notice(p)[1].items()} == changed
    assert {read_notice(p)[0] for p in payloads} == {"support.x"}



def test_peer_elements_valid() -> None:
    from slixmpp import Message

    msg = Message()
    msg["to"], msg["from"], msg["body"] = "t-abc@support.x", "a@x/r", "accept"
    wrapped = handoff_element(msg.xml)
    assert_valid(wrapped)
    assert_valid(adopt_element())
    assert wrapped.find("{urn:xmpp:forward:0}forwarded/{jabber:client}message") is not None


async def test_requests_handed_to_the_queue_owner(component, prosody):
    """This process plays one that owns no queue (as where several share the domain): what changes a
    ticket goes, wrapped, to the queue's JID; the server brings it to the owner (here: back to us,
    which then adopts the queue), which serves it as if it had arrived itself."""
    from xml.etree.ElementTree import SubElement

    from .kit import NS

    COMMANDS = "http://jabber.org/protocol/commands"
    app = await component(config(queue()))
    eng = engine(app)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as a1:
        cin, ain = harness.Inbox(cust), harness.Inbox(a1)
        agent_presence(a1)
        await agent_ready(app, "agent1")
        session = await start_conversation(app, cust, cin, a1, ain)
        ticket_id = session.split("@", 1)[0][2:]
        await eng.journal.drain()
        eng.shared = True
        await eng.release_all()
        assert not eng.tickets and not eng.owned
        # Service figures count what every process holds: read as stored.
        stats = await app.services["support.localhost"].plugins["support"].admin_stats(None)
        assert stats == {"queued_customers": 0, "active_conversations": 1, "agents_online": 1}
        # The agent's first answer is recorded: handed over, relayed by the owner.
        a1.send_message(mto=session, mbody="first answer", mtype="chat")
        got = await cin.next(body_has("first answer"))
        assert got["from"].bare == HELP and eng.owned == {"help"}
        await until(lambda: eng.tickets[ticket_id].first_response_at is not None, what="the first response")
        # XEP-0050 at the conversation: the list of its commands and a command, from the owner.
        await eng.release_all()
        items = a1.make_iq_get(ito=session)
        SubElement(items.xml, "{http://jabber.org/protocol/disco#items}query", {"node": COMMANDS})
        listed = await items.send(timeout=10)
        nodes = {i.get("node") for i in listed.xml.iter("{http://jabber.org/protocol/disco#items}item")}
        assert "support-pending" in nodes and listed["from"].bare == session
        await eng.release_all()
        run = a1.make_iq_set(ito=session)
        SubElement(run.xml, f"{{{COMMANDS}}}command", {"node": "support-pending", "action": "execute"})
        done = await run.send(timeout=10)
        assert done.xml.find(f"{{{COMMANDS}}}command").get("status") == "completed"
        await cin.next(body_has("waiting for your reply"))
        assert (await eng.store.ticket(ticket_id)).state == "pending"
        # An IQ of ours: answered from the conversation's address once the owner served it.
        await eng.release_all()
        iq = a1.make_iq_set(ito=session)
        SubElement(iq.xml, f"{{{NS}}}close")
        result = await iq.send(timeout=10)
        assert result["type"] == "result" and result["from"].bare == session
        await cin.next(body_has("This conversation is closed"))
        assert (await eng.store.ticket(ticket_id)).state in ("resolved", "closed")
        kinds = [k for k, *_ in await eng.store.events(ticket_id)]
        assert kinds.count("first_response") == 1 and kinds[-1] == "closed"
