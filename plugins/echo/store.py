"""Storage of the echo plugin: one counter per sender."""

from __future__ import annotations

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from component.storage import Base, Database


class EchoCounter(Base):
    __tablename__ = "echo_counters"

    sender: Mapped[str] = mapped_column(String(3071), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class EchoStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def bump(self, sender: str) -> int:
        async with self.db.session(write=True) as session:
            row = await session.get(EchoCounter, sender, with_for_update=not self.db.is_sqlite)
            if row is None:
                row = EchoCounter(sender=sender, count=0)
                session.add(row)
            row.count += 1
            return row.count

    async def all(self) -> list[tuple[str, int]]:
        async with self.db.session() as session:
            rows = await session.execute(select(EchoCounter.sender, EchoCounter.count).order_by(EchoCounter.sender))
            return [(r[0], r[1]) for r in rows]
