"""Storage of persistent rooms: configuration, affiliations and subject (never messages).

Only persistent rooms are written, and only when something durable changes
(configuration, an affiliation, the subject): nothing per message.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from sqlalchemy import Float, LargeBinary, String, Text, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from component.storage import Base, Database


class MucRoom(Base):
    __tablename__ = "muc_rooms"

    jid: Mapped[str] = mapped_column(String(3071), primary_key=True)
    config: Mapped[str] = mapped_column(Text)  # JSON of RoomConfig
    subject: Mapped[str] = mapped_column(Text, default="")
    subject_nick: Mapped[str] = mapped_column(String(1023), default="")
    subject_occupant_id: Mapped[str] = mapped_column(String(64), default="")
    subject_time: Mapped[float] = mapped_column(Float, default=0.0)
    created: Mapped[float] = mapped_column(Float, default=0.0)


class MucAffiliation(Base):
    __tablename__ = "muc_affiliations"

    room: Mapped[str] = mapped_column(String(3071), primary_key=True)
    jid: Mapped[str] = mapped_column(String(3071), primary_key=True)
    affiliation: Mapped[str] = mapped_column(String(16))
    nick: Mapped[str] = mapped_column(String(1023), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class MucSetting(Base):
    __tablename__ = "muc_settings"

    domain: Mapped[str] = mapped_column(String(1023), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MucAvatar(Base):
    """A room's avatar (vcard-temp PHOTO set by an owner), kept while the room exists."""

    __tablename__ = "muc_avatars"

    room: Mapped[str] = mapped_column(String(3071), primary_key=True)
    mime: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha1: Mapped[str] = mapped_column(String(40))


class MucHat(Base):
    """A hat (XEP-0317) a room's owner or admin gave someone."""

    __tablename__ = "muc_hats"

    room: Mapped[str] = mapped_column(String(3071), primary_key=True)
    jid: Mapped[str] = mapped_column(String(3071), primary_key=True)
    uri: Mapped[str] = mapped_column(String(1023), primary_key=True)
    title: Mapped[str] = mapped_column(String(1023), default="")


TABLES = ("muc_rooms", "muc_affiliations", "muc_settings")
#: Added after the first release: created by its own migration step.
AVATAR_TABLES = ("muc_avatars",)
HAT_TABLES = ("muc_hats",)


@dataclass
class StoredRoom:
    jid: str
    config: dict[str, Any]
    subject: str = ""
    subject_nick: str = ""
    subject_occupant_id: str = ""
    subject_time: float = 0.0
    created: float = 0.0
    #: bare JID -> (affiliation, reserved nick, reason)
    affiliations: dict[str, tuple[str, str, str]] = field(default_factory=dict)


#: Told, inside each write's transaction, which room changed (other processes reload it).
Changed = Callable[[Any, str], Awaitable[None]]


async def _nobody(_session: Any, _room: str) -> None:
    return None


