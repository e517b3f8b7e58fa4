"""Storage of the bot: the knowledge bases (one per queue) and the bot's conversations.

Written only by this plugin. A conversation row is the bot's side of a
support ticket: its turns, counters and outcome, so a restart resumes it and
reports can count what the bot resolved and why it handed off.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable

from sqlalchemy import JSON, Float, Index, Integer, String, Text, delete, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from component.storage import Base, Database

from .retrieval import Entry

JID_LEN = 3071
INSERT_CHUNK = 200


class SupportBotEntry(Base):
    __tablename__ = "support_bot_entries"
    __table_args__ = (Index("ix_support_bot_entries_queue_id", "queue", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    queue: Mapped[str] = mapped_column(String(1023))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    alternatives: Mapped[Any] = mapped_column(JSON, default=list)
    keywords: Mapped[Any] = mapped_column(JSON, default=list)
    lang: Mapped[str] = mapped_column(String(16), default="")
    author: Mapped[str] = mapped_column(String(JID_LEN), default="")
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class SupportBotConversation(Base):
    __tablename__ = "support_bot_conversations"
    __table_args__ = (Index("ix_support_bot_conversations_queue_created", "queue", "created_at"),)

    ticket: Mapped[str] = mapped_column(String(64), primary_key=True)
    queue: Mapped[str] = mapped_column(String(1023))
    customer: Mapped[str] = mapped_column(String(JID_LEN))
    lang: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)   # active | resolved | handed_off | ended
    reason: Mapped[str] = mapped_column(String(32), default="")  # hand-off reason
    turns: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    unanswered: Mapped[int] = mapped_column(Integer, default=0)
    suggestions: Mapped[Any] = mapped_column(JSON, default=list)
    last_entry: Mapped[str] = mapped_column(String(32), default="")
    transcript: Mapped[Any] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


TABLES = ("support_bot_entries", "support_bot_conversations")


def _entry(row: SupportBotEntry) -> Entry:
    return Entry(id=row.id, queue=row.queue, question=row.question, answer=row.answer,
                 alternatives=tuple(row.alternatives or ()), keywords=tuple(row.keywords or ()), lang=row.lang or "")


#: Told, inside each knowledge-base write's transaction, which queue changed ("*": some queue),
#: so that other processes (a shell's import, a running component) reload it.
Changed = Callable[[Any, str], Awaitable[None]]


async def _nobody(_session: Any, _queue: str) -> None:
    return None


class BotStore:
    def __init__(self, db: Database, changed: Changed = _nobody) -> None:
        self.db = db
        self.changed = changed

    # -- knowledge base --------------------------------------------------------
    async def entries(self, queue: str | None = None) -> list[Entry]:
        async with self.db.session() as session:
            query = select(SupportBotEntry).order_by(SupportBotEntry.queue, SupportBotEntry.id)
            if queue is not None:
                query = query.where(SupportBotEntry.queue == queue)
            return [_entry(r) for r in await session.scalars(query)]

    async def entry(self, entry_id: str) -> Entry | None:
        async with self.db.session() as session:
            row = await session.get(SupportBotEntry, entry_id)
            return _entry(row) if row else None

    async def counts(self) -> dict[str, int]:
        async with self.db.session() as session:
            rows = await session.execute(select(SupportBotEntry.queue, func.count()).group_by(SupportBotEntry.queue))
            return {queue: count for queue, count in rows}

    async def save_entries(self, entries: Iterable[Entry], author: str, now: float,
                           replace_queue: str | None = None) -> None:
        """Insert or update entries in one transaction; ``replace_queue`` first empties that queue."""
        entries = list(entries)
        async with self.db.session(write=True) as session:  # reads the rows it then updates
            existing: dict[str, SupportBotEntry] = {}
            if replace_queue is not None:
                await session.execute(delete(SupportBotEntry).where(SupportBotEntry.queue == replace_queue))
            else:
                ids = [e.id for e in entries]
                for start in range(0, len(ids), 500):
                    rows = await session.scalars(select(SupportBotEntry).where(
                        SupportBotEntry.id.in_(ids[start:start + 500])))
                    existing.update({row.id: row for row in rows})
            new: list[dict[str, Any]] = []
            for e in entries:
                row = existing.get(e.id)
                if row is None:
                    new.append({"id": e.id, "queue": e.queue, "question": e.question, "answer": e.answer,
                                "alternatives": list(e.alternatives), "keywords": list(e.keywords), "lang": e.lang,
                                "author": author, "created_at": now, "updated_at": now})
                else:
                    row.queue, row.question, row.answer = e.queue, e.question, e.answer
                    row.alternatives, row.keywords, row.lang = list(e.alternatives), list(e.keywords), e.lang
                    row.author, row.updated_at = author, now
            # Chunks: SQLAlchemy prepares the parameters in the event loop's
            # thread, so one huge statement would pause everything else.
            for start in range(0, len(new), INSERT_CHUNK):
                await session.execute(insert(SupportBotEntry), new[start:start + INSERT_CHUNK])
            for queue in sorted({e.queue for e in entries} | ({replace_queue} if replace_queue else set())):
                await self.changed(session, queue)

    async def delete_entries(self, entry_ids: Iterable[str]) -> int:
        ids = list(entry_ids)
        if not ids:
            return 0
        async with self.db.session() as session:
            result = await session.execute(delete(SupportBotEntry).where(SupportBotEntry.id.in_(ids)))
            await self.changed(session, "*")
            return result.rowcount or 0

    # -- conversations -----------------------------------------------------------
    async def conversation(self, ticket: str) -> SupportBotConversation | None:
        async with self.db.session() as session:
            return await session.get(SupportBotConversation, ticket)

    async def save_conversation(self, row: SupportBotConversation) -> None:
        async with self.db.session(write=True) as session:  # merge() reads before it writes
            await session.merge(row)

    async def active_count(self) -> int:
        """Conversations the bot is holding now, in every process serving the domain."""
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(SupportBotConversation).where(
                SupportBotConversation.state == "active")) or 0)

    async def conversations(self, queue: str | None = None, since: float | None = None,
                            until: float | None = None) -> list[SupportBotConversation]:
        async with self.db.session() as session:
            query = select(SupportBotConversation).order_by(SupportBotConversation.created_at)
            if queue is not None:
                query = query.where(SupportBotConversation.queue == queue)
            if since is not None:
                query = query.where(SupportBotConversation.created_at >= since)
            if until is not None:
                query = query.where(SupportBotConversation.created_at < until)
            return list(await session.scalars(query))
