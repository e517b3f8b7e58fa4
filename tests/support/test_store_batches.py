"""What a storm asks of the store at once is done in batches: the customers' latest tickets come from
few queries, and agents coming online together are stored in few transactions."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from types import SimpleNamespace

import pytest

from component.storage import Database, Migrations
from plugins.support.model import Resource, Ticket
from plugins.support.plugin import SupportPlugin
from plugins.support.store import SupportStore

from .. import harness


async def test_latest_tickets_of_many_customers_at_once(tmp_path):
    db = Database(harness.database_url(tmp_path))
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    store = SupportStore(db)
    try:
        # Ids grow with time: each customer's later ticket has the larger id; "sales" is another entry.
        for n in range(60):
            for rank, entry in enumerate(("help", "help", "sales")):
                await store.save(Ticket(id=f"t{rank}{n:03d}", queue=entry, entry=entry, customer=f"c{n}@x",
                                        customer_jid=f"c{n}@x/r", lang="en", created_at=float(rank)))
        customers = [f"c{n}@x" for n in range(60)] + ["nobody@x"]
        found = await asyncio.gather(*(store.latest_ticket("help", c) for c in customers))
        assert [t.id if t else None for t in found] == [f"t1{n:03d}" for n in range(60)] + [None]
        assert (await store.latest_ticket("sales", "c7@x")).id == "t2007"
        assert store._latest.queries <= 3 and store._latest.keys == 62
    finally:
        await db.close()


async def test_presences_of_agents_coming_and_going_at_once(tmp_path):
    db = Database(harness.database_url(tmp_path))
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    store = SupportStore(db)
    try:
        await asyncio.gather(*(store.presence_changed("help", Resource(f"a{n}@x/r", "chat", 3, 1.0), f"a{n}@x/r")
                               for n in range(50)))
        # Gone, back as away, and a new one, all at once: each kept as last changed.
        await asyncio.gather(store.presence_changed("help", None, "a1@x/r"),
                             store.presence_changed("help", Resource("a2@x/r", "chat", 3, 2.0), "a2@x/r"),
                             store.presence_changed("help", Resource("a2@x/r", "away", 2, 3.0), "a2@x/r"),
                             store.presence_changed("sales", Resource("a1@x/r", "dnd", None, 3.0), "a1@x/r"))
        stored = {(q, r.jid): (r.show, r.max_chats) for q, r in await store.presences()}
        assert len(stored) == 50 and ("help", "a1@x/r") not in stored
        assert stored[("help", "a2@x/r")] == ("away", 2) and stored[("sales", "a1@x/r")] == ("dnd", None)
        assert store._presences.batches <= 4
        if db.is_sqlite:
            # Below SQLAlchemy: one transaction a batch, not a session's trips to the driver's thread
            # while holding the database's write turn.
            writer = store._batches.writer
            assert writer.inline_commits + writer.thread_commits == store._presences.batches
    finally:
        await store.close()
        await db.close()


def change(ticket: Ticket, *events: tuple[str, float, str, dict]) -> SimpleNamespace:
    """A journal entry as the store sees it: the ticket as stored and its new events."""
    return SimpleNamespace(copy=ticket, events=list(events))


async def test_batches_written_below_sqlalchemy_read_back_as_written(tmp_path):
    db = Database(harness.database_url(tmp_path))
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    store = SupportStore(db)
    try:
        assert store._direct_usable  # SQLite file or PostgreSQL on asyncpg, nobody else to tell
        full = Ticket(id="t1", queue="help", entry="help", customer="c@x", customer_jid="c@x/r", lang="zh",
                      created_at=1.5, state="offered", priority=3, queued_at=2.25, offers={"a@x/r": "chat"},
                      declined=["b@x"], agents_seen=["a@x"], form={"message": "你好, order 42", "name": "Li"},
                      tags=["vip", "refund"], reopened=1, rating_comment="")
        other = Ticket(id="t2", queue="help", entry="help", customer="d@x", customer_jid="d@x/r", lang="en",
                       created_at=1.0)
        await store.save_batch([change(full, ("created", 1.5, "c@x", {"via": "chat"})),
                                change(other, ("created", 1.0, "d@x", {}))])
        full.state, full.agent, full.offers = "active", "a@x", {}
        await store.save_batch([change(full, ("accepted", 3.0, "a@x", {"note": "接受"}))])
        assert store._batches is not None  # this path wrote them
        assert await store.ticket("t1") == full and await store.ticket("t2") == other
        assert await store.events("t1") == [("created", 1.5, "c@x", {"via": "chat"}),
                                            ("accepted", 3.0, "a@x", {"note": "接受"})]
        assert sorted(t.id for t in await store.open_tickets("help")) == ["t1", "t2"]
        # A batch the database refuses leaves nothing of itself (a ticket without its customer).
        broken = Ticket(id="t3", queue="help", entry="help", customer=None, customer_jid="x@x/r", lang="en",
                        created_at=4.0)  # type: ignore[arg-type]
        fine = Ticket(id="t4", queue="help", entry="help", customer="e@x", customer_jid="e@x/r", lang="en",
                      created_at=4.0)
        full.state = "closed"
        with pytest.raises(Exception):
            await store.save_batch([change(fine, ("created", 4.0, "e@x", {})), change(full, ("closed", 4.0, "a@x", {})),
                                    change(broken, ("created", 4.0, "", {}))])
        assert await store.ticket("t4") is None and await store.ticket("t3") is None
        assert (await store.ticket("t1")).state == "active" and len(await store.events("t1")) == 2
        # The writer recovers: the next batch is stored.
        await store.save_batch([change(fine, ("created", 4.0, "e@x", {}))])
        assert await store.ticket("t4") == fine
    finally:
        await store.close()
        await db.close()


async def test_the_postgresql_writer_connects_with_the_urls_options():
    """Its own asyncpg connection takes what the database URL says (ssl, credentials), as the pool's do."""
    from plugins.support.store import SupportEvent, SupportTicket
    from plugins.support.store_direct import PgBatches

    db = Database("postgresql+asyncpg://desk:p%40ss@db.example:6543/switchboard?ssl=require"
                  "&prepared_statement_cache_size=50")
    try:
        options = PgBatches(db, SupportTicket.__table__, SupportEvent.__table__)._options
        assert options == {"host": "db.example", "port": 6543, "user": "desk", "password": "p@ss",
                           "database": "switchboard", "ssl": "require"}
    finally:
        await db.close()


