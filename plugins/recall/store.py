"""Storage of the recall plugin: the audit trail and per-room windows.

The audit keeps who removed which archived message, when and why; never the
message's content (removing that is the point).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from sqlalchemy import Boolean, Float, Integer, String, Text, delete, event, select
from sqlalchemy.orm import Mapped, mapped_column

from component.ids import new_id
from component.storage import Base, Database

JID_LENGTH = 3071


class RecallAudit(Base):
    __tablename__ = "recall_audit"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)  # time-ordered
    at: Mapped[float] = mapped_column(Float)
    archive: Mapped[str] = mapped_column(String(JID_LENGTH), index=True)
    stanza_id: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(JID_LENGTH))      # real bare JID of who removed it
    author: Mapped[str] = mapped_column(String(JID_LENGTH))     # real bare JID of who wrote it
    moderated: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))               # groupchat | chat
    retraction_id: Mapped[str] = mapped_column(String(255), default="")


class RecallRoom(Base):
    __tablename__ = "recall_rooms"

    room: Mapped[str] = mapped_column(String(JID_LENGTH), primary_key=True)
    #: NULL: the service's default window; 0: no limit; else seconds.
    window_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)


TABLES = ("recall_audit", "recall_rooms")


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: float
    archive: str
    stanza_id: str
    actor: str
    author: str
    moderated: bool
    reason: str
    kind: str
    retraction_id: str


class RecallStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def audit(self, *, at: float, archive: str, stanza_id: str, actor: str, author: str,
                    moderated: bool, reason: str = "", kind: str = "groupchat",
                    retraction_id: str = "") -> str:
        entry_id = new_id(at)
        async with self.db.session() as session:
            session.add(RecallAudit(id=entry_id, at=at, archive=archive, stanza_id=stanza_id, actor=actor,
                                    author=author, moderated=moderated, reason=reason, kind=kind,
                                    retraction_id=retraction_id))
        return entry_id

    async def audit_entries(self, archive: str | None = None, limit: int = 50) -> list[AuditEntry]:
        """Most recent first."""
        query = select(RecallAudit).order_by(RecallAudit.id.desc()).limit(limit)
        if archive is not None:
            query = query.where(RecallAudit.archive == archive)
        async with self.db.session() as session:
            rows = (await session.execute(query)).scalars().all()
        return [AuditEntry(r.id, r.at, r.archive, r.stanza_id, r.actor, r.author, r.moderated, r.reason or "",
                           r.kind, r.retraction_id or "") for r in rows]

    async def room_windows(self) -> dict[str, int | None]:
        async with self.db.session() as session:
            rows = await session.execute(select(RecallRoom.room, RecallRoom.window_seconds))
            return {room: seconds for room, seconds in rows}

    async def set_room_window(self, room: str, seconds: int | None) -> None:
        async with self.db.session() as session:
            if seconds is None:
                await session.execute(delete(RecallRoom).where(RecallRoom.room == room))
                return
            row = await session.get(RecallRoom, room)
            if row is None:
                session.add(RecallRoom(room=room, window_seconds=seconds))
            else:
                row.window_seconds = seconds

    async def forget_room(self, room: str) -> None:
        async with self.db.session() as session:
            await session.execute(delete(RecallRoom).where(RecallRoom.room == room))

    async def checkpoint(self) -> bool:
        """SQLite: fold the WAL into the database and truncate it.

        Frames written before a tombstone still hold the original row; until the
        WAL is truncated, the removed text would survive in the -wal file.
        Returns False when readers kept the checkpoint from completing.
        """
        if not self.db.is_sqlite:
            return True
        async with self.db.engine.connect() as connection:
            row = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
        return row is None or row[0] == 0


_SECURED: "weakref.WeakSet[object]" = weakref.WeakSet()


def enable_secure_delete(db: Database) -> None:
    """SQLite: have every pooled connection zero deleted content (PRAGMA secure_delete).

    Without it, a tombstoned row's old bytes stay in free space of the database
    file. The pragma is per connection, so it is set once on each connection
    as it is first checked out, including those opened before this plugin ran.
    """
    if not db.is_sqlite or db.engine.sync_engine in _SECURED:
        return
    _SECURED.add(db.engine.sync_engine)

    @event.listens_for(db.engine.sync_engine, "checkout")
    def on_checkout(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        if record.info.get("secure_delete"):
            return
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()
        record.info["secure_delete"] = True
