"""Write transactions on sqlite3 connections of our own (SQLite only).

Through SQLAlchemy and aiosqlite a short write transaction costs about 2 ms of CPU: a session, and
every statement handed to the driver's thread and back. Measured for the support journal's batch of
one ticket: 2.2 ms (1.96 ms CPU) that way, 0.17 ms (0.13 ms CPU) here. Plugins whose writes are
frequent and simple hand a whole transaction to a :class:`DirectWriter` instead; everything else goes
through :class:`component.storage.Database`. The caller still takes ``Database.write_turn`` (these
connections are one more SQLite writer).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from .storage import Database

log = logging.getLogger("switchboard.component.sqlite")


def usable(db: Database) -> bool:
    """A database file that another connection can open too (not in memory)."""
    path = db.url.database or ""
    return db.is_sqlite and path not in ("", ":memory:") and "mode=memory" not in str(db.url)


async def synchronous_of(db: Database) -> int:
    """The synchronous level the database's own connections use (raw connections must not be laxer)."""
    async with db.engine.connect() as conn:
        return int((await conn.exec_driver_sql("PRAGMA synchronous")).scalar() or 1)


def busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (SQLITE_BUSY / SQLITE_LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc)


#: The most rows a transaction or a read may take and still run on the event loop: more would hold it
#: for milliseconds.
LOOP_MAX_ROWS = 64


class LoopBudget:
    """Whether small database work may run on the event loop itself: yes, unless it has stayed slow.

    A moving average of the times taken above ``SLOW_S`` (a slow or saturated disk, not one call
    preempted on a busy machine) sends all such work to a thread for ``BACKOFF_S``, logged once.
    """

    SLOW_S = 0.005
    #: Weight of the newest time in the moving average.
    WEIGHT = 0.05
    BACKOFF_S = 10.0

    def __init__(self, what: str) -> None:
        self.what = what  # for the log line: "archive commits", "archive reads"…
        self.slow_s, self.weight, self.backoff_s = self.SLOW_S, self.WEIGHT, self.BACKOFF_S
        self.average_s = 0.0
        self.paused_until = 0.0

    def allowed(self) -> bool:
        return time.monotonic() >= self.paused_until

    def spent(self, elapsed: float) -> None:
        self.average_s += self.weight * (elapsed - self.average_s)
        if self.average_s > self.slow_s:
            self.paused_until = time.monotonic() + self.backoff_s
            log.warning("%s are slow on the event loop; using a thread for a while", self.what,
                        extra={"average_ms": round(self.average_s * 1000, 1), "backoff_s": self.backoff_s})
            self.average_s = 0.0


class DirectWriter:
    """A whole write transaction at a time, on a thread of its own or, with ``inline``, on the loop.

    Sending a transaction to a thread and back costs 200-400 µs of CPU on a busy 2-core machine
    (the hand-off, the GIL, the loop's wake-up) and as much in latency, while in WAL mode with
    synchronous=NORMAL a small commit only writes a few pages (no fsync, about 50 µs). So with
    ``inline`` small transactions commit on the event loop itself, under guards that keep the loop
    from ever waiting:

    - its connection never waits for a lock (busy timeout 0): when another writer holds it, that
      transaction goes to the thread, which waits;
    - it never checkpoints (checkpoints fsync): the thread runs a passive checkpoint every
      ``CHECKPOINT_EVERY`` inline commits;
    - transactions of more than ``inline_max_rows`` rows go to the thread: they would hold the loop
      for milliseconds (by default ``LOOP_MAX_ROWS``, about 1 ms; a writer whose callers wait for
      its commits in a storm may take more, see the support journal);
    - when commits stay slow, every transaction goes to the thread for a while (:class:`LoopBudget`).

    With synchronous=FULL or EXTRA every commit fsyncs, so all go to the thread. ``work`` must be
    safe to run on either connection: statements only, no state of its own between attempts.
    """

    CHECKPOINT_EVERY = 200

    def __init__(self, path: str, synchronous: int, name: str = "sqlite-writer", *, inline: bool = False,
                 inline_max_rows: int = LOOP_MAX_ROWS, what: str = "database") -> None:
        self.path = path
        self.synchronous = synchronous
        self.what = what  # what the writer writes, for its log lines
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None
        self.inline = inline and synchronous <= 1
        self.inline_max_rows = inline_max_rows
        self._loop_conn: sqlite3.Connection | None = None
        self.budget = LoopBudget(f"{what} commits")
        self._since_checkpoint = 0
        self._checkpoint: asyncio.Future[Any] | None = None
        #: Transactions committed on the loop and in the thread, and checkpoints (benchmarks and tests).
        self.inline_commits = 0
        self.thread_commits = 0
        self.checkpoints = 0

    def _open(self, *, timeout: float, pragmas: tuple[str, ...] = ()) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            for pragma in ("journal_mode=WAL", f"synchronous={int(self.synchronous)}", *pragmas):
                conn.execute(f"PRAGMA {pragma}")
        except BaseException:
            conn.close()  # busy: the next transaction tries again
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        """The thread's connection (opened there on first use)."""
        if self._conn is None:
            self._conn = self._open(timeout=30, pragmas=("busy_timeout=30000",))
        return self._conn

    def _loop_connection(self) -> sqlite3.Connection:
        if self._loop_conn is None:
            self._loop_conn = self._open(timeout=0, pragmas=("wal_autocheckpoint=0",))
        return self._loop_conn

    @staticmethod
    def _in_transaction(conn: sqlite3.Connection, work: Callable[..., Any], *args: Any) -> Any:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn, *args)
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _run(self, work: Callable[..., Any], *args: Any) -> Any:
        return self._in_transaction(self._connection(), work, *args)

    async def transaction(self, work: Callable[..., Any], *args: Any, rows: int = 0) -> Any:
        """``work(connection, *args)`` in one write transaction of about ``rows`` rows."""
        done, result = self._try_inline(work, args, rows)
        if done:
            return result
        result = await asyncio.get_running_loop().run_in_executor(self._executor, self._run, work, *args)
        self.thread_commits += 1
        return result

    def _try_inline(self, work: Callable[..., Any], args: tuple[Any, ...], rows: int) -> tuple[bool, Any]:
        """Commit on the loop if that cannot make it wait; (False, None) sends the work to the thread."""
        if not self.inline or rows > self.inline_max_rows or not self.budget.allowed():
            return False, None
        started = time.perf_counter()
        try:
            result = self._in_transaction(self._loop_connection(), work, *args)
        except sqlite3.OperationalError as exc:
            if busy(exc):
                return False, None
            raise
        self.budget.spent(time.perf_counter() - started)
        self.inline_commits += 1
        self._since_checkpoint += 1
        if self._since_checkpoint >= self.CHECKPOINT_EVERY and self._checkpoint is None:
            self._since_checkpoint = 0
            self._checkpoint = asyncio.get_running_loop().run_in_executor(self._executor, self._passive_checkpoint)
            self._checkpoint.add_done_callback(self._checkpoint_done)
        return True, result

    def _passive_checkpoint(self) -> None:
        self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.checkpoints += 1

    def _checkpoint_done(self, future: asyncio.Future[Any]) -> None:
        self._checkpoint = None
        if not future.cancelled() and future.exception() is not None:
            # Not fatal: the next one, or any other connection's commit, checkpoints the WAL.
            log.warning("checkpoint failed", extra={"writer": self.what, "error": type(future.exception()).__name__})

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        if self._loop_conn is not None:
            self._loop_conn.close()
            self._loop_conn = None
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)
