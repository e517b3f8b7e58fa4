"""Storage of the support plugin: tickets, their events, notes, watchers, agents' presence.

Written only by this plugin; other plugins read through the public service.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from sqlalchemy import JSON, Float, Index, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from component.ids import new_id
from component.storage import Base, Database

from .model import OPEN_STATES, Resource, Ticket

JID_LEN = 3071


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


TABLES = ("support_tickets", "support_events", "support_notes", "support_watchers", "support_agent_presence")

_TICKET_FIELDS = ("id", "queue", "entry", "customer", "customer_jid", "lang", "state", "priority", "via", "agent",
                  "agent_jid", "created_at", "queued_at", "accepted_at", "first_response_at", "closed_at",
                  "close_reason", "offer_deadline", "target_agent")


def _to_row(t: Ticket) -> SupportTicket:
    row = SupportTicket(**{f: getattr(t, f) for f in _TICKET_FIELDS})
    row.notify = int(t.notify)
    row.offers = dict(t.offers)
    row.declined = list(t.declined)
    row.agents_seen = list(t.agents_seen)
    row.form = dict(t.form)
    return row


def _from_row(row: SupportTicket) -> Ticket:
    t = Ticket(**{f: getattr(row, f) for f in _TICKET_FIELDS})
    t.notify = bool(row.notify)
    t.offers = dict(row.offers or {})
    t.declined = list(row.declined or [])
    t.agents_seen = list(row.agents_seen or [])
    t.form = dict(row.form or {})
    return t


class SupportStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, ticket: Ticket, events: Sequence[tuple[str, float, str, dict]] = ()) -> None:
        """Write the ticket and its new events (kind, at, actor, data) in one transaction."""
        async with self.db.session() as session:
            # Write first (no read-then-write): a SQLite transaction that starts by reading
            # cannot take the write lock while another connection commits.
            await session.execute(delete(SupportTicket).where(SupportTicket.id == ticket.id))
            session.add(_to_row(ticket))
            for kind, at, actor, data in events:
                session.add(SupportEvent(id=new_id(), ticket=ticket.id, queue=ticket.queue, kind=kind, at=at,
                                         actor=actor, data=json.dumps(data, ensure_ascii=False)))

    async def ticket(self, ticket_id: str) -> Ticket | None:
        async with self.db.session() as session:
            row = await session.get(SupportTicket, ticket_id)
            return _from_row(row) if row else None

    async def open_tickets(self) -> list[Ticket]:
        async with self.db.session() as session:
            rows = await session.scalars(select(SupportTicket).where(SupportTicket.state.in_(OPEN_STATES)))
            return [_from_row(r) for r in rows]

    async def latest_ticket(self, queue: str, customer: str) -> Ticket | None:
        async with self.db.session() as session:
            row = (await session.scalars(select(SupportTicket).where(
                SupportTicket.entry == queue, SupportTicket.customer == customer).order_by(
                SupportTicket.id.desc()).limit(1))).first()
            return _from_row(row) if row else None

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

    async def watchers(self) -> dict[str, dict[str, str]]:
        async with self.db.session() as session:
            result: dict[str, dict[str, str]] = {}
            for row in await session.scalars(select(SupportWatcher)):
                result.setdefault(row.ticket, {})[row.jid] = row.mode
            return result

    async def set_presence(self, queue: str, resource: Resource | None, jid: str) -> None:
        async with self.db.session() as session:
            await session.execute(delete(SupportAgentPresence).where(
                SupportAgentPresence.queue == queue, SupportAgentPresence.jid == jid))
            if resource is not None:
                session.add(SupportAgentPresence(queue=queue, jid=jid, show=resource.show,
                                                         max_chats=resource.max_chats, updated=resource.updated))

    async def presences(self) -> list[tuple[str, Resource]]:
        async with self.db.session() as session:
            rows = await session.scalars(select(SupportAgentPresence))
            return [(r.queue, Resource(r.jid, r.show, r.max_chats, r.updated)) for r in rows]
