"""The ticket journal's batches written below SQLAlchemy: SQLite through :mod:`component.sqlite_direct`,
PostgreSQL on an asyncpg connection of the writer's own.

Through a SQLAlchemy session a batch costs ~2 ms of CPU whatever its size (the session, and each
statement through the dialect): a change made alone (a quiet desk, one customer at a time) waited
that long for its transaction. Here it is one hand-off to a thread (SQLite, ~0.2 ms), or two
statements inside BEGIN and COMMIT (PostgreSQL, ~0.5 ms). On SQLite a small batch commits on the
event loop itself, under the writer's guards (component/sqlite_direct.py): every offer and every
accepted conversation waits for its batch, and the hand-off to a thread and back was the larger
part of that wait in a storm. The statements are made from the tables'
definitions, so a column added to the model is written here as well; JSON columns are stored as
SQLAlchemy stores them (JSON text), so reads see no difference. Used only where no other process
must be told of the changes in the same transaction (see ``SupportStore.changed``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Sequence

import asyncpg
from sqlalchemy import JSON, Table

from component.sqlite_direct import DirectWriter
from component.storage import Database


class DirectBatches:
    """The SQLite writer."""

    def __init__(self, writer: DirectWriter, tickets: Table, events: Table, presences: Table) -> None:
        self.writer = writer
        self._tables = _Columns(tickets, events)
        # REPLACE: the ticket's old row goes and the new one comes, in one statement.
        self._upsert = "INSERT OR REPLACE" + _insert(tickets.name, self._tables.tickets, "?")
        self._insert_event = "INSERT" + _insert(events.name, self._tables.events, "?")
        self._presence_columns = [c.name for c in presences.columns]
        self._delete_presence = f"DELETE FROM {presences.name} WHERE queue = ? AND jid = ?"
        self._insert_presence = "INSERT" + _insert(presences.name, self._presence_columns, "?")

    async def save(self, tickets: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]) -> None:
        """Replace these tickets' rows and add these events, in one transaction."""
        await self.writer.transaction(self._statements, *self._tables.values(tickets, events),
                                      rows=len(tickets) + len(events))

    def _statements(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]],
                    events: list[tuple[Any, ...]]) -> None:
        conn.executemany(self._upsert, rows)
        conn.executemany(self._insert_event, events)

    async def save_presences(self, changed: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]) -> None:
        """Agents' presences: the rows of ``changed`` (queue, jid) go, ``rows`` come, in one transaction.

        Through a SQLAlchemy session this was several trips to the driver's thread, each waiting for
        the loop's turn, while holding the database's write turn: in a storm the journal's next
        batch (the offers) waited 20-40 ms behind fifty agents coming online."""
        values = [tuple(row[c] for c in self._presence_columns) for row in rows]
        await self.writer.transaction(self._presence_statements, list(changed), values,
                                      rows=len(changed) + len(values))

    def _presence_statements(self, conn: sqlite3.Connection, changed: list[tuple[str, str]],
                             values: list[tuple[Any, ...]]) -> None:
        conn.executemany(self._delete_presence, changed)
        conn.executemany(self._insert_presence, values)

    async def close(self) -> None:
        await self.writer.close()


#: Options of SQLAlchemy's asyncpg adapter, not asyncpg's.
_ADAPTER_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn")


class PgBatches:
    """The PostgreSQL writer, on an asyncpg connection of its own (a new one after any failure)."""

    def __init__(self, db: Database, tickets: Table, events: Table) -> None:
        # Connected as the database's own connections are (the URL's options, ssl among them, as
        # SQLAlchemy hands them to asyncpg), less what only SQLAlchemy's adapter takes.
        _args, options = db.engine.dialect.create_connect_args(db.engine.url)
        self._options = {k: v for k, v in options.items() if k not in _ADAPTER_ONLY}
        self._conn: Any = None
        self._tables = _Columns(tickets, events)
        updated = ", ".join(f"{c} = EXCLUDED.{c}" for c in self._tables.tickets if c != "id")
        self._upsert = ("INSERT" + _insert(tickets.name, self._tables.tickets, "$")
                        + f" ON CONFLICT (id) DO UPDATE SET {updated}")
        self._insert_event = "INSERT" + _insert(events.name, self._tables.events, "$")

    async def save(self, tickets: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]) -> None:
        rows, added = self._tables.values(tickets, events)
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(**self._options)
        conn = self._conn
        try:
            async with conn.transaction():
                if rows:
                    await conn.executemany(self._upsert, rows)
                if added:
                    await conn.executemany(self._insert_event, added)
        except BaseException:
            # Failed or cancelled half-way: no doubt about the connection's state, the next batch
            # opens another.
            self._conn = None
            conn.terminate()
            raise

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


class _Columns:
    def __init__(self, tickets: Table, events: Table) -> None:
        self.tickets = [c.name for c in tickets.columns]
        self.events = [c.name for c in events.columns]
        self._json = {c.name for c in tickets.columns if isinstance(c.type, JSON)}

    def values(self, tickets: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]
               ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        rows = [tuple(json.dumps(row[c]) if c in self._json else row[c] for c in self.tickets) for row in tickets]
        return rows, [tuple(event[c] for c in self.events) for event in events]


def _insert(table: str, columns: list[str], style: str) -> str:
    marks = ", ".join("?" if style == "?" else f"${n}" for n in range(1, len(columns) + 1))
    return f" INTO {table} ({', '.join(columns)}) VALUES ({marks})"
