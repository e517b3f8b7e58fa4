"""Tables of the archive and the SQL that reads and writes them.

``mam_messages`` holds one row per archived message. Archive ids are
time-ordered (``component.ids``), so the unique index on (archive, stanza_id)
is also the chronological order: a page is one index range scan of at most
max+1 entries, whatever the size of the archive, and a time filter is an id
range (the id encodes its millisecond). ``mam_archives`` keeps a message
count per archive, updated in the same transaction as the rows, so the RSM
``<count/>`` of an unfiltered query costs one primary-key read instead of a
scan, plus the archive's own retention policy.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import (BigInteger, Boolean, ColumnElement, Float, Index, Integer, String, Text, and_, delete,
                        func, literal_column, or_, select, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from component.storage import Base, Database


class MamMessage(Base):
    __tablename__ = "mam_messages"

    # A rowid table with a separate (archive, stanza_id) index keeps the index
    # small (no message text in it), which makes counts index-only scans.
    row: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    archive: Mapped[str] = mapped_column(String(3071))
    stanza_id: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[float] = mapped_column(Float)
    author: Mapped[str] = mapped_column(String(3071), default="")
    with_jid: Mapped[str] = mapped_column(String(3071), default="")
    with_bare: Mapped[str] = mapped_column(String(3071), default="")
    occupant_id: Mapped[str] = mapped_column(String(255), default="")
    origin_id: Mapped[str] = mapped_column(String(255), default="")
    client_id: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16), default="groupchat")
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)
    stanza: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_mam_messages_archive_stanza_id", "archive", "stanza_id", unique=True),
        # Recall of 1:1 messages finds them by the sender's origin-id.
        Index("ix_mam_messages_archive_origin_id", "archive", "origin_id",
              sqlite_where=literal_column("origin_id") != "",
              postgresql_where=literal_column("origin_id") != ""),
    )


class MamArchive(Base):
    __tablename__ = "mam_archives"

    archive: Mapped[str] = mapped_column(String(3071), primary_key=True)
    domain: Mapped[str] = mapped_column(String(1023), index=True)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    #: None = the service's global policy; 0 = keep forever.
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_messages: Mapped[int | None] = mapped_column(Integer, nullable=True)


M = MamMessage.__table__
A = MamArchive.__table__

#: Columns of a result row, in this order.
ROW_COLUMNS = (M.c.stanza_id, M.c.timestamp, M.c.stanza, M.c.author, M.c.with_jid, M.c.occupant_id,
               M.c.origin_id, M.c.client_id, M.c.kind, M.c.retracted, M.c.archive)


@dataclass
class Filters:
    """Conditions on one archive's rows, all optional."""

    archive: str
    lower: str | None = None        #: stanza_id > lower
    lower_incl: str | None = None   #: stanza_id >= lower_incl
    upper: str | None = None        #: stanza_id < upper
    with_full: str | None = None
    with_bare: str | None = None
    author: str | None = None       #: with a bare 'with': also match the author's real JID
    ids: Sequence[str] | None = None

    def where(self, *, lower: str | None = None, upper: str | None = None) -> ColumnElement[bool]:
        conds = [M.c.archive == self.archive]
        for bound in (self.lower, lower):
            if bound is not None:
                conds.append(M.c.stanza_id > bound)
        if self.lower_incl is not None:
            conds.append(M.c.stanza_id >= self.lower_incl)
        for bound in (self.upper, upper):
            if bound is not None:
                conds.append(M.c.stanza_id < bound)
        if self.with_full is not None:
            conds.append(M.c.with_jid == self.with_full)
        if self.with_bare is not None:
            match = M.c.with_bare == self.with_bare
            if self.author is not None:
                match = or_(match, M.c.author == self.author)
            conds.append(match)
        if self.ids is not None:
            conds.append(M.c.stanza_id.in_(list(self.ids)))
        return and_(*conds)

    @property
    def narrows(self) -> bool:
        """Whether the filters select less than the whole archive."""
        return any(v is not None for v in (self.lower, self.lower_incl, self.upper, self.with_full,
                                           self.with_bare, self.ids))


#: Columns written for each message, in this order.
INSERT_COLUMNS = ("archive", "stanza_id", "timestamp", "author", "with_jid", "with_bare", "occupant_id",
                  "origin_id", "client_id", "kind", "retracted", "stanza")


def _domain(archive: str) -> str:
    return archive.rpartition("@")[2]


class SqliteWriter:
    """Archive inserts through one sqlite3 connection owned by one thread.

    Through SQLAlchemy and aiosqlite a transaction of two statements costs
    about ten hand-offs between the event loop and the driver's thread
    (milliseconds on a busy machine); here a whole batch is one hand-off.
    Reads and rarer writes keep going through SQLAlchemy.
    """

    _insert_sql = (f"INSERT INTO mam_messages ({', '.join(INSERT_COLUMNS)}) "
                   f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})")
    _count_sql = ("INSERT INTO mam_archives (archive, domain, messages) VALUES (?, ?, ?) "
                  "ON CONFLICT (archive) DO UPDATE SET messages = messages + excluded.messages")

    def __init__(self, path: str, synchronous: int) -> None:
        self.path = path
        self.synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mam-writer")
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={int(self.synchronous)}")
            conn.execute("PRAGMA busy_timeout=30000")
            self._conn = conn
        return self._conn

    def _insert(self, rows: list[tuple[Any, ...]], counts: list[tuple[str, str, int]]) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(self._insert_sql, rows)
            conn.executemany(self._count_sql, counts)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def insert(self, rows: list[dict[str, Any]], counts: dict[str, int]) -> None:
        values = [tuple(int(row[c]) if c == "retracted" else row[c] for c in INSERT_COLUMNS) for row in rows]
        totals = [(archive, _domain(archive), n) for archive, n in counts.items()]
        await asyncio.get_running_loop().run_in_executor(self._executor, self._insert, values, totals)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)


class ArchiveStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._writer: SqliteWriter | None = None
        path = db.url.database or ""
        self._fast_path = db.is_sqlite and path not in ("", ":memory:") and "mode=memory" not in str(db.url)

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    # -- writes -----------------------------------------------------------
    async def insert(self, rows: list[dict[str, Any]]) -> None:
        """Insert rows and bump their archives' counters in one transaction."""
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["archive"]] = counts.get(row["archive"], 0) + 1
        if self._fast_path:
            if self._writer is None:
                async with self.db.engine.connect() as conn:
                    synchronous = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
                self._writer = SqliteWriter(str(self.db.url.database), int(synchronous or 1))
            await self._writer.insert(rows, counts)
            return
        async with self.db.engine.begin() as conn:
            await conn.execute(M.insert(), rows)
            for archive, n in counts.items():
                await self._bump(conn, archive, n)

    async def _bump(self, conn: AsyncConnection, archive: str, n: int) -> None:
        dialect = sqlite if self.db.is_sqlite else postgresql
        stmt = dialect.insert(A).values(archive=archive, domain=_domain(archive), messages=n)
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
            async with self.db.engine.begin() as conn:
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
            stmt = dialect.insert(A).values(archive=archive, domain=_domain(archive), messages=0,
                                            retention_days=retention_days, max_messages=max_messages)
            stmt = stmt.on_conflict_do_update(index_elements=[A.c.archive], set_={
                "retention_days": retention_days, "max_messages": max_messages})
            await conn.execute(stmt)

    # -- reads ------------------------------------------------------------
    async def get(self, archive: str, stanza_id: str) -> Any:
        async with self.db.engine.connect() as conn:
            return (await conn.execute(select(*ROW_COLUMNS).where(
                M.c.archive == archive, M.c.stanza_id == stanza_id))).first()

    async def find_by_origin_id(self, archive: str, author: str, origin_id: str) -> Any:
        async with self.db.engine.connect() as conn:
            return (await conn.execute(select(*ROW_COLUMNS).where(
                M.c.archive == archive, M.c.origin_id == origin_id, M.c.origin_id != "",
                M.c.author == author).order_by(M.c.stanza_id.desc()).limit(1))).first()

    async def missing_ids(self, conn: AsyncConnection, archive: str, ids: Iterable[str]) -> list[str]:
        wanted = sorted(set(ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            found.update((await conn.execute(select(M.c.stanza_id).where(
                M.c.archive == archive, M.c.stanza_id.in_(part)))).scalars())
        return [i for i in wanted if i not in found]

    async def page(self, conn: AsyncConnection, filters: Filters, limit: int, *, backward: bool,
                   offset: int = 0, lower: str | None = None, upper: str | None = None) -> list[Any]:
        order = M.c.stanza_id.desc() if backward else M.c.stanza_id.asc()
        stmt = select(*ROW_COLUMNS).where(filters.where(lower=lower, upper=upper)).order_by(order).limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        return list((await conn.execute(stmt)).all())

    async def count(self, conn: AsyncConnection, filters: Filters, *, lower: str | None = None,
                    upper: str | None = None, at_most: int | None = None) -> int:
        """Matching rows; with ``at_most``, counting stops there (a bounded index walk)."""
        where = filters.where(lower=lower, upper=upper)
        if at_most is None:
            return (await conn.execute(select(func.count()).select_from(M).where(where))).scalar_one()
        inner = select(literal_column("1")).select_from(M).where(where).limit(at_most).subquery()
        return (await conn.execute(select(func.count()).select_from(inner))).scalar_one()

    async def archive_count(self, conn: AsyncConnection, archive: str) -> int:
        value = (await conn.execute(select(A.c.messages).where(A.c.archive == archive))).scalar()
        return int(value or 0)

    async def bounds(self, archive: str) -> tuple[Any, Any]:
        async with self.db.engine.connect() as conn:
            first = (await conn.execute(select(*ROW_COLUMNS).where(M.c.archive == archive)
                                        .order_by(M.c.stanza_id.asc()).limit(1))).first()
            last = (await conn.execute(select(*ROW_COLUMNS).where(M.c.archive == archive)
                                       .order_by(M.c.stanza_id.desc()).limit(1))).first()
            return first, last

    async def newest(self, archive: str, limit: int, lower_incl: str | None) -> list[Any]:
        async with self.db.engine.connect() as conn:
            return await self.page(conn, Filters(archive, lower_incl=lower_incl), limit, backward=True)

    async def nth_newest(self, archive: str, n: int) -> str | None:
        """The id of the (n+1)-th newest message (the first one beyond a count limit of n)."""
        async with self.db.engine.connect() as conn:
            return (await conn.execute(select(M.c.stanza_id).where(M.c.archive == archive)
                                       .order_by(M.c.stanza_id.desc()).limit(1).offset(n))).scalar()

    async def policies(self, domain: str) -> list[tuple[str, int | None, int | None]]:
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(select(A.c.archive, A.c.retention_days, A.c.max_messages)
                                      .where(A.c.domain == domain))
            return [(r[0], r[1], r[2]) for r in rows]

    async def policy(self, archive: str) -> tuple[int | None, int | None]:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(A.c.retention_days, A.c.max_messages)
                                      .where(A.c.archive == archive))).first()
            return (row[0], row[1]) if row else (None, None)

    def connect(self) -> Any:
        return self.db.engine.connect()


