"""Tables of the archive and the SQL that reads and writes them.

``mam_messages`` holds one row per archived message. Archive ids are
time-ordered (``component.ids``), so the unique index on (archive, stanza_id)
is also the chronological order: a page is one index range scan of at most
max+1 entries, whatever the size of the archive, and a time filter is an id
range (the id encodes its millisecond). ``mam_archives`` keeps a message
count per archive, updated in the same transaction as the rows, so the RSM
``<count/>`` of an unfiltered query costs one primary-key read instead of a
scan, plus the archive's own retention policy.

On a SQLite file the hot paths skip SQLAlchemy: small insert batches commit
on the event loop (``SqliteWriter`` says when that cannot block), larger or
contended ones in one writer thread, and reads run in a small pool of reader
threads, each with its own sqlite3 connection, so a whole query costs one
hand-off between the event loop and a thread. Elsewhere (PostgreSQL) the same
SQL runs through SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import (BigInteger, Boolean, Float, Index, Integer, String, Text, delete, func, literal_column,
                        select, text, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from component.storage import Base, Database

log = logging.getLogger("switchboard.plugins.mam")


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

    def sql(self, *, lower: str | None = None, upper: str | None = None) -> tuple[str, dict[str, Any]]:
        """A WHERE clause with named parameters (understood by sqlite3 and by SQLAlchemy's text())."""
        conds = ["archive = :archive"]
        params: dict[str, Any] = {"archive": self.archive}
        for name, op, value in (("lo", ">", self.lower), ("lo2", ">", lower), ("loi", ">=", self.lower_incl),
                                ("up", "<", self.upper), ("up2", "<", upper)):
            if value is not None:
                conds.append(f"stanza_id {op} :{name}")
                params[name] = value
        if self.with_full is not None:
            conds.append("with_jid = :with_full")
            params["with_full"] = self.with_full
        if self.with_bare is not None:
            params["with_bare"] = self.with_bare
            if self.author is not None:
                conds.append("(with_bare = :with_bare OR author = :author)")
                params["author"] = self.author
            else:
                conds.append("with_bare = :with_bare")
        if self.ids is not None:
            names = []
            for i, value in enumerate(self.ids):
                names.append(f":id{i}")
                params[f"id{i}"] = value
            conds.append(f"stanza_id IN ({', '.join(names) or 'NULL'})")
        return " AND ".join(conds), params

    @property
    def narrows(self) -> bool:
        """Whether the filters select less than the whole archive."""
        return any(v is not None for v in (self.lower, self.lower_incl, self.upper, self.with_full,
                                           self.with_bare, self.ids))


Execute = Callable[[str, dict[str, Any]], list[tuple[Any, ...]]]

#: Columns of a result row, in this order (see service._record).
ROW = "stanza_id, timestamp, stanza, author, with_jid, occupant_id, origin_id, client_id, kind, retracted, archive"


class SqlReader:
    """Every read of the archive as SQL text, run inside one read transaction.

    The same statements run on a raw sqlite3 connection (in the reader
    thread: one hand-off per query however many statements) and on an
    SQLAlchemy connection (PostgreSQL), through ``execute(sql, params)``.
    """

    def __init__(self, execute: Execute) -> None:
        self.execute = execute

    def _scalar(self, sql: str, params: dict[str, Any]) -> Any:
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    def get(self, archive: str, stanza_id: str) -> tuple[Any, ...] | None:
        rows = self.execute(f"SELECT {ROW} FROM mam_messages WHERE archive = :archive AND stanza_id = :sid",
                            {"archive": archive, "sid": stanza_id})
        return rows[0] if rows else None

    def find_by_origin_id(self, archive: str, author: str, origin_id: str) -> tuple[Any, ...] | None:
        rows = self.execute(f"SELECT {ROW} FROM mam_messages WHERE archive = :archive AND origin_id = :origin "
                            "AND origin_id != '' AND author = :author ORDER BY stanza_id DESC LIMIT 1",
                            {"archive": archive, "origin": origin_id, "author": author})
        return rows[0] if rows else None

    def referring(self, archive: str, after_id: str, markers: Iterable[str]) -> list[tuple[Any, ...]]:
        """Rows after ``after_id`` whose text holds one of ``markers`` (namespaces), oldest first."""
        params: dict[str, Any] = {"archive": archive, "sid": after_id}
        likes = []
        for n, marker in enumerate(markers):
            params[f"m{n}"] = f"%{marker}%"
            likes.append(f"stanza LIKE :m{n}")
        return self.execute(f"SELECT {ROW} FROM mam_messages WHERE archive = :archive AND stanza_id > :sid "
                            f"AND NOT retracted AND ({' OR '.join(likes)}) ORDER BY stanza_id", params)

    def missing_ids(self, archive: str, ids: Iterable[str]) -> list[str]:
        wanted = sorted(set(ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            where, params = Filters(archive, ids=wanted[start:start + 500]).sql()
            found.update(r[0] for r in self.execute(f"SELECT stanza_id FROM mam_messages WHERE {where}", params))
        return [i for i in wanted if i not in found]

    def page(self, filters: Filters, limit: int, *, backward: bool, offset: int = 0, lower: str | None = None,
             upper: str | None = None) -> list[tuple[Any, ...]]:
        where, params = filters.sql(lower=lower, upper=upper)
        params.update(limit=limit, offset=offset)
        order = "DESC" if backward else "ASC"
        return self.execute(f"SELECT {ROW} FROM mam_messages WHERE {where} ORDER BY stanza_id {order} "
                            "LIMIT :limit OFFSET :offset", params)

    def count(self, filters: Filters, *, lower: str | None = None, upper: str | None = None,
              at_most: int | None = None) -> int:
        """Matching rows; with ``at_most``, counting stops there (a bounded index walk)."""
        where, params = filters.sql(lower=lower, upper=upper)
        if at_most is None:
            return int(self._scalar(f"SELECT count(*) FROM mam_messages WHERE {where}", params))
        params["at_most"] = at_most
        return int(self._scalar(f"SELECT count(*) FROM (SELECT 1 FROM mam_messages WHERE {where} "
                                "LIMIT :at_most) AS bounded", params))

    def archive_count(self, archive: str) -> int:
        return int(self._scalar("SELECT messages FROM mam_archives WHERE archive = :archive",
                                {"archive": archive}) or 0)

    def bounds(self, archive: str) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
        first = self.page(Filters(archive), 1, backward=False)
        last = self.page(Filters(archive), 1, backward=True)
        return (first[0] if first else None, last[0] if last else None)

    def nth_newest(self, archive: str, n: int) -> str | None:
        """The id of the (n+1)-th newest message (the first one beyond a count limit of n)."""
        return self._scalar("SELECT stanza_id FROM mam_messages WHERE archive = :archive "
                            "ORDER BY stanza_id DESC LIMIT 1 OFFSET :n", {"archive": archive, "n": n})

    def policies(self, domain: str) -> list[tuple[str, int | None, int | None]]:
        rows = self.execute("SELECT archive, retention_days, max_messages FROM mam_archives "
                            "WHERE domain = :domain", {"domain": domain})
        return [(r[0], r[1], r[2]) for r in rows]

    def policy(self, archive: str) -> tuple[int | None, int | None]:
        rows = self.execute("SELECT retention_days, max_messages FROM mam_archives WHERE archive = :archive",
                            {"archive": archive})
        return (rows[0][0], rows[0][1]) if rows else (None, None)


#: Columns written for each message, in this order.
INSERT_COLUMNS = ("archive", "stanza_id", "timestamp", "author", "with_jid", "with_bare", "occupant_id",
                  "origin_id", "client_id", "kind", "retracted", "stanza")


def _domain(archive: str) -> str:
    return archive.rpartition("@")[2]


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (SQLITE_BUSY / SQLITE_LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc)


class SqliteWriter:
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
        self.path = path
        self.synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mam-writer")
        self._conn: sqlite3.Connection | None = None
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

    def _open(self, *, timeout: float, pragmas: tuple[str, ...] = ()) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            for pragma in ("journal_mode=WAL", f"synchronous={int(self.synchronous)}", *pragmas):
                conn.execute(f"PRAGMA {pragma}")
        except BaseException:
            conn.close()  # busy: the next batch tries again
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open(timeout=30, pragmas=("busy_timeout=30000",))
        return self._conn

    def _loop_connection(self) -> sqlite3.Connection:
        if self._loop_conn is None:
            self._loop_conn = self._open(timeout=0, pragmas=("wal_autocheckpoint=0",))
        return self._loop_conn

    def _insert_with(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]],
                     counts: list[tuple[str, str, int]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(self._insert_sql, rows)
            conn.executemany(self._count_sql, counts)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

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
        totals = [(archive, _domain(archive), n) for archive, n in counts.items()]
        if self._try_inline(values, totals):
            return
        await asyncio.get_running_loop().run_in_executor(self._executor, self._insert, values, totals)
        self.thread_commits += 1

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


class ArchiveStore:
    def __init__(self, db: Database, *, direct_sqlite: bool = True) -> None:
        self.db = db
        self._writer: SqliteWriter | None = None
        self._readers: SqliteReaders | None = None
        path = db.url.database or ""
        # Raw sqlite3 connections need a database file they can open too.
        self._fast_path = (direct_sqlite and db.is_sqlite and path not in ("", ":memory:")
                           and "mode=memory" not in str(db.url))

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
    async def vacuum(self) -> None:
        """PostgreSQL: prune the old row versions that updates and deletes left (removed text)."""
        if self.db.is_sqlite:
            return  # secure_delete and the WAL checkpoint do this job there
        async with self.db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM runs outside a transaction
            await conn.exec_driver_sql("VACUUM mam_messages")

    async def read(self, fn: Callable[[SqlReader], Any]) -> Any:
        """Run ``fn(reader)`` in one read transaction and return its result."""
        if self._fast_path:
            if self._readers is None:
                self._readers = SqliteReaders(str(self.db.url.database))
            return await self._readers.run(fn)
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
        return await self.read(lambda r: r.get(archive, stanza_id))

    async def find_by_origin_id(self, archive: str, author: str, origin_id: str) -> Any:
        return await self.read(lambda r: r.find_by_origin_id(archive, author, origin_id))

    async def referring(self, archive: str, after_id: str, markers: Iterable[str]) -> list[Any]:
        return await self.read(lambda r: r.referring(archive, after_id, markers))

    async def bounds(self, archive: str) -> tuple[Any, Any]:
        return await self.read(lambda r: r.bounds(archive))

    async def newest(self, archive: str, limit: int, lower_incl: str | None) -> list[Any]:
        return await self.read(lambda r: r.page(Filters(archive, lower_incl=lower_incl), limit, backward=True))

    async def nth_newest(self, archive: str, n: int) -> str | None:
        return await self.read(lambda r: r.nth_newest(archive, n))

    async def policies(self, domain: str) -> list[tuple[str, int | None, int | None]]:
        return await self.read(lambda r: r.policies(domain))

    async def policy(self, archive: str) -> tuple[int | None, int | None]:
        return await self.read(lambda r: r.policy(archive))

    async def archive_count(self, archive: str) -> int:
        return await self.read(lambda r: r.archive_count(archive))