class MucStore:
    def __init__(self, db: Database, domain: str, changed: Changed = _nobody) -> None:
        self.db = db
        self.domain = domain
        self.changed = changed

    def _in_domain(self, column: Any) -> Any:
        return column.like(f"%@{self.domain}")

    async def load_rooms(self, jid: str | None = None) -> list[StoredRoom]:
        """Every room of the domain, or only ``jid`` (an empty list when it is not stored)."""
        rooms_of = self._in_domain(MucRoom.jid) if jid is None else MucRoom.jid == jid
        affiliations_of = self._in_domain(MucAffiliation.room) if jid is None else MucAffiliation.room == jid
        async with self.db.session() as session:
            rooms = {row.jid: StoredRoom(row.jid, json.loads(row.config), row.subject or "", row.subject_nick or "",
                                         row.subject_occupant_id or "", row.subject_time or 0.0, row.created or 0.0)
                     for row in (await session.scalars(select(MucRoom).where(rooms_of)))}
            for row in await session.scalars(select(MucAffiliation).where(affiliations_of)):
                if row.room in rooms:
                    rooms[row.room].affiliations[row.jid] = (row.affiliation, row.nick or "", row.reason or "")
        return list(rooms.values())

    # Every write transaction starts with a write: a SQLite transaction that begins by reading
    # cannot take the write lock while another connection holds it, and fails at once instead of waiting.
    async def save_room(self, room: StoredRoom) -> None:
        """Write the whole room (config, subject, affiliations)."""
        async with self.db.session() as session:
            await session.execute(delete(MucAffiliation).where(MucAffiliation.room == room.jid))
            await session.execute(delete(MucRoom).where(MucRoom.jid == room.jid))
            session.add(MucRoom(jid=room.jid, config=json.dumps(room.config), subject=room.subject,
                                subject_nick=room.subject_nick, subject_occupant_id=room.subject_occupant_id,
                                subject_time=room.subject_time, created=room.created))
            for jid, (affiliation, nick, reason) in room.affiliations.items():
                session.add(MucAffiliation(room=room.jid, jid=jid, affiliation=affiliation, nick=nick, reason=reason))
            await self.changed(session, room.jid)

    async def save_config(self, jid: str, config: dict[str, Any]) -> None:
        async with self.db.session() as session:
            await session.execute(update(MucRoom).where(MucRoom.jid == jid).values(config=json.dumps(config)))
            await self.changed(session, jid)

    async def save_subject(self, jid: str, subject: str, nick: str, occupant_id: str, when: float) -> None:
        async with self.db.session() as session:
            await session.execute(update(MucRoom).where(MucRoom.jid == jid).values(
                subject=subject, subject_nick=nick, subject_occupant_id=occupant_id, subject_time=when))
            await self.changed(session, jid)

    async def save_affiliation(self, room: str, jid: str, affiliation: str, nick: str = "",
                               reason: str = "") -> None:
        async with self.db.session() as session:
            await session.execute(delete(MucAffiliation).where(MucAffiliation.room == room,
                                                               MucAffiliation.jid == jid))
            if affiliation != "none" and await session.get(MucRoom, room) is not None:
                session.add(MucAffiliation(room=room, jid=jid, affiliation=affiliation, nick=nick, reason=reason))
            await self.changed(session, room)

    async def delete_room(self, jid: str, temporary: dict[str, Any] | None = None) -> None:
        """Destroyed, or (``temporary``: its new configuration) kept only while occupied."""
        async with self.db.session() as session:
            await session.execute(delete(MucAffiliation).where(MucAffiliation.room == jid))
            await session.execute(delete(MucRoom).where(MucRoom.jid == jid))
            await self.changed(session, jid if temporary is None else f"{jid} {json.dumps(temporary)}")

    async def avatar_hashes(self) -> dict[str, str]:
        async with self.db.session() as session:
            rows = await session.execute(select(MucAvatar.room, MucAvatar.sha1).where(self._in_domain(MucAvatar.room)))
            return {room: sha1 for room, sha1 in rows}

    async def avatar(self, room: str) -> tuple[str, bytes] | None:
        async with self.db.session() as session:
            row = await session.get(MucAvatar, room)
            return (row.mime, row.data) if row is not None else None

    async def save_avatar(self, room: str, mime: str, data: bytes, sha1: str) -> None:
        async with self.db.session() as session:
            await session.execute(delete(MucAvatar).where(MucAvatar.room == room))
            session.add(MucAvatar(room=room, mime=mime, data=data, sha1=sha1))

    async def delete_avatar(self, room: str) -> None:
        async with self.db.session() as session:
            await session.execute(delete(MucAvatar).where(MucAvatar.room == room))

    async def hats(self) -> list[tuple[str, str, str, str]]:
        """(room, bare JID, uri, title) of every hat of the domain's rooms."""
        async with self.db.session() as session:
            rows = await session.execute(select(MucHat.room, MucHat.jid, MucHat.uri, MucHat.title)
                                         .where(self._in_domain(MucHat.room)))
            return [tuple(row) for row in rows]  # type: ignore[misc]

    async def save_hat(self, room: str, jid: str, uri: str, title: str) -> None:
        async with self.db.session() as session:
            await session.execute(delete(MucHat).where(MucHat.room == room, MucHat.jid == jid, MucHat.uri == uri))
            session.add(MucHat(room=room, jid=jid, uri=uri, title=title))

    async def delete_hats(self, room: str, jid: str | None = None, uri: str | None = None) -> None:
        query = delete(MucHat).where(MucHat.room == room)
        if jid is not None:
            query = query.where(MucHat.jid == jid)
        if uri is not None:
            query = query.where(MucHat.uri == uri)
        async with self.db.session() as session:
            await session.execute(query)

    async def secret(self, name: str = "occupant-id") -> str:
        """A per-domain secret, made once (occupant ids stay stable across restarts)."""
        async with self.db.session() as session:
            row = await session.get(MucSetting, (self.domain, name))
            if row is not None:
                return row.value
        try:
            async with self.db.session() as session:
                session.add(MucSetting(domain=self.domain, name=name, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another process made it first: use theirs
        async with self.db.session() as session:
            row = await session.get(MucSetting, (self.domain, name))
            assert row is not None
            return row.value
