"""A queue's fencing token (component/owners.py) with two engines sharing one database, as two
processes whose queue changed hands while the first still acted on it (its claims session lost,
so its lock free for the other: here both locks are granted, as in that window).

Real SQLite/PostgreSQL storage; the processes' advisory locks are tests/balancing's (ejabberd pass)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, text

from component.hooks import HookBus
from component.owners import OwnerChanged, Owners, stale
from component.peers import MIGRATIONS as CORE_MIGRATIONS
from component.storage import Database, Migrations
from plugins.support.engine import SupportEngine
from plugins.support.model import Ticket
from plugins.support.options import QueueOptions, SupportOptions
from plugins.support.ownership import unchanged
from plugins.support.peering import QueueFence
from plugins.support.plugin import SupportPlugin
from plugins.support.store import SupportEvent, SupportStore, SupportTicket

from .. import harness
from ..support_ops.kit import A, Clock, Recorder, settle

DOMAIN = "support.x"


class LockAlwaysFree:
    """The claims of a process whose advisory locks are gone: every hold is granted."""

    def __init__(self) -> None:
        self.held: set[tuple[str, str]] = set()

    async def hold(self, domain: str, name: str) -> bool:
        self.held.add((domain, name))
        return True

    def holding(self, domain: str, name: str) -> bool:
        return (domain, name) in self.held

    async def let_go(self, domain: str, name: str) -> None:
        self.held.discard((domain, name))


@pytest.fixture
async def db(tmp_path):
    database = Database(harness.database_url(tmp_path))
    await database.migrate([CORE_MIGRATIONS, Migrations("support", SupportPlugin.migrations)])
    yield database
    await database.close()


async def process(db: Database, clock: Clock) -> tuple[SupportEngine, Owners]:
    options = SupportOptions(queues=[QueueOptions(name=name, agents=[A], offer_timeout=30.0)
                                     for name in ("help", "sales")], status_interval=0.0, liveness_interval=0.0)
    # As with balancing on PostgreSQL: changes told to the others in the writer's transaction.
    store = SupportStore(db, changed=_nobody)
    engine = SupportEngine(options, DOMAIN, store, Recorder(), HookBus(), now=clock, shared=True)
    owners = Owners(LockAlwaysFree(), db.engine)
    engine.fence = QueueFence(owners, DOMAIN)
    await engine.load()
    return engine, owners


async def _nobody(session: Any, changed: dict[str, str]) -> None:
    return None


async def stored(db: Database) -> tuple[dict[str, str], int]:
    """{ticket id: customer} and the number of events, as stored."""
    async with db.session() as session:
        tickets = dict((await session.execute(select(SupportTicket.id, SupportTicket.customer))).all())
        events = (await session.execute(select(func.count()).select_from(SupportEvent))).scalar_one()
    return tickets, events


def test_a_token_is_stale_unless_it_is_its_names_generation() -> None:
    assert stale({("help", 2), ("sales", 1)}, {"help": 2, "sales": 1}) == []
    assert stale({("help", 1), ("sales", 1)}, {"help": 2, "sales": 1}) == ["help"]
    assert stale({("help", 0)}, {"help": 2}) == ["help"]  # the token of a queue not owned
    assert stale({("help", 1)}, {}) == ["help"]  # never taken


def test_a_ticket_is_unchanged_when_only_what_memory_alone_holds_differs() -> None:
    stored = Ticket(id="t1", queue="help", customer="c1@x", customer_jid="c1@x/r", lang="en", created_at=1.0,
                    state="queued", offers={"a@x/desk": "chat"})
    memory = stored.snapshot()
    memory.last_status, memory.last_status_at, memory.offline_since = (1, 60), 5.0, 2.0
    assert unchanged(memory, stored)
    memory.offers["b@x/desk"] = "iq"  # an offer this process made that was not stored
    assert not unchanged(memory, stored)


async def test_a_stale_owners_write_is_refused_whole_and_it_lets_the_queue_go(db):
    clock = Clock()
    first, owners = await process(db, clock)
    await first.adopt("help")
    await first.adopt("sales")
    c1 = await first.join("help", "c1@x/r", "en")
    c2 = await first.join("help", "c2@x/r", "en")
    s1 = await first.join("sales", "s1@x/r", "en")
    await first.journal.drain()
    assert (owners.generation(DOMAIN, "help"), owners.generation(DOMAIN, "sales")) == (1, 1)
    before = await stored(db)

    # The queue changes hands: the other process adopts it (a new generation) and loads it as stored.
    second, others = await process(db, clock)
    await second.adopt("help")
    assert others.generation(DOMAIN, "help") == 2
    assert list(second.waiting["help"].ids()) == [c1.id, c2.id]

    # The first, still acting as the owner, writes: refused before anything is written, and the whole
    # batch with it (a change of a queue still its own, in the same transaction).
    first.tickets[s1.id].priority = 3
    first._change(first.tickets[s1.id], "priority", "super@x", priority=3, previous=0)
    with pytest.raises(OwnerChanged) as refused:
        await first.join("help", "c3@x/r", "en")
    assert refused.value.condition == "recipient-unavailable" and refused.value.names == ["help"]
    await first.journal.drain()
    assert await stored(db) == before
    assert owners.refusals == {DOMAIN: 1}
    # It let the queue go at once, and forgot it once its lock was free; the other queue stays.
    assert "help" not in first.owned and owners.generation(DOMAIN, "help") is None
    await settle()
    assert first.owned == {"sales"} and set(first.tickets) == {s1.id}
    assert first.tickets[s1.id].priority == 0  # memory as stored: the refused change undone
    assert not first.waiting_count("help") and not any(key[1] in (c1.id, c2.id) for key in first._timers)

    # The new owner's order and tickets are intact, and it writes on: the customer asks again there.
    c3 = await second.join("help", "c3@x/r", "en")
    await second.journal.drain()
    assert list(second.waiting["help"].ids()) == [c1.id, c2.id, c3.id]
    assert (await stored(db))[0] == {**before[0], c3.id: "c3@x"}
    # And the first process's next change of the queue it still owns is stored as before.
    first.tickets[s1.id].priority = 2
    await first._record(first.tickets[s1.id], "priority", "super@x", priority=2, previous=0)
    assert (await second.store.ticket(s1.id)).priority == 2
    await first.stop()
    await second.stop()


async def test_a_transfer_is_written_under_the_token_of_the_queue_it_leaves(db):
    clock = Clock()
    first, owners = await process(db, clock)
    await first.adopt("help")
    t = await first.join("help", "c1@x/r", "en")
    await first.journal.drain()
    # "sales" is another process's: the ticket leaves under help's token alone.
    assert first._tokens(first.tickets[t.id]) == {"help": 1}
    first.tickets[t.id].queue = "sales"
    assert first._tokens(first.tickets[t.id]) == {"help": 1}
    first.tickets[t.id].queue = "help"
    # A ticket open in memory whose queue is not owned here any more: a token no generation has.
    first.owned.discard("help")
    assert first._tokens(first.tickets[t.id]) == {"help": 0}
    # Without balancing nothing is fenced.
    first.fence = None
    assert first._tokens(first.tickets[t.id]) is None
    await first.stop()


async def test_a_queue_taken_back_under_its_own_generation_is_kept(db):
    """The claims session blipped: every queue was let go (their locks went with it). A queue no
    other process took meanwhile is taken back under the same generation, and nobody is told again
    what they know (their places, the conversation an agent has not answered yet)."""
    clock = Clock()
    first, owners = await process(db, clock)
    rec = first.outbox
    await first.adopt("help")
    await first.agent_presence("help", A + "/desk", "chat")
    t1 = await first.join("help", "c1@x/r", "en")
    t2 = await first.join("help", "c2@x/r", "en")
    await settle()
    await first.accept(t1.id, A + "/desk")
    await first.journal.drain()
    await settle()
    assert first.tickets[t1.id].state == "active" and first.tickets[t1.id].first_response_at is None
    told = list(rec.calls)

    await first.release_all(park=True)
    assert not first.owned and not first.tickets
    assert await first.adopt("help")
    await settle()
    assert owners.generation(DOMAIN, "help") == 1
    assert first.tickets[t1.id].state == "active" and list(first.waiting["help"].ids()) == [t2.id]
    assert rec.calls == told

    # Taken by another process meanwhile: adopted anew under a new generation, as any adoption.
    await first.release_all(park=True)
    second, _ = await process(db, clock)
    await second.adopt("help")
    await second.release_all()
    assert await first.adopt("help")
    await settle()
    assert owners.generation(DOMAIN, "help") == 3
    assert ("connect", (t1.id, A + "/desk")) in [(k, args[:2]) for k, args in rec.calls[len(told):] if k == "connect"]
    await first.stop()
    await second.stop()


async def test_an_adoption_waits_for_a_write_checked_before_it(db, monkeypatch):
    """The row lock orders a write and an adoption: the new generation waits for a write already
    checked under the old one to commit (and the adoption then reads what it wrote), for at most
    ``TAKE_LOCK_TIMEOUT``; then the adoption is refused, to be tried again."""
    if db.is_sqlite:
        pytest.skip("ordered by PostgreSQL's row locks: several processes share only PostgreSQL")
    from component import owners as owners_module

    first, second = Owners(LockAlwaysFree(), db.engine), Owners(LockAlwaysFree(), db.engine)
    assert await first.take(DOMAIN, "help") and first.generation(DOMAIN, "help") == 1

    async def waiting_for_a_row() -> None:
        async with db.session() as session:
            for _ in range(200):
                blocked = (await session.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"))).scalar()
                if blocked:
                    return
                await asyncio.sleep(0.02)
        raise AssertionError("the adoption never waited")

    async with db.session() as write:
        await first.check(write, DOMAIN, {("help", 1)})
        taking = asyncio.ensure_future(second.take(DOMAIN, "help"))
        await waiting_for_a_row()
        assert not taking.done()
    assert await taking and second.generation(DOMAIN, "help") == 2

    monkeypatch.setattr(owners_module, "TAKE_LOCK_TIMEOUT", 0.2)
    async with db.session() as write:
        await second.check(write, DOMAIN, {("help", 2)})
        assert not await first.take(DOMAIN, "help")
        assert first.generation(DOMAIN, "help") is None and not first.claims.held
    with pytest.raises(OwnerChanged):
        async with db.session() as write:
            await first.check(write, DOMAIN, {("help", 1)})
    assert await first.take(DOMAIN, "help") and first.generation(DOMAIN, "help") == 3
