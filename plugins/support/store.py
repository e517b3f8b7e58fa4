"""Storage of the support plugin: tickets, their events, notes, watchers, agents' presence, canned replies.

Written only by this plugin; other plugins read through the public service.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, Sequence

from sqlalchemy import (JSON, Connection, Float, Index, Integer, String, Text, delete, func, insert, inspect, or_,
                        select, tuple_)
from sqlalchemy.orm import Mapped, mapped_column

from component import sqlite_direct
from component.batched import BatchedLookup, CoalescedWrites
from component.ids import new_id
from component.storage import JID_LEN, Base, Database

from .canned_store import CannedReplies, SupportCanned
from .model import OPEN_STATES, Resource, Ticket
from .store_direct import DirectBatches, PgBatches
from .tickets import Search


class SupportTicket(Base):
    __tablename__ = "support_tickets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    queue: Mapped[str] = mapped_column(String(1023), index=True)
    entry: Mapped[str] = mapped_column(String(1023))
    customer: Mapped[str] = mapped_column(String(JID_LEN), index=True)
    customer_jid: Mapped[str] = mapped_column(String(JID_LEN))
    lang: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    via: Mapped[str] = mapped_column(String(8))
    notify: Mapped[int] = mapped_column(Integer, default=1)
    agent: Mapped[str] = mapped_column(String(JID_LEN), default="")
    agent_jid: Mapped[str] = mapped_column(String(JID_LEN), default="")
    created_at: Mapped[float] = mapped_column(Float)
    queued_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    accepted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    first_response_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    close_reason: Mapped[str] = mapped_column(String(64), default="")
    offers: Mapped[Any] = mapped_column(JSON, default=dict)
    offer_deadline: Mapped[float | None] = mapped_column(Float, nullable=True)
    declined: Mapped[Any] = mapped_column(JSON, default=list)
    agents_seen: Mapped[Any] = mapped_column(JSON, default=list)
    target_agent: Mapped[str] = mapped_column(String(JID_LEN), default="")
    form: Mapped[Any] = mapped_column(JSON, default=dict)
    # Added by migration step 2 (tickets, ratings): see upgrade_tickets().
    tags: Mapped[str] = mapped_column(String(1000), default="", server_default="")  # ",a,b," for LIKE searches
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    pending_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reopened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating_comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    rated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    rating_requested_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Lower-case customer, pre-chat answers and first message, for searches in any language
    #: (the JSON column escapes non-ASCII text).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")


class SupportEvent(Base):
    """One row per state change of a ticket: what reports are computed from."""

    __tablename__ = "support_events"
    __table_args__ = (Index("ix_support_events_queue_at", "queue", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(32), index=True)
    queue: Mapped[str] = mapped_column(String(1023))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(JID_LEN), default="")
    data: Mapped[str] = mapped_column(Text, default="{}")


class SupportNote(Base):
    __tablename__ = "support_notes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[float] = mapped_column(Float)
    author: Mapped[str] = mapped_column(String(JID_LEN))
    text: Mapped[str] = mapped_column(Text)


class SupportWatcher(Base):
    __tablename__ = "support_watchers"

    ticket: Mapped[str] = mapped_column(String(32), primary_key=True)
    jid: Mapped[str] = mapped_column(String(JID_LEN), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8))  # silent | open


class SupportAgentPresence(Base):
    """Agents' last presence per queue and resource, so routing resumes after a restart."""

    __tablename__ = "support_agent_presence"

    queue: Mapped[str] = mapped_column(String(1023), primary_key=True)
    jid: Mapped[str] = mapped_column(String(JID_LEN), primary_key=True)
    show: Mapped[str] = mapped_column(String(8))
    max_chats: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated: Mapped[float] = mapped_column(Float)


