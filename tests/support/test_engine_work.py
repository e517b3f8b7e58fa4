"""Work the engine does once rather than again for each event: an offer's form stored with the offer
when the client is known, and a queue's seats worked out again only after a presence changed them
(a routing pass runs for every acceptance: fifty in a round of a desk filling up).

A recording outbox stands in for stanzas; the database is a real SQLite file.
"""

from __future__ import annotations

from plugins.support import routing

from .test_engine import A, B, C, make, online, settle  # noqa: F401 - make is a fixture


async def test_an_offer_to_a_client_known_to_take_chat_offers_is_stored_with_its_form_in_one_change(make):
    """A client already known to take offers as chat messages: the offer's form is stored with the offer
    (no second change once sent); if it cannot be written at the commit, it still goes as chat."""
    engine, rec = await make()
    written: list[str] = []

    def offer_now(t, agent_jid, timeout, body):
        written.append(t.customer)
        return "" if t.customer == "later@y" else "chat"

    rec.offer_now = offer_now
    rec.known_offer_form = lambda jid: "" if jid.startswith(C) else "chat"

    async def offered(customer, agent):
        before = engine.journal.entries
        await online(engine, agent)
        t = await engine.join("help", f"{customer}/r", "en", body="hi")
        await settle()
        assert t.state == "offered" and t.offers == {f"{agent}/r": "chat"}
        assert (await engine.store.ticket(t.id)).offers == {f"{agent}/r": "chat"}
        return t, engine.journal.entries - before

    first, known = await offered("good@y", A)
    assert written == ["good@y"] and rec.of("offer") == []
    # Not known (a disco#info question would decide it): stored once more when it was sent.
    _third, asked = await offered("asked@y", C)
    assert asked == known + 1
    second, _ = await offered("later@y", B)
    # Not written at the commit: its task sends it in the stored form, and stores nothing more.
    assert rec.of("offer") == [("later@y", f"{B}/r")]
    assert engine._told[second.id] == {f"{B}/r": (second.offer_deadline, "chat")}


async def test_routing_passes_work_out_the_agents_seats_again_only_after_a_presence_changed_them(make, monkeypatch):
    engine, rec = await make(strategy="round-robin")
    worked_out: list[list[str]] = []
    real = routing.seats

    def seats(agents, default_max):
        found = real(agents, default_max)
        worked_out.append([s.resource for s in found])
        return found

    monkeypatch.setattr(routing, "seats", seats)
    await online(engine, A, B)
    tickets = []
    for n in range(4):  # each join and each acceptance routes the queue
        tickets.append(await engine.join("help", f"c{n}@y/r", "en"))
        await settle()
        await engine.accept(tickets[-1].id, rec.of("offer")[-1][1])
    assert worked_out == [[f"{A}/r", f"{B}/r"]]  # once, at the first pass after both came online
    await online(engine, C, show="away")
    await engine.agent_presence("help", f"{A}/r", None)
    t = await engine.join("help", "c4@y/r", "en")
    await settle()
    assert worked_out[1:] == [[f"{B}/r", f"{C}/r"]]  # the presences seen: A gone, C there
    assert rec.of("offer")[-1] == ("c4@y", f"{B}/r") and t.state == "offered"
    await engine.agent_presence("help", f"{B}/r", "xa")  # B may not be routed any more
    await engine.reject(t.id, f"{B}/r")
    await settle()
    assert worked_out[-1] == [f"{C}/r"] and rec.of("offer")[-1] == ("c4@y", f"{C}/r")
