"""The engine without a network: routing strategies, tiers, capacity, offers, transfer, persistence
(the routing functions alone: test_routing.py).

A recording outbox stands in for stanzas; the database is a real SQLite file.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from component.hooks import HookBus
from component.storage import Database, Migrations
from plugins.support import hooks as events
from plugins.support.options import QueueOptions, SupportOptions
from plugins.support.plugin import SupportPlugin
from plugins.support.engine import JoinRefused, SupportEngine
from plugins.support.store import SupportStore

A, B, C = "a@x", "b@x", "c@x"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.online: set[str] = set()
        self.places: list[tuple[str, int, bool]] = []  # (customer, entries ahead, an update?)

    def customer_notice(self, t, body, status=None, transient=False, update=False):
        self.calls.append(("customer", (t.customer, body, status)))
        if status is not None:
            self.places.append((t.customer, status[0], update))

    def customer_departed(self, t, body):
        self.calls.append(("departed", t.customer))

    def customer_closed(self, t, body, by):
        self.calls.append(("closed", t.customer))

    def session_notice(self, t, to, body, marker=None):
        self.calls.append(("session", (to, body)))

    def offer_now(self, t, agent_jid, timeout, body):
        return ""  # always through offer()

    def known_offer_form(self, agent_jid):
        return ""

    async def offer(self, t, agent_jid, timeout, body, via=""):
        self.calls.append(("offer", (t.customer, agent_jid)))
        return "chat"

    def revoke(self, t, agent_jid, via, reason):
        self.calls.append(("revoke", (t.customer, agent_jid, reason)))

    async def connect_agent(self, t, agent_jid, intro):
        self.calls.append(("connect", (t.customer, agent_jid)))

    async def probe(self, jid):
        return jid in self.online

    def of(self, kind):
        return [args for k, args in self.calls if k == kind]


@pytest.fixture
async def make(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    engines: list[SupportEngine] = []

    async def build(**queue: Any) -> tuple[SupportEngine, Recorder]:
        q = QueueOptions(name="help", agents=[A, B, C], offer_timeout=queue.pop("offer_timeout", 30.0), **queue)
        options = SupportOptions(queues=[q], status_interval=0.0, liveness_interval=0.0)
        rec = Recorder()
        engine = SupportEngine(options, "support.x", SupportStore(db), rec, HookBus())
        await engine.load()
        engines.append(engine)
        return engine, rec

    yield build
    for engine in engines:
        await engine.stop()
    await db.close()


async def online(engine, *agents, show="chat", max_chats=None):
    for agent in agents:
        await engine.agent_presence("help", f"{agent}/r", show, max_chats)


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_offer_written_at_its_commit_and_one_that_fails_there_goes_the_usual_way(make, caplog):
    """An offer whose form is known leaves in the commit's own callback (nothing of the round's other
    work before it); if writing it there fails, the offer's task sends it as before, and it is logged."""
    engine, rec = await make()
    written: list[str] = []

    def offer_now(t, agent_jid, timeout, body):
        written.append(t.customer)
        if t.customer == "bad@y":
            raise RuntimeError("the stream broke")
        return "chat"

    rec.offer_now = offer_now
    await online(engine, A)
    first = await engine.join("help", "good@y/r", "en", body="hi")
    await settle()
    assert written == ["good@y"] and rec.of("offer") == []  # not sent twice
    assert first.state == "offered" and first.offers == {f"{A}/r": "chat"}  # its form is stored
    await online(engine, B)
    with caplog.at_level("ERROR", logger="switchboard.plugins.support"):
        second = await engine.join("help", "bad@y/r", "en", body="hi")
        await settle()
    assert written == ["good@y", "bad@y"] and rec.of("offer") == [("bad@y", f"{B}/r")]
    assert second.state == "offered" and second.offers == {f"{B}/r": "chat"}
    assert [r.getMessage() for r in caplog.records] == ["offer not written at its commit"]


async def test_round_robin_alternates_and_least_busy_balances(make):
    engine, rec = await make(strategy="round-robin")
    await online(engine, A, B)
    for n in range(4):
        t = await engine.join("help", f"cust{n}@y/r", "en")
        await settle()
        agent = rec.of("offer")[-1][1]
        await engine.accept(t.id, agent)
    assert [a for _c, a in rec.of("offer")] == [f"{A}/r", f"{B}/r", f"{A}/r", f"{B}/r"]

    engine2, rec2 = await make(strategy="least-busy")
    await online(engine2, A, B)
    # A already holds two conversations (from the first engine's tickets? no: fresh per engine state)
    t1 = await engine2.join("help", "x1@y/r", "en")
    await settle()
    await engine2.accept(t1.id, rec2.of("offer")[-1][1])
    t2 = await engine2.join("help", "x2@y/r", "en")
    await settle()
    first, second = rec2.of("offer")[0][1], rec2.of("offer")[1][1]
    assert first != second  # the one already busy is not chosen again
    del t2


