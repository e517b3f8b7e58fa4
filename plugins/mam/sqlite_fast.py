"""SQLite's fast paths for the archive: inserts and reads on sqlite3 connections of our own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from component.sqlite_direct import DirectWriter, LoopBudget, busy

from .tables import INSERT_COLUMNS, SqlReader, archive_domain


class SqliteWriter(DirectWriter):
    """Archive inserts through sqlite3 connections of our own, small batches on the event loop.

    Through SQLAlchemy and aiosqlite a transaction of two statements costs about ten hand-offs
    between the event loop and the driver's thread; here a batch costs one at most, and usually
    none (see :class:`component.sqlite_direct.DirectWriter` for the guards that keep the loop from
    waiting). Reads and rarer writes keep going through SQLAlchemy.
    """

    _insert_sql = (f"INSERT INTO mam_messages ({', '.join(INSERT_COLUMNS)}) "
                   f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})")
    _count_sql = ("INSERT INTO mam_archives (archive, domain, messages) VALUES (?, ?, ?) "
                  "ON CONFLICT (archive) DO UPDATE SET messages = messages + excluded.messages")

    def __init__(self, path: str, synchronous: int) -> None:
        super().__init__(path, synchronous, "mam-writer", inline=True, what="archive")

    def _statements(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]],
                    counts: list[tuple[str, str, int]]) -> None:
        conn.executemany(self._insert_sql, rows)
        conn.executemany(self._count_sql, counts)

    async def insert(self, rows: list[dict[str, Any]], counts: dict[str, int]) -> None:
        values = [tuple(int(row[c]) if c == "retracted" else row[c] for c in INSERT_COLUMNS) for row in rows]
        totals = [(archive, archive_domain(archive), n) for archive, n in counts.items()]
        await self.transaction(self._statements, values, totals, rows=len(values))


class SqliteReaders:
    """Read transactions on raw sqlite3 connections: small ones on the event loop, the rest in a
    small thread pool (one connection per thread).

    A small read (a stanza by id, a conversation's last messages) takes tens of microseconds in
    SQLite; handing it to a thread and back costs more, and in a storm the threads' turns with the
    GIL delay the loop (fifty agents starting conversations at once read fifty transcripts). So
    reads the caller calls small run on the loop's own connection, which never waits: in WAL mode a
    reader takes no lock a writer holds, and when SQLite still answers busy (a checkpoint resetting
    the log) the read goes to a thread. Reads that stay slow go to the threads for a while
    (:class:`component.sqlite_direct.LoopBudget`).
    """

    def __init__(self, path: str, threads: int = 2) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mam-reader")
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._loop_conn: sqlite3.Connection | None = None
        self.budget = LoopBudget("archive reads")
        #: Reads done on the loop and in the threads (tests and benchmarks read them).
        self.inline_reads = 0
        self.thread_reads = 0

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _loop_connection(self) -> sqlite3.Connection:
        if self._loop_conn is None:
            conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=1")
            self._loop_conn = conn
        return self._loop_conn

    @staticmethod
    def _read(conn: sqlite3.Connection, fn: Callable[[SqlReader], Any]) -> Any:
        def execute(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
            return conn.execute(sql, params).fetchall()

        conn.execute("BEGIN")  # one snapshot for all the statements of this read
        try:
            return fn(SqlReader(execute))
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def _run(self, fn: Callable[[SqlReader], Any]) -> Any:
        return self._read(self._connection(), fn)

    async def run(self, fn: Callable[[SqlReader], Any], small: bool = False) -> Any:
        """``fn(reader)`` in one read transaction; ``small``: a read of a few indexed rows."""
        if small and self.budget.allowed():
            started = time.perf_counter()
            try:
                result = self._read(self._loop_connection(), fn)
            except sqlite3.OperationalError as exc:
                if not busy(exc):
                    raise
            else:
                self.budget.spent(time.perf_counter() - started)
                self.inline_reads += 1
                return result
        result = await asyncio.get_running_loop().run_in_executor(self._executor, self._run, fn)
        self.thread_reads += 1
        return result

    def _close_all(self) -> None:
        if self._loop_conn is not None:
            self._loop_conn.close()
            self._loop_conn = None
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._close_all()

