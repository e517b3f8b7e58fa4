"""Two engines sharing one database, as two processes sharing a domain: each owns one queue.

No network: what a process learns from another comes as the ticket-change notification
(``changed_elsewhere``), called here as the PostgreSQL listener would. Real SQLite/PostgreSQL
storage.
"""

from __future__ import annotations

import asyncio

import pytest

from component.hooks import HookBus
from plugins.support.engine import SupportEngine
from plugins.support.options import QueueOptions, SupportOptions
from plugins.support.store import SupportStore

from .. import harness
from ..support_ops.kit import A, Clock, Recorder, migrated, settle

CUSTOMERS = ("c1@x/r", "c2@x/r", "c3@x/r")


@pytest.fixture
async def db(tmp_path):
    database = await migrated(harness.database_url(tmp_path))
    yield database
    await database.close()


async def process(db, queue: str, clock: Clock) -> tuple[SupportEngine, Recorder]:
    options = SupportOptions(queues=[QueueOptions(name=name, agents=[A], offer_timeout=30.0, max_chats=1)
                                     for name in ("help", "sales")], status_interval=0.0, liveness_interval=0.0)
    rec = Recorder()
    engine = SupportEngine(options, "support.x", SupportStore(db), rec, HookBus(), now=clock, shared=True)
    await engine.load()
    assert engine.owned == set() and not engine.tickets
    await engine.adopt(queue)
    await engine.agent_presence(queue, A + "/desk", "chat")
    return engine, rec


async def test_queues_owned_by_two_engines_loads_and_transfers(db):
    clock = Clock()
    help_, _help_rec = await process(db, "help", clock)
    sales, sales_rec = await process(db, "sales", clock)
    assert (help_.owned, sales.owned) == ({"help"}, {"sales"})

    t1 = await help_.join("help", CUSTOMERS[0], "en")
    await settle()
    await help_.accept(t1.id, A + "/desk")
    await help_.journal.drain()
    # The agent holds a conversation in the other process's queue: at capacity (1) here too.
    t2 = await sales.join("sales", CUSTOMERS[1], "en")
    await settle()
    assert sales.tickets[t2.id].state == "queued" and not sales_rec.of("offer")
    assert sales.load_of(A) == 1 and t1.id not in sales.tickets
    # Only the owner holds a ticket; the other reads it as stored.
    assert (await sales.lookup.get(t1.id)).state == "active"

    # The conversation ends in one process: the other hears of it and offers its customer.
    await help_.close(t1.id, A)
    await help_.journal.drain()
    await sales.changed_elsewhere([t1.id], {t1.id: "help"})
    await settle()
    assert sales.tickets[t2.id].state == "offered"
    assert sales_rec.of("offer") == [(t2.id, A + "/desk")]

    # A transfer to the other process's queue: stored and let go here, taken up there.
    t3 = await help_.join("help", CUSTOMERS[2], "en")
    await settle()
    assert help_.tickets[t3.id].state == "offered"  # the agent's offer from sales is not known yet
    await help_.transfer(t3.id, A, "sales")
    await help_.journal.drain()
    assert t3.id not in help_.tickets and not help_.waiting_count("help")
    await sales.changed_elsewhere([t3.id], {t3.id: "sales"})
    await settle()
    held = sales.tickets[t3.id]
    assert (held.queue, held.state, held.entry) == ("sales", "queued", "help")
    assert list(sales.waiting["sales"].ids()) == [t2.id, t3.id]
    # The first process counts the agent's offer in the other queue.
    await help_.changed_elsewhere([t2.id], {t2.id: "sales"})
    assert help_.load_of(A) == 1
    await help_.stop()
    await sales.stop()


async def test_released_queues_come_back_from_the_database(db):
    """A lost connection may come back on another slot: the queues go, and come back when adopted."""
    clock = Clock()
    engine, rec = await process(db, "help", clock)
    t1 = await engine.join("help", CUSTOMERS[0], "en")
    t2 = await engine.join("help", CUSTOMERS[1], "en")
    await settle()
    await engine.journal.drain()
    assert engine.tickets[t1.id].state == "offered" and engine.waiting_count("help") == 2
    await engine.release_all()
    assert engine.owned == set() and not engine.tickets and not engine.waiting_count()
    assert not engine._timers and not engine.agents["help"]
    # Nothing runs for a queue let go: no routing, no offer clock.
    await engine._route_queue("help")
    engine.stream_back()  # the lost connection was the one the offer left on
    await engine.adopt("help")
    assert engine.tickets[t1.id].state == "offered" and engine.tickets[t2.id].state == "queued"
    assert list(engine.waiting["help"].ids()) == [t1.id, t2.id]
    assert ("offer", t1.id) in engine._timers
    assert rec.of("offer")[-1] == (t1.id, A + "/desk")  # the offer sent again
    assert engine.agents["help"][A].tier() is not None  # the agent's stored presence
    await engine.stop()