async def test_broadcast_first_accept_wins_and_others_are_revoked(make):
    engine, rec = await make(strategy="broadcast")
    await online(engine, A, B, C)
    t = await engine.join("help", "cust@y/r", "en")
    await settle()
    assert sorted(a for _c, a in rec.of("offer")) == [f"{A}/r", f"{B}/r", f"{C}/r"]
    await engine.accept(t.id, f"{B}/r")
    assert sorted(a for _c, a, _r in rec.of("revoke")) == [f"{A}/r", f"{C}/r"]
    with pytest.raises(Exception) as err:
        await engine.accept(t.id, f"{A}/r")
    assert err.value.condition == "item-not-found"


async def test_tiers_away_only_when_nobody_free_dnd_urgent_only_xa_never(make):
    engine, rec = await make(urgent_priority=5)
    await online(engine, A, show="xa")
    await online(engine, B, show="dnd")
    t = await engine.join("help", "cust@y/r", "en")
    await settle()
    assert rec.of("offer") == []
    urgent = await engine.join("help", "vip@y/r", "en", priority=5)
    await settle()
    assert rec.of("offer") == [("vip@y", f"{B}/r")]
    await online(engine, C, show="away")
    await settle()
    assert rec.of("offer")[-1] == ("cust@y", f"{C}/r")
    del t, urgent


async def test_capacity_from_max_chats_bounded_by_queue(make):
    engine, rec = await make(max_chats=2)
    await online(engine, A, max_chats=5)   # asks 5, the queue allows 2
    for n in range(3):
        t = await engine.join("help", f"c{n}@y/r", "en")
        await settle()
        if rec.of("offer") and rec.of("offer")[-1][0] == f"c{n}@y":
            await engine.accept(t.id, f"{A}/r")
    assert [c for c, _a in rec.of("offer")] == ["c0@y", "c1@y"]
    assert engine.load_of(A) == 2


async def test_reject_reoffers_to_next_then_retries_after_a_pause(make):
    engine, rec = await make(offer_timeout=0.2)
    await online(engine, A, B)
    t = await engine.join("help", "cust@y/r", "en")
    await settle()
    await engine.reject(t.id, f"{A}/r")
    await settle()
    assert [a for _c, a in rec.of("offer")] == [f"{A}/r", f"{B}/r"]
    await engine.reject(t.id, f"{B}/r")
    await settle()
    assert len(rec.of("offer")) == 2          # everyone declined: no immediate loop
    await until_true(lambda: len(rec.of("offer")) == 3)   # asked again after the pause (0.2 s)


async def test_join_refusals_and_bot_hook(make):
    engine, rec = await make(max_waiting=1)
    await engine.join("help", "one@y/r", "en")
    with pytest.raises(JoinRefused) as err:
        await engine.join("help", "one@y/other", "en")
    assert (err.value.reason, err.value.condition) == ("conflict", "conflict")
    with pytest.raises(JoinRefused) as err:
        await engine.join("help", "two@y/r", "en")
    assert (err.value.reason, err.value.condition) == ("full", "service-unavailable")
    engine.queues["help"].open = False
    with pytest.raises(JoinRefused) as err:
        await engine.join("help", "three@y/r", "en")
    assert err.value.reason == "closed"

    engine2, rec2 = await make()
    seen: list[events.TicketEvent] = []
    engine2.hooks.on(events.BEFORE_QUEUE, lambda ev: True)
    engine2.hooks.on(events.TICKET_EVENT, lambda ev: seen.append(ev))
    t = await engine2.join("help", "botted@y/r", "en", body="hi")
    assert t.state == "bot" and rec2.of("customer") == []
    await engine2.enqueue(t.id)
    assert t.state == "queued"
    assert [e.kind for e in seen] == ["created", "bot", "queued"]


async def test_transfer_rules_and_state_reloaded_from_the_database(make, tmp_path):
    engine, rec = await make()
    await online(engine, A, B)
    t = await engine.join("help", "cust@y/r", "en")
    await settle()
    await engine.accept(t.id, rec.of("offer")[-1][1])
    holder = t.agent
    with pytest.raises(Exception) as err:
        await engine.transfer(t.id, holder, holder)
    assert err.value.condition == "bad-request"
    with pytest.raises(Exception) as err:
        await engine.transfer(t.id, holder, C)      # known agent, offline
    assert err.value.condition == "recipient-unavailable"
    with pytest.raises(Exception) as err:
        await engine.transfer(t.id, holder, "nobody@x")
    assert err.value.condition == "item-not-found"
    other = B if holder == A else A
    await engine.transfer(t.id, holder, other)
    await settle()
    assert rec.of("offer")[-1] == ("cust@y", f"{other}/r")
    await engine.note(t.id, holder, "private")
    # A second engine on the same database sees the same state.
    engine2, _rec2 = await make()
    reloaded = engine2.tickets[t.id]
    assert (reloaded.state, reloaded.target_agent, reloaded.agents_seen) == ("offered", other, [holder])
    assert set(engine2.agents["help"]) == {A, B}
    kinds = [k for k, *_ in await engine2.store.events(t.id)]
    assert kinds == ["created", "queued", "offered", "accepted", "transferred", "offered", "note"]


