"""The archive's storage: inserts, purges and reads over its tables (tables.py).

``mam_messages`` holds one row per archived message. Archive ids are
time-ordered (``component.ids``), so the unique index on (archive, stanza_id)
is also the chronological order: a page is one index range scan of at most
max+1 entries, whatever the size of the archive, and a time filter is an id
range (the id encodes its millisecond). ``mam_archives`` keeps a message
count per archive, updated in the same transaction as the rows, so the RSM
``<count/>`` of an unfiltered query costs one primary-key read instead of a
scan, plus the archive's own retention policy.

On a SQLite file the hot paths skip SQLAlchemy: small insert batches commit
on the event loop (``SqliteWriter`` in sqlite_fast.py says when that cannot block), larger or
contended ones in one writer thread, and reads run in a small pool of reader
threads, each with its own sqlite3 connection, so a whole query costs one
hand-off between the event loop and a thread. Elsewhere (PostgreSQL) the same
SQL runs through SQLAlchemy.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from component import sqlite_direct
from component.storage import Database

from .sqlite_fast import SqliteReaders, SqliteWriter
from .tables import A, M, Filters, SqlReader, archive_domain

__all__ = ["ArchiveStore", "SqliteWriter"]


class ArchiveStore:
    def __init__(self, db: Database, *, direct_sqlite: bool = True) -> None:
        self.db = db
        self._writer: SqliteWriter | None = None
        self._readers: SqliteReaders | None = None
        # Raw sqlite3 connections need a database file they can open too.
        self._fast_path = direct_sqlite and sqlite_direct.usable(db)

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._readers is not None:
            await self._readers.close()
            self._readers = None

    # -- writes -----------------------------------------------------------
    async def insert(self, rows: list[dict[str, Any]]) -> None:
        """Insert rows and bump their archives' counters in one transaction."""
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["archive"]] = counts.get(row["archive"], 0) + 1
        if self._fast_path:
            if self._writer is None:
                self._writer = SqliteWriter(str(self.db.url.database), await sqlite_direct.synchronous_of(self.db))
            async with self.db.write_turn():
                await self._writer.insert(rows, counts)
            return
        async with self.db.engine.begin() as conn:
            await conn.execute(M.insert(), rows)
            for archive, n in counts.items():
                await self._bump(conn, archive, n)

    async def _bump(self, conn: AsyncConnection, archive: str, n: int) -> None:
        dialect = sqlite if self.db.is_sqlite else postgresql
        stmt = dialect.insert(A).values(archive=archive, domain=archive_domain(archive), messages=n)
        stmt = stmt.on_conflict_do_update(index_elements=[A.c.archive],
                                          set_={"messages": A.c.messages + n})
        await conn.execute(stmt)

    async def replace_stanza(self, archive: str, stanza_id: str, stanza: str) -> bool:
        async with self.db.engine.begin() as conn:
            if self.db.is_sqlite:
                # The old text must not survive in freed space of the file.
                await conn.exec_driver_sql("PRAGMA secure_delete=ON")
            result = await conn.execute(
                update(M).where(M.c.archive == archive, M.c.stanza_id == stanza_id)
                .values(stanza=stanza, retracted=True))
            return result.rowcount > 0

    async def delete_range(self, archive: str, *, before_id: str | None = None, author: str | None = None,
                           upto_id: str | None = None, chunk: int = 5000) -> int:
        """Delete an archive's rows (all, those before an id, up to an id, or by an author), in chunks.

        Chunks keep each write transaction short, so messages keep being
        archived while a big purge runs.
        """
        conds = [M.c.archive == archive]
        if before_id is not None:
            conds.append(M.c.stanza_id < before_id)
        if upto_id is not None:
            conds.append(M.c.stanza_id <= upto_id)
        if author is not None:
            conds.append(M.c.author == author)
        total = 0
        while True:
            async with self.db.begin_write() as conn:  # reads the chunk's boundary, then deletes
                if self.db.is_sqlite:
                    await conn.exec_driver_sql("PRAGMA secure_delete=ON")
                boundary = (await conn.execute(
                    select(M.c.stanza_id).where(*conds).order_by(M.c.stanza_id)
                    .limit(1).offset(chunk - 1))).scalar()
                stmt = delete(M).where(*conds)
                if boundary is not None:
                    stmt = stmt.where(M.c.stanza_id <= boundary)
                deleted = (await conn.execute(stmt)).rowcount
                if deleted:
                    await conn.execute(update(A).where(A.c.archive == archive)
                                       .values(messages=func.max(A.c.messages - deleted, 0)
                                               if self.db.is_sqlite else
                                               func.greatest(A.c.messages - deleted, 0)))
                total += deleted
            if boundary is None:
                return total

    async def forget_archive(self, archive: str) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(A).where(A.c.archive == archive))

    async def set_policy(self, archive: str, retention_days: int | None, max_messages: int | None) -> None:
        dialect = sqlite if self.db.is_sqlite else postgresql
        async with self.db.engine.begin() as conn:
            stmt = dialect.insert(A).values(archive=archive, domain=archive_domain(archive), messages=0,
                                            retention_days=retention_days, max_messages=max_messages)
            stmt = stmt.on_conflict_do_update(index_elements=[A.c.archive], set_={
                "retention_days": retention_days, "max_messages": max_messages})
            await conn.execute(stmt)

    # -- reads ------------------------------------------------------------
    async def vacuum(self) -> None:
        """PostgreSQL: prune the old row versions that updates and deletes left (removed text)."""
        if self.db.is_sqlite:
            return  # secure_delete and the WAL checkpoint do this job there
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM runs outside a transaction
            await conn.exec_driver_sql("VACUUM mam_messages")

    async def read(self, fn: Callable[[SqlReader], Any], small: bool = False) -> Any:
        """Run ``fn(reader)`` in one read transaction and return its result. ``small``: a few rows
        found by index, which SQLite may read on the event loop (see SqliteReaders)."""
        if self._fast_path:
            if self._readers is None:
                self._readers = SqliteReaders(str(self.db.url.database))
            return await self._readers.run(fn, small)
        async with self.db.engine.connect() as conn:
            if not self.db.is_sqlite:
                # One snapshot for the several statements of a query.
                await conn.execution_options(isolation_level="REPEATABLE READ")

            def run(sync_conn: Any) -> Any:
                def execute(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
                    return [tuple(r) for r in sync_conn.execute(text(sql), params)]
                return fn(SqlReader(execute))

            return await conn.run_sync(run)

    async def get(self, archive: str, stanza_id: str) -> Any:
        return await self.read(lambda r: r.get(archive, stanza_id), small=True)

    async def find_by_origin_id(self, archive: str, author: str | None, origin_id: str) -> Any:
        return await self.read(lambda r: r.find_by_origin_id(archive, author, origin_id), small=True)

    async def referring(self, archive: str, after_id: str, markers: Iterable[str]) -> list[Any]:
        return await self.read(lambda r: r.referring(archive, after_id, markers))

    async def bounds(self, archive: str) -> tuple[Any, Any]:
        return await self.read(lambda r: r.bounds(archive), small=True)

    async def newest(self, archive: str, limit: int, lower_incl: str | None, upper: str | None = None) -> list[Any]:
        return await self.read(lambda r: r.page(Filters(archive, lower_incl=lower_incl, upper=upper), limit,
                                                backward=True),
                               small=limit <= sqlite_direct.LOOP_MAX_ROWS)

    async def nth_newest(self, archive: str, n: int) -> str | None:
        return await self.read(lambda r: r.nth_newest(archive, n))

    async def policies(self, domain: str) -> list[tuple[str, int | None, int | None]]:
        return await self.read(lambda r: r.policies(domain))

    async def policy(self, archive: str) -> tuple[int | None, int | None]:
        return await self.read(lambda r: r.policy(archive), small=True)

    async def archive_count(self, archive: str) -> int:
        return await self.read(lambda r: r.archive_count(archive))
