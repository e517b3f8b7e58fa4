"""SQLite's fast paths for the archive: inserts and reads on sqlite3 connections of our own."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from component.sqlite_direct import DirectWriter

from .tables import INSERT_COLUMNS, SqlReader, archive_domain

log = logging.getLogger("switchboard.plugins.mam")


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