#: The tables of the first schema version (migration step 1 creates exactly these).
TABLES = ("support_tickets", "support_events", "support_notes", "support_watchers", "support_agent_presence")
#: Columns migration step 2 adds to support_tickets (a fresh database already has them).
TICKET_COLUMNS_2 = ("tags", "resolved_at", "pending_at", "reopened", "rating", "rating_comment", "rated_at",
                    "rating_requested_at", "search_text")


def upgrade_tickets(connection: Connection) -> None:
    """Migration step 2: ticket tags, timestamps and ratings; canned replies."""
    table = SupportTicket.__table__
    present = {c["name"] for c in inspect(connection).get_columns(table.name)}
    for name in TICKET_COLUMNS_2:
        if name in present:
            continue  # created by step 1 on a database that started with this code
        column = table.c[name]
        ddl = f"ALTER TABLE {table.name} ADD COLUMN {name} {column.type.compile(dialect=connection.dialect)}"
        if column.server_default is not None:
            ddl += f" DEFAULT '{column.server_default.arg}'" if isinstance(column.type, (String, Text)) \
                else f" DEFAULT {column.server_default.arg}"
        if not column.nullable:
            ddl += " NOT NULL"
        connection.exec_driver_sql(ddl)
    Base.metadata.create_all(connection, tables=[SupportCanned.__table__])


_TICKET_FIELDS = ("id", "queue", "entry", "customer", "customer_jid", "lang", "state", "priority", "via", "agent",
                  "agent_jid", "created_at", "queued_at", "accepted_at", "first_response_at", "closed_at",
                  "close_reason", "offer_deadline", "target_agent", "resolved_at", "pending_at", "rating",
                  "rated_at", "rating_requested_at")


def _row_values(t: Ticket) -> dict[str, Any]:
    """The ticket's row as column values."""
    values = {f: getattr(t, f) for f in _TICKET_FIELDS}
    values.update(notify=int(t.notify), offers=dict(t.offers), declined=list(t.declined),
                  agents_seen=list(t.agents_seen), form=dict(t.form),
                  tags="," + ",".join(t.tags) + "," if t.tags else "", reopened=t.reopened,
                  rating_comment=t.rating_comment,
                  search_text=" ".join([t.customer, *(str(v) for v in t.form.values() if v)]).lower())
    return values


def _from_row(row: SupportTicket) -> Ticket:
    t = Ticket(**{f: getattr(row, f) for f in _TICKET_FIELDS})
    t.notify = bool(row.notify)
    t.offers = dict(row.offers or {})
    t.declined = list(row.declined or [])
    t.agents_seen = list(row.agents_seen or [])
    t.form = dict(row.form or {})
    t.tags = [tag for tag in (row.tags or "").split(",") if tag]
    t.reopened = row.reopened or 0
    t.rating_comment = row.rating_comment or ""
    return t


#: The journal's batches commit on the event loop up to this many rows (about 4 ms; 15 µs a row).
#: Offers and acceptances wait for their batch, and in a storm a batch sent to the thread waited
#: 10-17 ms for its answer to be read: the loop runs everything already due first.
JOURNAL_LOOP_MAX_ROWS = 256


