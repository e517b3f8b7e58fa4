"""The SQLite archive writer and readers: small batches commit, and small reads run, on the event
loop, and the loop never waits.

Each guard of ``SqliteWriter`` is forced here: another writer holding the lock,
synchronous=FULL, a batch too big for the loop, commits that stay slow, and the
checkpoints the loop's connection leaves to the thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from pathlib import Path

import pytest

from component.sqlite_direct import LOOP_MAX_ROWS, LoopBudget
from component.storage import Database, Migrations
from plugins.mam.plugin import MamPlugin
from plugins.mam.service import ArchiveService
from plugins.mam.store import ArchiveStore, SqliteWriter

from .test_service import ROOM, record

pytestmark = pytest.mark.skipif(os.environ.get("SWITCHBOARD_TEST_BACKEND", "sqlite") != "sqlite",
                                reason="the SQLite writer only runs on a SQLite database file")


async def open_archive(tmp_path: Path, synchronous: str = "normal") -> tuple[Database, ArchiveService]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'switchboard.db'}", sqlite_synchronous=synchronous)
    await db.migrate([Migrations("mam", MamPlugin.migrations)])
    return db, ArchiveService(ArchiveStore(db), "rooms.example")


def writer_of(archive: ArchiveService) -> SqliteWriter:
    writer = archive.backend._writer
    assert writer is not None, "the archive has not written yet"
    return writer


@pytest.fixture
async def opened(tmp_path: Path):
    db, archive = await open_archive(tmp_path)
    yield archive
    await archive.close()
    await db.close()


async def test_small_batches_commit_on_the_loop(opened: ArchiveService, tmp_path: Path):
    for i in range(10):
        await opened.store(record(i))
    writer = writer_of(opened)
    assert (writer.inline_commits, writer.thread_commits) == (10, 0)
    # Committed for every other connection, not only visible to the writer's own.
    other = sqlite3.connect(tmp_path / "switchboard.db")
    try:
        assert other.execute("SELECT count(*) FROM mam_messages").fetchone() == (10,)
        assert other.execute("SELECT messages FROM mam_archives WHERE archive = ?", (ROOM,)).fetchone() == (10,)
    finally:
        other.close()
    assert writer._loop_conn is not None
    assert writer._loop_conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)


async def test_a_held_lock_sends_the_batch_to_the_thread_and_the_loop_keeps_running(opened: ArchiveService,
                                                                                  tmp_path: Path):
    await opened.store(record(0))
    holder = sqlite3.connect(tmp_path / "switchboard.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    loop = asyncio.get_running_loop()
    loop.call_later(0.4, holder.execute, "ROLLBACK")
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    ticking = asyncio.ensure_future(ticker())
    started = time.monotonic()
    try:
        await opened.store(record(1))
    finally:
        ticking.cancel()
        holder.close()
    waited = time.monotonic() - started
    writer = writer_of(opened)
    assert writer.thread_commits == 1 and writer.inline_commits == 1
    assert waited >= 0.35  # it really waited for the lock, in the thread
    # Meanwhile the loop served other work: no gap between ticks anywhere near the lock's 0.4 s.
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) >= 10 and max(gaps) < 0.2, gaps
    assert await opened.count(ROOM) == 2
    # The lock is gone: the next batch is back on the loop.
    await opened.store(record(2))
    assert writer.inline_commits == 2


async def test_a_lock_that_outlasts_the_busy_timeout_fails_the_store_and_writes_nothing(opened: ArchiveService,
                                                                                      tmp_path: Path):
    await opened.store(record(0))
    writer = writer_of(opened)
    writer._connection().execute("PRAGMA busy_timeout=200")
    holder = sqlite3.connect(tmp_path / "switchboard.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await opened.store(record(1))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert await opened.count(ROOM) == 1
    await opened.store(record(2))
    assert await opened.count(ROOM) == 2


async def test_full_synchronous_always_commits_in_the_thread(tmp_path: Path):
    db, archive = await open_archive(tmp_path, synchronous="full")
    try:
        for i in range(3):
            await archive.store(record(i))
        writer = writer_of(archive)
        assert not writer.inline
        assert (writer.inline_commits, writer.thread_commits) == (0, 3)
        assert await archive.count(ROOM) == 3
    finally:
        await archive.close()
        await db.close()


async def test_a_big_batch_commits_in_the_thread(opened: ArchiveService):
    await opened.store(record(0))
    writer = writer_of(opened)
    await opened.store_many([record(i) for i in range(1, LOOP_MAX_ROWS + 2)])
    assert (writer.inline_commits, writer.thread_commits) == (1, 1)
    assert await opened.count(ROOM) == LOOP_MAX_ROWS + 2


async def test_commits_that_stay_slow_move_writes_to_the_thread(opened: ArchiveService, caplog):
    await opened.store(record(0))
    writer = writer_of(opened)
    writer.budget.slow_s = 0.0  # any commit is "slow", and the average of them too
    writer.budget.weight = 1.0
    with caplog.at_level(logging.WARNING, logger="switchboard.component.sqlite"):
        await opened.store(record(1))
        await opened.store(record(2))
        await opened.store(record(3))
    assert (writer.inline_commits, writer.thread_commits) == (2, 2)
    assert [r.getMessage() for r in caplog.records].count(
        "archive commits are slow on the event loop; using a thread for a while") == 1
    writer.budget.paused_until = 0.0  # the back-off is over
    writer.budget.slow_s = LoopBudget.SLOW_S
    await opened.store(record(4))
    assert writer.inline_commits == 3
    assert await opened.count(ROOM) == 5


async def test_the_thread_checkpoints_what_the_loop_commits(opened: ArchiveService, tmp_path: Path):
    await opened.store(record(0))
    writer = writer_of(opened)
    writer.CHECKPOINT_EVERY = 5

    async def checkpoints(n: int) -> None:
        deadline = time.monotonic() + 5
        while writer.checkpoints < n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert writer.checkpoints == n

    for i in range(1, 4):
        await opened.store(record(i))
    await asyncio.sleep(0.05)
    assert writer.checkpoints == 0  # 4 commits: not yet
    await opened.store(record(4))
    await checkpoints(1)
    for i in range(5, 10):
        await opened.store(record(i))
    await checkpoints(2)
    # A checkpoint copied the WAL into the database file: a reader that ignores the WAL sees the rows.
    probe = sqlite3.connect(f"file:{tmp_path / 'switchboard.db'}?immutable=1", uri=True)
    try:
        assert probe.execute("SELECT count(*) FROM mam_messages").fetchone() == (10,)
    finally:
        probe.close()


async def test_small_reads_run_on_the_loop_and_a_busy_database_sends_them_to_a_thread(opened: ArchiveService,
                                                                                     monkeypatch):
    """A conversation's last messages, a stanza by id: read on the loop's own connection. A read of
    more rows than that, or one SQLite answers busy, goes to a reader thread, with the same result."""
    stored = [record(i) for i in range(80)]
    for r in stored:
        await opened.store(r)
    readers = opened.backend._readers
    assert readers is None or (readers.inline_reads, readers.thread_reads) == (0, 0)
    recent = await opened.history(ROOM, maxstanzas=10)
    readers = opened.backend._readers
    assert (readers.inline_reads, readers.thread_reads) == (1, 0)
    assert [ts for _el, ts in recent] == [r.timestamp for r in stored[-10:]]
    found = await opened.get(ROOM, stored[3].stanza_id)
    assert found is not None and found.stanza_id == stored[3].stanza_id
    assert (readers.inline_reads, readers.thread_reads) == (2, 0)
    everything = await opened.history(ROOM, maxstanzas=80)  # more rows than a small read
    assert (readers.inline_reads, readers.thread_reads) == (2, 1)
    assert [ts for _el, ts in everything] == [r.timestamp for r in stored]

    real_read = readers._read

    def busy_on_the_loop(conn, fn):
        if conn is readers._loop_conn:
            raise sqlite3.OperationalError("database is locked")
        return real_read(conn, fn)

    monkeypatch.setattr(readers, "_read", busy_on_the_loop)
    again = await opened.history(ROOM, maxstanzas=10)
    assert (readers.inline_reads, readers.thread_reads) == (2, 2)
    assert [ts for _el, ts in again] == [ts for _el, ts in recent]
    # Any other failure is the caller's to see, not hidden by a retry in a thread.
    monkeypatch.setattr(readers, "_read", lambda conn, fn: (_ for _ in ()).throw(sqlite3.OperationalError("disk I/O error")))
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        await opened.history(ROOM, maxstanzas=10)