async def test_resume_queues_tickets_left_undecided_and_restarts_offer_clocks(make):
    engine, rec = await make(offer_timeout=0.2)
    await online(engine, A)
    deciding = asyncio.Event()

    async def never_decides(_ev):
        deciding.set()
        await asyncio.sleep(3600)

    engine.hooks.on(events.BEFORE_QUEUE, never_decides)
    task = asyncio.ensure_future(engine.join("help", "stuck@y/r", "en"))
    await asyncio.wait_for(deciding.wait(), 5)
    stuck = next(iter(engine.tickets.values()))
    assert stuck.state == "new"
    task.cancel()
    # A restarted engine on the same database queues it and offers it.
    engine2, rec2 = await make(offer_timeout=0.2)
    rec2.online.add(f"{A}/r")        # the agent's client still answers after the restart
    await engine2.resume()
    await settle()
    assert engine2.tickets[stuck.id].state == "offered"
    assert rec2.of("offer") == [("stuck@y", f"{A}/r")]
    # The offer clock runs: unanswered, it is revoked and (A declined) retried after a pause.
    await until_true(lambda: rec2.of("revoke"))
    assert rec2.of("revoke")[0][1] == f"{A}/r"


async def test_agents_gone_during_a_restart_are_dropped(make):
    engine, _rec = await make()
    await online(engine, A, B)
    engine2, rec2 = await make()
    rec2.online.add(f"{B}/r")
    await engine2.resume()
    await until_true(lambda: A not in {a.jid for a in engine2._routable_agents("help")})
    assert [a.jid for a in engine2._routable_agents("help")] == [B]


async def until_true(predicate, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_a_failing_bot_or_listener_does_not_stop_the_queue(make, caplog):
    engine, rec = await make()

    def broken(_ev):
        raise RuntimeError("bot bug")

    engine.hooks.on(events.BEFORE_QUEUE, broken)
    engine.hooks.on(events.TICKET_EVENT, broken)
    t = await engine.join("help", "cust@y/r", "en")
    assert t.state == "queued"
    assert "before_queue handler failed" in caplog.text and "ticket event listener failed" in caplog.text


async def test_queue_positions_computed_in_one_pass_match_each_tickets_status(make):
    engine, rec = await make()
    tickets = [await engine.join("help", f"c{n}@y/r", "en") for n in range(12)]
    await engine.update(tickets[7].id, "", priority=20)  # jumps the line
    await online(engine, A)  # one ticket gets offered: (0, 0) for it
    await settle()
    statuses = engine._statuses("help")
    waiting = {t.id for t in engine.tickets.values() if t.queue == "help" and t.id in statuses}
    assert waiting == {t.id for t in tickets}
    for t in tickets:
        assert statuses[t.id] == engine.status(t), t.id
    # The offered ticket answers (0, 0) and still counts as ahead of the other eleven.
    assert sorted(ahead for ahead, _ in statuses.values()) == [0] + list(range(1, 12))
    # Every customer was told their latest position.
    last = {c: s for _kind, (c, _body, s) in [("c", a) for a in rec.of("customer")] if s is not None}
    for t in tickets:
        assert last[t.customer] == statuses[t.id]


async def test_a_newcomers_place_is_news_and_the_places_of_those_who_move_up_are_updates(make):
    """The outbox sends a newcomer's place at once and lets the batch's updates wait while the server
    is behind (a thousand customers moving up must not hold back the offer that moved them)."""
    engine, rec = await make()
    tickets = [await engine.join("help", f"c{n}@y/r", "en") for n in range(3)]
    await settle()
    assert rec.places == [(t.customer, n, False) for n, t in enumerate(tickets)]
    rec.places.clear()
    await engine.leave(tickets[0].id, "left")
    for _ in range(20):
        await asyncio.sleep(0.01)
        if len(rec.places) == 2:
            break
    assert rec.places == [(tickets[1].customer, 0, True), (tickets[2].customer, 1, True)]


async def test_an_agent_freed_in_one_queue_is_offered_the_waiting_customer_of_another(tmp_path):
    """An agent of two queues answers one offer at a time; once it is answered, the customer who came
    to the other queue meanwhile is offered, not left waiting for some event in that queue."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    queues = [QueueOptions(name=name, agents=[A], offer_timeout=30.0) for name in ("sales", "help")]
    rec = Recorder()
    engine = SupportEngine(SupportOptions(queues=queues, status_interval=0.0, liveness_interval=0.0),
                           "support.x", SupportStore(db), rec, HookBus())
    await engine.load()
    try:
        for name in ("sales", "help"):
            await engine.agent_presence(name, f"{A}/r", "chat", 3)
        first = await engine.join("sales", "buyer@y/r", "en")
        await settle()
        second = await engine.join("help", "asker@y/r", "en")
        await settle()
        assert rec.of("offer") == [("buyer@y", f"{A}/r")]   # one pending offer at a time
        await engine.accept(first.id, f"{A}/r")
        await settle()
        assert rec.of("offer")[-1] == ("asker@y", f"{A}/r")
        assert engine.tickets[second.id].state == "offered"
    finally:
        await engine.stop()
        await db.close()
