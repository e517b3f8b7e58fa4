"""Helpers for the recall tests in rooms: join, send, wait for reflections, read the database."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from pathlib import Path
from typing import Any, AsyncIterator
from xml.etree.ElementTree import Element

from slixmpp import JID

from .. import harness

DOMAIN = "rooms.localhost"
CLIENT_PLUGINS = ("xep_0045", "xep_0359", "xep_0424", "xep_0425", "xep_0313")

NS_RETRACT = "urn:xmpp:message-retract:1"
NS_SID = "urn:xmpp:sid:0"


def services(window_seconds: int = 0, archiving: str = "on", **recall: Any) -> dict[str, dict[str, dict]]:
    # Instant, archived rooms: the first to join owns the room and others may enter at once.
    muc = {"lock_new_rooms": False, "default_archiving": archiving}
    return {DOMAIN: {"muc": muc, "mam": {}, "recall": {"window_seconds": window_seconds, **recall}}}


def new_room() -> str:
    return f"r-{uuid.uuid4().hex[:10]}@{DOMAIN}"


class Member:
    """One logged-in user in one room, with an inbox of everything it receives."""

    def __init__(self, client: Any, room: str, nick: str) -> None:
        self.client = client
        self.room = room
        self.nick = nick
        self.inbox = harness.Inbox(client, kinds=("message",))

    @property
    def bare(self) -> str:
        return self.client.boundjid.bare

    def send_raw_message(self, inner: str, *, mid: str | None = None, lang: str = "") -> str:
        mid = mid or uuid.uuid4().hex
        lang_attr = f" xml:lang='{lang}'" if lang else ""
        self.client.send_raw(f"<message xmlns='jabber:client' to='{self.room}' type='groupchat' id='{mid}'"
                             f"{lang_attr}>{inner}</message>")
        return mid

    async def say(self, body: str, *, origin_id: str = "", extra: str = "") -> tuple[str, str]:
        """Send a groupchat message; returns (client id, the room's stanza-id) from the reflection."""
        origin = f"<origin-id xmlns='{NS_SID}' id='{origin_id}'/>" if origin_id else ""
        mid = self.send_raw_message(f"<body>{body}</body>{origin}{extra}")
        reflection = await self.inbox.next(lambda m: m["type"] == "groupchat" and m["id"] == mid)
        return mid, stanza_id(reflection, self.room)

    async def groupchat(self, predicate: Any = lambda m: True, timeout: float = 10) -> Any:
        return await self.inbox.next(lambda m: m["type"] == "groupchat" and predicate(m), timeout)

    async def error(self, mid: str, timeout: float = 10) -> Any:
        return await self.inbox.next(lambda m: m["type"] == "error" and m["id"] == mid, timeout)

    def forget(self) -> None:
        """Drop what was received so far (then quiet_groupchat() checks only what follows)."""
        self.inbox.items.clear()

    async def quiet_groupchat(self, wait: float = 0.5) -> None:
        await self.inbox.quiet(lambda m: m["type"] == "groupchat", wait)


def stanza_id(message: Any, room: str) -> str:
    for element in message.xml.findall(f"{{{NS_SID}}}stanza-id"):
        if element.get("by") == room:
            return element.get("id")
    raise AssertionError(f"no stanza-id by {room} in {message}")


def retract_of(message: Any) -> Element | None:
    return message.xml.find(f"{{{NS_RETRACT}}}retract")


@contextlib.asynccontextmanager
async def member(port: int, user: str, room: str, nick: str | None = None, more_plugins: tuple[str, ...] = (),
                 **join: Any) -> AsyncIterator[Member]:
    async with harness.slix_client(port, user, plugins=CLIENT_PLUGINS + more_plugins) as client:
        join.setdefault("maxstanzas", 0)
        joined = Member(client, room, nick or user)  # its inbox sees the history too
        await client.plugin["xep_0045"].join_muc_wait(JID(room), nick or user, timeout=10, **join)
        yield joined


def history_of(joined: Member) -> list[Any]:
    """The history messages received on join (slixmpp's own join result skips those without a body)."""
    return [m for m in joined.inbox.items if m["type"] == "groupchat"
            and any(d.get("from") == joined.room for d in m.xml.findall("{urn:xmpp:delay}delay"))]


async def mam_messages(client: Any, room: str) -> list[Any]:
    """Every archived message of the room, oldest first, as the forwarded <message/> elements."""
    result = await client.plugin["xep_0313"].retrieve(jid=JID(room), rsm={"max": 200}, timeout=10)
    found = []
    for message in result["mam"]["results"]:
        forwarded = message.xml.find("{urn:xmpp:mam:2}result/{urn:xmpp:forward:0}forwarded")
        inner = [child for child in forwarded if child.tag.endswith("}message")][0]
        found.append((message.xml.find("{urn:xmpp:mam:2}result").get("id"), inner))
    return found


def database_file(tmp_path: Path) -> Path:
    return tmp_path / "switchboard.db"


async def sql_trace(db: Any, needle: str) -> list[str]:
    """Every column of every table holding ``needle``, through SQL (SQLite or PostgreSQL)."""
    from sqlalchemy import inspect, text

    def tables(connection: Any) -> dict[str, list[str]]:
        inspector = inspect(connection)
        return {name: [column["name"] for column in inspector.get_columns(name)]
                for name in inspector.get_table_names()}

    places = []
    async with db.engine.connect() as connection:
        for table, columns in (await connection.run_sync(tables)).items():
            for column in columns:
                hits = (await connection.execute(
                    text(f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE :needle'),
                    {"needle": f"%{needle}%"})).scalar()
                if hits:
                    places.append(f"{table}.{column}")
    return places


def database_trace(path: Path, needle: str) -> list[str]:
    """Where ``needle`` occurs: every text/blob cell of every table, and the raw bytes of the files."""
    places = []
    connection = sqlite3.connect(path)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                hits = connection.execute(
                    f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS BLOB) LIKE ?',
                    (f"%{needle}%",)).fetchone()[0]
                if hits:
                    places.append(f"{table}.{column}")
    finally:
        connection.close()
    raw = needle.encode("utf-8")
    for suffix in ("", "-wal", "-journal"):
        file = Path(str(path) + suffix)
        if file.exists() and raw in file.read_bytes():
            places.append(f"file{suffix or ' (main)'}")
    return places