@pytest.mark.skipif(os.environ.get("SWITCHBOARD_TEST_BACKEND", "sqlite") != "sqlite",
                    reason="commits on the event loop are SQLite's (a database file)")
async def test_sqlite_batches_commit_on_the_loop_and_a_held_lock_sends_one_to_the_thread(tmp_path):
    """Every offer waits for its batch: a small one commits on the loop, with no hand-off to a thread.
    Another writer holding the lock never makes the loop wait: that batch waits in the thread, and
    is stored all the same."""
    db = Database(harness.database_url(tmp_path))
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    store = SupportStore(db)
    try:
        first = Ticket(id="t1", queue="help", entry="help", customer="c@x", customer_jid="c@x/r", lang="en",
                       created_at=1.0)
        await store.save_batch([change(first, ("created", 1.0, "c@x", {}))])
        writer = store._batches.writer
        assert (writer.inline_commits, writer.thread_commits) == (1, 0)
        holder = sqlite3.connect(tmp_path / "switchboard.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.3, holder.execute, "ROLLBACK")
        second = Ticket(id="t2", queue="help", entry="help", customer="d@x", customer_jid="d@x/r", lang="en",
                        created_at=2.0)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.ensure_future(ticker())
        try:
            await store.save_batch([change(second, ("created", 2.0, "d@x", {}))])
        finally:
            ticking.cancel()
            holder.close()
        assert (writer.inline_commits, writer.thread_commits) == (1, 1)
        assert ticks >= 10  # the loop ran on while the batch waited for the lock
        assert await store.ticket("t2") == second and await store.events("t2") == [("created", 2.0, "d@x", {})]
        # Larger than the loop takes: the thread.
        many = [change(Ticket(id=f"m{n}", queue="help", entry="help", customer=f"m{n}@x", customer_jid=f"m{n}@x/r",
                              lang="en", created_at=3.0), ("created", 3.0, f"m{n}@x", {}))
                for n in range(writer.inline_max_rows)]
        await store.save_batch(many)
        assert (writer.inline_commits, writer.thread_commits) == (1, 2)
        assert len(await store.open_tickets("help")) == 2 + writer.inline_max_rows
    finally:
        await store.close()
        await db.close()
