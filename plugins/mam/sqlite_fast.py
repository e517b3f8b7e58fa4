"""SQLite's fast paths for the archive: inserts and reads on sqlite3 connections of our own."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from component.sqlite_direct import DirectWriter

from .tables import INSERT_COLUMNS, SqlReader, archive_domain

log = logging.getLogger("switchboard.plugins.mam")


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (SQLITE_BUSY / SQLITE_LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc)


class SqliteWriter(DirectWriter):
    """Archive inserts through sqlite3 connections of our own.

    Through SQLAlchemy and aiosqlite a transaction of two statements costs
    about ten hand-offs between the event loop and the driver's thread; here
    a batch costs one at most, and usually none: in WAL mode with
    synchronous=NORMAL a commit only writes a few pages (no fsync, about
    50 µs), while sending it to a thread and back costs 200-400 µs of CPU on
    a busy 2-core machine. So small batches commit on the event loop itself,
    under three guards that keep the loop from ever waiting:

    - its connection never waits for a lock (busy timeout 0): when another
      writer holds it, that batch goes to the writer thread, which waits;
    - it never checkpoints (checkpoints fsync): the thread runs a passive
      checkpoint every ``CHECKPOINT_EVERY`` inline commits;
    - when commits stay slow (a moving average above ``SLOW_S``: a slow or
      saturated disk, not one commit preempted on a busy machine), every
      batch goes to the thread for ``BACKOFF_S``.

    With synchronous=FULL or EXTRA every commit fsyncs, so all go to the
    thread. Reads and rarer writes keep going through SQLAlchemy.
    """

    _insert_sql = (f"INSERT INTO mam_messages ({', '.join(INSERT_COLUMNS)}) "
                   f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})")
    _count_sql = ("INSERT INTO mam_archives (archive, domain, messages) VALUES (?, ?, ?) "
                  "ON CONFLICT (archive) DO UPDATE SET messages = messages + excluded.messages")

    #: Larger batches (store_many, bursts) go to the thread: they would hold the loop for milliseconds.
    INLINE_MAX_ROWS = 64
    SLOW_S = 0.005
    #: Weight of the newest commit in the moving average of commit times.
    SLOW_WEIGHT = 0.05
    BACKOFF_S = 10.0
    CHECKPOINT_EVERY = 200

    def __init__(self, path: str, synchronous: int) -> None:
        super().__init__(path, synchronous, "mam-writer")
        self.inline = synchronous <= 1
        self._loop_conn: sqlite3.Connection | None = None
        self._inline_paused_until = 0.0
        self._commit_s = 0.0  #: moving average of inline commit times
        self._since_checkpoint = 0
        self._checkpoint: asyncio.Future[Any] | None = None
        #: Batches committed on the loop and in the thread (the benchmarks and tests read them).
        self.inline_commits = 0
        self.thread_commits = 0
        self.checkpoints = 0

    def _loop_connection(self) -> sqlite3.Connection:
        if self._loop_conn is None:
            self._loop_conn = self._open(timeout=0, pragmas=("wal_autocheckpoint=0",))
        return self._loop_conn

    def _insert_with(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]],
                     counts: list[tuple[str, str, int]]) -> None:
        self._in_transaction(conn, self._statements, rows, counts)

    def _statements(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]],
                    counts: list[tuple[str, str, int]]) -> None:
        conn.executemany(self._insert_sql, rows)
        conn.executemany(self._count_sql, counts)

    def _insert(self, rows: list[tuple[Any, ...]], counts: list[tuple[str, str, int]]) -> None:
        self._insert_with(self._connection(), rows, counts)

    def _passive_checkpoint(self) -> None:
        self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.checkpoints += 1

    def _try_inline(self, rows: list[tuple[Any, ...]], counts: list[tuple[str, str, int]]) -> bool:
        """Commit on the loop if that cannot make it wait; False sends the batch to the thread."""
        if not self.inline or len(rows) > self.INLINE_MAX_ROWS or time.monotonic() < self._inline_paused_until:
            return False
        started = time.perf_counter()
        try:
            self._insert_with(self._loop_connection(), rows, counts)
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                return False
            raise
        elapsed = time.perf_counter() - started
        self._commit_s += self.SLOW_WEIGHT * (elapsed - self._commit_s)
        if self._commit_s > self.SLOW_S:
            self._inline_paused_until = time.monotonic() + self.BACKOFF_S
            log.warning("archive commits are slow on the event loop; writing from a thread for a while",
                        extra={"commit_ms": round(self._commit_s * 1000, 1), "backoff_s": self.BACKOFF_S})
            self._commit_s = 0.0
        self.inline_commits += 1
        self._since_checkpoint += 1
        if self._since_checkpoint >= self.CHECKPOINT_EVERY and self._checkpoint is None:
            self._since_checkpoint = 0
            self._checkpoint = asyncio.get_running_loop().run_in_executor(self._executor, self._passive_checkpoint)
            self._checkpoint.add_done_callback(self._checkpoint_done)
        return True

    def _checkpoint_done(self, future: asyncio.Future[Any]) -> None:
        self._checkpoint = None
        if not future.cancelled() and future.exception() is not None:
            # Not fatal: the next one, or any other connection's commit, checkpoints the WAL.
            log.warning("archive checkpoint failed", extra={"error": type(future.exception()).__name__})

    async def insert(self, rows: list[dict[str, Any]], counts: dict[str, int]) -> None:
        values = [tuple(int(row[c]) if c == "retracted" else row[c] for c in INSERT_COLUMNS) for row in rows]
        totals = [(archive, archive_domain(archive), n) for archive, n in counts.items()]
        if self._try_inline(values, totals):
            return
        await asyncio.get_running_loop().run_in_executor(self._executor, self._insert, values, totals)
        self.thread_commits += 1

    async def close(self) -> None:
        if self._loop_conn is not None:
            self._loop_conn.close()
            self._loop_conn = None
        await super().close()


class SqliteReaders:
    """Read transactions on raw sqlite3 connections in a small thread pool (one per thread)."""

    def __init__(self, path: str, threads: int = 2) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mam-reader")
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _run(self, fn: Callable[[SqlReader], Any]) -> Any:
        conn = self._connection()

        def execute(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
            return conn.execute(sql, params).fetchall()

        conn.execute("BEGIN")  # one snapshot for all the statements of this read
        try:
            return fn(SqlReader(execute))
        finally:
            conn.execute("ROLLBACK")

    async def run(self, fn: Callable[[SqlReader], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, fn)

    def _close_all(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._close_all()