class SupportStore(CannedReplies):
    def __init__(self, db: Database, changed: Callable[[Any, dict[str, str]], Awaitable[None]] | None = None) -> None:
        self.db = db
        # A storm of new customers asks for each one's latest ticket (may it be reopened?) at once.
        self._latest = BatchedLookup(self._load_latest)
        self._presences = CoalescedWrites(self._save_presences)
        # No other process to tell of changes in the same transaction: batches are written below
        # SQLAlchemy (store_direct.py).
        self._direct_usable = changed is None and (sqlite_direct.usable(db)
                                                    or db.url.drivername == "postgresql+asyncpg")
        self._batches: DirectBatches | PgBatches | None = None
        #: Called in the transaction that writes tickets ({id: queue}): where several processes
        #: share the domain, it tells the others (lookup.py), delivered once the transaction commits.
        self.changed = changed

    async def _direct(self) -> DirectBatches | PgBatches:
        if self._batches is None:
            if self.db.is_sqlite:
                writer = sqlite_direct.DirectWriter(str(self.db.url.database),
                                                    await sqlite_direct.synchronous_of(self.db), "support-journal",
                                                    inline=True, inline_max_rows=JOURNAL_LOOP_MAX_ROWS,
                                                    what="ticket journal")
                self._batches = DirectBatches(writer, SupportTicket.__table__, SupportEvent.__table__,
                                              SupportAgentPresence.__table__)
            else:
                self._batches = PgBatches(self.db, SupportTicket.__table__, SupportEvent.__table__)
        return self._batches

    async def close(self) -> None:
        if self._batches is not None:
            await self._batches.close()
            self._batches = None

    async def save(self, ticket: Ticket, events: Sequence[tuple[str, float, str, dict]] = ()) -> None:
        """Write the ticket and its new events (kind, at, actor, data) in one transaction."""
        await self.save_batch([SimpleNamespace(copy=ticket, events=list(events))])

    async def save_batch(self, entries: Sequence[Any],
                         fence: Callable[[Any, set[tuple[str, int]]], Awaitable[None]] | None = None) -> None:
        """Write a batch of ticket changes (``.copy``: the ticket as stored, ``.events``) in one transaction.

        A ticket changed several times in the batch is written once, as last changed; every event
        is kept, in order. ``fence`` checks the owners' tokens the entries carry (``.fence``) in the
        same transaction, first: it raises to refuse the whole batch (component/owners.py).
        """
        latest = {e.copy.id: e.copy for e in entries if getattr(e, "row", True)}
        events = [{"id": new_id(), "ticket": e.copy.id, "queue": e.copy.queue, "kind": kind, "at": at, "actor": actor,
                   "data": json.dumps(data, ensure_ascii=False)} for e in entries for kind, at, actor, data in e.events]
        tokens = {token for e in entries for token in (getattr(e, "fence", None) or {}).items()}
        if tokens and fence is None:
            raise RuntimeError("ticket changes made under an owner's token, and nothing to check it")
        if self._direct_usable and not tokens:
            async with self.db.write_turn():
                await (await self._direct()).save([_row_values(t) for t in latest.values()], events)
            return
        # Core statements, one executemany per table: the ORM's unit of work held the event loop for
        # tens of milliseconds on a batch of a few hundred changes.
        async with self.db.write_turn(), self.db.session() as session:
            if tokens and fence is not None:
                await fence(session, tokens)
            # Write first (no read-then-write), as in save().
            if latest:
                await session.execute(delete(SupportTicket).where(SupportTicket.id.in_(list(latest))))
                await session.execute(insert(SupportTicket.__table__), [_row_values(t) for t in latest.values()])
            if events:
                await session.execute(insert(SupportEvent.__table__), events)
            if self.changed is not None:
                await self.changed(session, {e.copy.id: e.copy.queue for e in entries})

    async def ticket(self, ticket_id: str) -> Ticket | None:
        async with self.db.session() as session:
            row = await session.get(SupportTicket, ticket_id)
            return _from_row(row) if row else None

    async def open_tickets(self, queue: str | None = None) -> list[Ticket]:
        query = select(SupportTicket).where(SupportTicket.state.in_(OPEN_STATES))
        if queue is not None:
            query = query.where(SupportTicket.queue == queue)
        async with self.db.session() as session:
            return [_from_row(r) for r in await session.scalars(query)]

    async def tickets_in(self, states: Sequence[str], exclude_queues: Sequence[str] = ()) -> list[Ticket]:
        """Tickets in ``states`` whose queue is not one of ``exclude_queues``."""
        query = select(SupportTicket).where(SupportTicket.state.in_(list(states)))
        if exclude_queues:
            query = query.where(SupportTicket.queue.not_in(list(exclude_queues)))
        async with self.db.session() as session:
            return [_from_row(r) for r in await session.scalars(query)]

    async def latest_ticket(self, queue: str, customer: str) -> Ticket | None:
        """The customer's latest ticket that started at ``queue`` (look-ups made together share a query)."""
        return await self._latest.get((queue, customer))

    async def _load_latest(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Ticket]:
        by_entry: dict[str, list[str]] = {}
        for entry, customer in keys:
            by_entry.setdefault(entry, []).append(customer)
        found: dict[tuple[str, str], Ticket] = {}
        async with self.db.session() as session:
            for entry, customers in by_entry.items():
                for i in range(0, len(customers), 400):  # bound parameters per statement
                    latest = select(func.max(SupportTicket.id)).where(
                        SupportTicket.entry == entry, SupportTicket.customer.in_(customers[i:i + 400])
                    ).group_by(SupportTicket.customer)
                    for row in await session.scalars(select(SupportTicket).where(SupportTicket.id.in_(latest))):
                        found[(entry, row.customer)] = _from_row(row)
        return found

    async def tickets(self, queue: str | None = None, limit: int = 100) -> list[Ticket]:
        async with self.db.session() as session:
            query = select(SupportTicket).order_by(SupportTicket.id.desc()).limit(limit)
            if queue is not None:
                query = query.where(SupportTicket.queue == queue)
            return [_from_row(r) for r in await session.scalars(query)]

    async def events(self, ticket_id: str) -> list[tuple[str, float, str, dict]]:
        async with self.db.session() as session:
            rows = await session.scalars(select(SupportEvent).where(SupportEvent.ticket == ticket_id)
                                         .order_by(SupportEvent.id))
            return [(r.kind, r.at, r.actor, json.loads(r.data or "{}")) for r in rows]

    async def ticket_events(self, since: float, until: float, queue: str | None = None,
                            starts: Sequence[str] = ("created",)) -> list[tuple[str, str, str, float, str, dict]]:
        """Every event of the tickets that started (an event of a kind in ``starts``) in [since, until).

        Rows are (ticket, queue, kind, at, actor, data) in the order they were recorded; ``queue``
        filters on the queue the ticket started in. Read-only, for reports.
        """
        started = select(SupportEvent.ticket).where(SupportEvent.kind.in_(list(starts)),
                                                     SupportEvent.at >= since, SupportEvent.at < until)
        if queue is not None:
            started = started.where(SupportEvent.queue == queue)
        async with self.db.session() as session:
            rows = await session.execute(
                select(SupportEvent.ticket, SupportEvent.queue, SupportEvent.kind, SupportEvent.at,
                       SupportEvent.actor, SupportEvent.data)
                .where(SupportEvent.ticket.in_(started.distinct().scalar_subquery()))
                .order_by(SupportEvent.at, SupportEvent.id))
            return [(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}")) for r in rows]

    async def add_note(self, ticket_id: str, author: str, text: str, at: float) -> None:
        async with self.db.session() as session:
            session.add(SupportNote(id=new_id(), ticket=ticket_id, at=at, author=author, text=text))

    async def notes(self, ticket_id: str) -> list[tuple[float, str, str]]:
        async with self.db.session() as session:
            rows = await session.scalars(select(SupportNote).where(SupportNote.ticket == ticket_id)
                                         .order_by(SupportNote.id))
            return [(r.at, r.author, r.text) for r in rows]

    async def set_watcher(self, ticket_id: str, jid: str, mode: str | None) -> None:
        async with self.db.session() as session:
            await session.execute(delete(SupportWatcher).where(SupportWatcher.ticket == ticket_id,
                                                               SupportWatcher.jid == jid))
            if mode is not None:
                session.add(SupportWatcher(ticket=ticket_id, jid=jid, mode=mode))

    async def watchers_of(self, ticket_id: str) -> dict[str, str]:
        async with self.db.session() as session:
            rows = await session.scalars(select(SupportWatcher).where(SupportWatcher.ticket == ticket_id))
            return {row.jid: row.mode for row in rows}

    async def watchers(self) -> dict[str, dict[str, str]]:
        async with self.db.session() as session:
            result: dict[str, dict[str, str]] = {}
            for row in await session.scalars(select(SupportWatcher)):
                result.setdefault(row.ticket, {})[row.jid] = row.mode
            return result

    def presence_changed(self, queue: str, resource: Resource | None, jid: str) -> asyncio.Future:
        """Store an agent's presence to a queue (None: gone) with the next batch; the future resolves
        once stored. Fifty agents coming online at once are one transaction, not fifty in a row."""
        return self._presences.put((queue, jid), resource)

    async def _save_presences(self, changed: dict[tuple[str, str], Resource | None]) -> None:
        # Two statements a batch: one delete per agent was 50 trips to the database thread when 50
        # agents came online, and their first offers' write waited behind them.
        rows = [{"queue": queue, "jid": jid, "show": r.show, "max_chats": r.max_chats, "updated": r.updated}
                for (queue, jid), r in changed.items() if r is not None]
        if self._direct_usable and self.db.is_sqlite:
            # Not on PostgreSQL: the journal's one connection takes one transaction at a time.
            async with self.db.write_turn():
                direct = await self._direct()
                assert isinstance(direct, DirectBatches)
                await direct.save_presences(list(changed), rows)
            return
        async with self.db.write_turn(), self.db.session() as session:
            await session.execute(delete(SupportAgentPresence).where(
                tuple_(SupportAgentPresence.queue, SupportAgentPresence.jid).in_(list(changed))))
            if rows:
                await session.execute(insert(SupportAgentPresence.__table__), rows)

    async def presences(self) -> list[tuple[str, Resource]]:
        async with self.db.session() as session:
            rows = await session.scalars(select(SupportAgentPresence))
            return [(r.queue, Resource(r.jid, r.show, r.max_chats, r.updated)) for r in rows]

    # -- tickets as agents search them ------------------------------------------------------------
    async def search(self, queues: Sequence[str], search: Search) -> list[Ticket]:
        """Tickets of ``queues`` (serving or entered there), newest first, filtered by ``search``."""
        query = select(SupportTicket).where(or_(SupportTicket.queue.in_(list(queues)),
                                                SupportTicket.entry.in_(list(queues))))
        if search.statuses:
            query = query.where(SupportTicket.state.in_(search.states))
        for tag in search.tags:
            query = query.where(SupportTicket.tags.contains(f",{tag},", autoescape=True))
        if search.customer:
            query = query.where(SupportTicket.customer.icontains(search.customer, autoescape=True))
        if search.agent:
            query = query.where(SupportTicket.agent.icontains(search.agent, autoescape=True))
        for word in search.text.lower().split():
            query = query.where(or_(SupportTicket.search_text.contains(word, autoescape=True),
                                    SupportTicket.customer.icontains(word, autoescape=True),
                                    SupportTicket.id.startswith(word, autoescape=True),
                                    SupportTicket.tags.contains(f",{word.lstrip('#')},", autoescape=True)))
        query = query.order_by(SupportTicket.id.desc()).limit(max(1, min(search.limit, 500)))
        async with self.db.session() as session:
            return [_from_row(r) for r in await session.scalars(query)]

    async def in_state_before(self, state: str, column: str, cutoff: float, limit: int = 500) -> list[Ticket]:
        """Tickets in ``state`` whose timestamp ``column`` is before ``cutoff`` (oldest first)."""
        stamp = getattr(SupportTicket, column)
        async with self.db.session() as session:
            rows = await session.scalars(select(SupportTicket).where(
                SupportTicket.state == state, stamp.is_not(None), stamp < cutoff).order_by(stamp).limit(limit))
            return [_from_row(r) for r in rows]
