"""Storage of a queue's canned replies (see canned.py), part of :class:`store.SupportStore`."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import Float, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from component.storage import JID_LEN, Base, Database

from .canned import Canned


class SupportCanned(Base):
    """Canned replies of a queue, by shortcut."""

    __tablename__ = "support_canned"

    queue: Mapped[str] = mapped_column(String(1023), primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    text_zh: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(JID_LEN), default="")
    updated_at: Mapped[float] = mapped_column(Float, default=0.0)


class CannedReplies:
    db: Database

    async def canned(self, queue: str) -> list[Canned]:
        async with self.db.session() as session:
            rows = await session.scalars(select(SupportCanned).where(SupportCanned.queue == queue)
                                         .order_by(SupportCanned.shortcut))
            return [_canned(r) for r in rows]

    async def canned_reply(self, queue: str, shortcut: str) -> Canned | None:
        async with self.db.session() as session:
            r = await session.get(SupportCanned, (queue, shortcut))
            return _canned(r) if r else None

    async def put_canned(self, reply: Canned) -> None:
        async with self.db.session() as session:
            await session.execute(delete(SupportCanned).where(SupportCanned.queue == reply.queue,
                                                              SupportCanned.shortcut == reply.shortcut))
            session.add(SupportCanned(queue=reply.queue, shortcut=reply.shortcut, text=reply.text,
                                      text_zh=reply.text_zh, updated_by=reply.updated_by,
                                      updated_at=reply.updated_at))

    async def delete_canned(self, queue: str, shortcuts: Sequence[str]) -> int:
        async with self.db.session() as session:
            result = await session.execute(delete(SupportCanned).where(SupportCanned.queue == queue,
                                                                       SupportCanned.shortcut.in_(list(shortcuts))))
            return result.rowcount or 0


def _canned(r: SupportCanned) -> Canned:
    return Canned(r.queue, r.shortcut, r.text, r.text_zh or "", r.updated_by or "", r.updated_at or 0.0)
