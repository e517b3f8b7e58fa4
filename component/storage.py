"""Storage: one SQLAlchemy declarative base, one async engine, per-plugin migrations.

SQLite (aiosqlite, WAL) is the default; PostgreSQL (asyncpg) takes the same code.

Migrations: each plugin owns an ordered list of steps and a version number in
``core_schema_versions``. Plugins are optional and independent, so a single
linear Alembic history over all of them would tie unrelated plugins together;
per-plugin step lists keep each plugin's schema its own and still run at start,
in one transaction per step, so a failed step leaves nothing half-applied.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable, Sequence

from sqlalchemy import Connection, MetaData, String, Integer, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The one declarative base; tables are prefixed with their plugin's name."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SchemaVersion(Base):
    __tablename__ = "core_schema_versions"

    plugin: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


#: A migration step runs on a synchronous connection inside a transaction.
MigrationStep = Callable[[Connection], None]
#: The longest JID a column must hold (RFC 7622: three parts of up to 1023 bytes, two separators).
JID_LEN = 3071


@dataclass
class Migrations:
    """The schema history of one plugin: steps[i] brings it to version i + 1."""

    plugin: str
    steps: Sequence[MigrationStep]


def create_tables(*tables: str) -> MigrationStep:
    """A step that creates the named tables of the shared metadata as they are declared now.

    Only right for a plugin's first step; later changes need explicit ALTER steps.
    """

    def step(connection: Connection) -> None:
        Base.metadata.create_all(connection, tables=[Base.metadata.tables[name] for name in tables])

    return step


#: Connection execution option: begin the SQLite transaction with the write lock.
_WRITE_INTENT = "switchboard_write_intent"


class SchemaMismatch(RuntimeError):
    """The database's schema is not the one this code was written for."""


class Database:
    def __init__(self, url: str, sqlite_synchronous: str = "normal", echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # Statement parameters carry message text, subjects and room passwords: keep them out of
        # the error messages that end up in logs (unless SQL echo is on for debugging).
        kwargs: dict = {"echo": echo, "hide_parameters": not echo}
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # One writer at a time anyway; a generous timeout turns lock contention into waiting.
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_size"] = 10
            kwargs["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            self._configure_sqlite(sqlite_synchronous)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_turn: asyncio.Lock | None = None

    def _configure_sqlite(self, synchronous: str) -> None:
        @event.listens_for(self.engine.sync_engine, "connect")
        def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL: readers never block the writer; with synchronous=NORMAL a
            # committed transaction survives a crash of this process.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # The sqlite3 module commits implicitly before DDL; take over
            # transaction control so a migration step is all-or-nothing.
            dbapi_connection.isolation_level = None

        @event.listens_for(self.engine.sync_engine, "begin")
        def on_begin(connection) -> None:  # type: ignore[no-untyped-def]
            immediate = connection.get_execution_options().get(_WRITE_INTENT, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @asynccontextmanager
    async def write_turn(self) -> AsyncIterator[None]:
        """On SQLite, this process's frequent writers (the archive's batches, the support journal) take
        turns here rather than in SQLite's busy handler, which sleeps 1, 2, 5, 10… ms between tries:
        two writers colliding cost each other ~20 ms a commit in a storm. PostgreSQL writes
        concurrently: no turn there."""
        if not self.is_sqlite:
            yield
            return
        if self._write_turn is None:
            self._write_turn = asyncio.Lock()
        async with self._write_turn:
            yield

    def begin_write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A Core transaction (``async with db.begin_write() as conn``) that reads, then writes what it
        read: on SQLite it takes the write lock at its start (waiting for it), as ``session(write=True)``
        does, instead of failing at its first write ("database is locked") when another connection
        committed after its read."""
        return self.engine.execution_options(**{_WRITE_INTENT: True}).begin()

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error.

        ``write=True`` for a transaction that reads and then writes what it read: on SQLite it
        takes the write lock at its start (waiting for it), because a read transaction that
        another connection committed behind fails at once when it tries to write ("database is
        locked", whatever the busy timeout). Do not open another write session inside one.
        """
        async with self.sessions() as session:
            async with session.begin():
                if write and self.is_sqlite:
                    await session.connection(execution_options={_WRITE_INTENT: True})
                yield session

    async def migrate(self, histories: Sequence[Migrations]) -> dict[str, tuple[int, int]]:
        """Bring every plugin's schema to its latest version; returns {plugin: (from, to)}."""
        async with self._one_migrator():
            return await self._migrate(histories)

    @asynccontextmanager
    async def _one_migrator(self) -> AsyncIterator[None]:
        """Processes sharing a PostgreSQL database migrate one after the other (they start together)."""
        if self.is_sqlite:
            yield
            return
        key = zlib.crc32(f"switchboard migrations\0{self.url.database}".encode()) - (1 << 31)
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})

    async def _migrate(self, histories: Sequence[Migrations]) -> dict[str, tuple[int, int]]:
        async with self.engine.begin() as connection:
            await connection.run_sync(lambda c: Base.metadata.create_all(
                c, tables=[SchemaVersion.__table__]))
        applied: dict[str, tuple[int, int]] = {}
        for history in histories:
            async with self.engine.begin() as connection:
                row = (await connection.execute(
                    select(SchemaVersion.version).where(SchemaVersion.plugin == history.plugin))).first()
                current = row[0] if row else 0
            target = len(history.steps)
            if current > target:
                raise RuntimeError(
                    f"database schema of plugin {history.plugin} is version {current}, "
                    f"newer than this code knows ({target}); refusing to run")
            for version in range(current + 1, target + 1):
                step = history.steps[version - 1]
                async with self.engine.begin() as connection:
                    await connection.run_sync(step)
                    if version == 1:
                        await connection.execute(SchemaVersion.__table__.insert().values(
                            plugin=history.plugin, version=1))
                    else:
                        await connection.execute(SchemaVersion.__table__.update().where(
                            SchemaVersion.plugin == history.plugin).values(version=version))
                log.info("migrated schema", extra={"plugin": history.plugin, "version": version})
            applied[history.plugin] = (current, target)
        return applied

    async def versions(self) -> dict[str, int]:
        """Each plugin's schema version in this database (empty when it has none yet)."""
        async with self.engine.connect() as connection:
            has_table = await connection.run_sync(
                lambda c: inspect(c).has_table(SchemaVersion.__tablename__))
            if not has_table:
                return {}
            rows = await connection.execute(select(SchemaVersion.plugin, SchemaVersion.version))
            return {plugin: version for plugin, version in rows}

    async def check_schema(self, histories: Sequence[Migrations]) -> None:
        """Refuse (:class:`SchemaMismatch`) unless every plugin's schema is exactly what this code knows."""
        versions = await self.versions()
        for history in histories:
            have, want = versions.get(history.plugin, 0), len(history.steps)
            if have < want:
                raise SchemaMismatch(f"the database schema of plugin {history.plugin} is version {have}, this "
                                     f"code needs {want}: run `switchboard migrate` (or start the component)")
            if have > want:
                raise SchemaMismatch(f"the database schema of plugin {history.plugin} is version {have}, newer "
                                     f"than this code knows ({want})")

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