async def test_a_readoption_sends_an_offer_again_only_when_it_may_have_been_lost(db):
    """Let go and adopted again with the stream the offer left on still up (another slot's connection
    came back): the agent has the offer, it is not sent twice. Once that stream came back (it may have
    died in its buffers), or after a restart (nothing known of what left), it is sent again."""
    clock = Clock()
    engine, rec = await process(db, "help", clock)
    t1 = await engine.join("help", CUSTOMERS[0], "en")
    await settle()
    await engine.journal.drain()
    assert rec.of("offer") == [(t1.id, A + "/desk")]
    await engine.release_all()
    await engine.adopt("help")
    await settle()
    assert engine.tickets[t1.id].state == "offered" and ("offer", t1.id) in engine._timers
    assert rec.of("offer") == [(t1.id, A + "/desk")]  # not sent twice
    await engine.release_all()
    engine.stream_back()
    await engine.adopt("help")
    await settle()
    assert rec.of("offer") == [(t1.id, A + "/desk")] * 2
    # Told again on the stream now up: one more plain re-adoption sends nothing.
    await engine.release_all()
    await engine.adopt("help")
    await settle()
    assert len(rec.of("offer")) == 2
    await engine.journal.drain()
    await engine.stop()
    restarted, rec2 = await process(db, "help", clock)
    await settle()
    assert rec2.of("offer") == [(t1.id, A + "/desk")]
    await restarted.stop()


class SlowFence:
    """The queue's lock as another process may hold it: each ``hold`` waits for the test's answer."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.answer: asyncio.Future = asyncio.get_running_loop().create_future()

    async def hold(self, queue: str) -> bool:
        self.asked.set()
        return await self.answer

    async def let_go(self, queue: str) -> None:
        return None


async def test_a_stanza_during_an_adoption_waits_for_its_outcome(db):
    """While the queue's lock is asked for, or the engine is busy, a second adoption (a stanza for the
    queue) waits: its stanza is then refused (fenced) or served once the queue is owned here, never
    before. (A clean-clone run saw a queue-status served by a process whose adoption waited for its
    busy engine.)"""
    options = SupportOptions(queues=[QueueOptions(name="help", agents=[A])], status_interval=0.0,
                             liveness_interval=0.0)
    engine = SupportEngine(options, "support.x", SupportStore(db), Recorder(), HookBus(), now=Clock(), shared=True)
    await engine.load()
    engine.fence = fence = SlowFence()
    first = asyncio.ensure_future(engine.adopt("help"))
    await fence.asked.wait()
    second = asyncio.ensure_future(engine.adopt("help"))
    await settle()
    assert not second.done()
    fence.answer.set_result(False)  # another process holds the queue
    assert (await first, await second) == (False, False)
    assert engine.fenced == {"help"} and not engine.owned
    # Granted while the engine is busy: the second returns once the queue is owned.
    fence.answer = asyncio.get_running_loop().create_future()
    fence.answer.set_result(True)
    await engine._lock.acquire()
    first = asyncio.ensure_future(engine.adopt("help"))
    await settle()
    second = asyncio.ensure_future(engine.adopt("help"))
    await settle()
    assert not first.done() and not second.done()
    engine._lock.release()
    assert (await first, await second) == (True, False)
    assert engine.owned == {"help"} and not engine.fenced
    await engine.stop()


async def test_a_connection_back_lets_the_queues_go_and_probes_again(monkeypatch):
    """However quick the reconnection, the queues go (the slot may be another) and are probed again."""
    import asyncio

    from plugins.support import peering

    monkeypatch.setattr(peering, "WATCH_INTERVAL", 0.01)

    class Engine:
        queues = {"help": None, "sales": None}
        owned: set[str] = set()
        shared = True
        released = 0

        def queue_jid(self, name):
            return f"{name}@support.x"

        async def release_all(self, park=False):
            assert park  # kept aside: a queue nobody else took meanwhile is kept when it comes back
            self.released += 1
            self.owned = set()

    class Service:
        connected = asyncio.Event()
        sessions_started = 0

    class Desk(peering.Peering):
        def __init__(self):
            self.engine, self.service, self.sent = Engine(), Service(), []
            self._init_peering()

        def _peer_message(self, to, payload):
            self.sent.append(to)

    desk = Desk()
    desk._start_probing()
    try:
        desk.service.sessions_started = 2
        desk.service.connected.set()
        await harness.until(lambda: len(desk.sent) == 2, 2, "the first probes")
        desk.engine.owned = {"help"}
        # A link dropped and came back between two looks: another session, same "connected".
        desk.service.sessions_started = 3
        await harness.until(lambda: desk.engine.released == 1, 2, "the queues let go")
        await harness.until(lambda: len(desk.sent) == 4, 2, "probed again")
        assert desk.sent[2:] == ["help@support.x", "sales@support.x"]
        # Lost and not back yet: let go; back: probed.
        desk.engine.owned = {"sales"}
        desk.service.connected.clear()
        await harness.until(lambda: desk.engine.released == 2, 2, "let go while away")
        desk.service.sessions_started = 4
        desk.service.connected.set()
        await harness.until(lambda: len(desk.sent) == 6, 2, "probed once back")
        assert desk.engine.released == 2
    finally:
        await desk._stop_peering()
