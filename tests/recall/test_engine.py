"""The recall engine on a real SQLite database, with a stand-in archive.

The archive here is a small in-memory double of the archive's public service
(get / find_by_origin_id / tombstone): these tests are about the engine's
decisions, events, audit trail and storage hygiene. The real archive is
exercised end to end in test_rooms.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from sqlalchemy import text as sql

from component.errors import StanzaError
from component.hooks import HookBus
from component.ids import new_id
from component.storage import Database, Migrations
from plugins.mam.hooks import ArchiveRecord
from plugins.recall import PLUGIN
from plugins.recall.engine import Recall
from plugins.recall.hooks import RETRACTED, Retracted
from plugins.recall.service import Actor
from plugins.recall.store import RecallStore, enable_secure_delete

ROOM = "room@rooms.localhost"
NOW = 1_700_000_000.0


class FakeArchive:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], ArchiveRecord] = {}
        self.tombstoned: list[tuple[str, str, Element]] = []

    def add(self, author: str, body: str = "hello", at: float = NOW - 10, origin_id: str = "",
            stanza: str | None = None, occupant_id: str = "") -> ArchiveRecord:
        stanza_id = new_id(at)
        xml = stanza or f"<message xmlns='jabber:component:accept' type='groupchat'><body>{body}</body></message>"
        record = ArchiveRecord(archive=ROOM, stanza_id=stanza_id, timestamp=at, stanza=xml, author=author,
                               occupant_id=occupant_id or f"occ-{author}", origin_id=origin_id)
        self.records[(ROOM, stanza_id)] = record
        return record

    async def get(self, archive: str, stanza_id: str) -> ArchiveRecord | None:
        return self.records.get((archive, stanza_id))

    async def find_by_origin_id(self, archive: str, author: str, origin_id: str) -> ArchiveRecord | None:
        for record in self.records.values():
            if record.archive == archive and record.author == author and record.origin_id == origin_id:
                return record
        return None

    async def tombstone(self, archive: str, stanza_id: str, tombstone: Element, *also: Element) -> bool:
        record = self.records.get((archive, stanza_id))
        if record is None:
            return False
        self.records[(archive, stanza_id)] = dataclasses.replace(record, stanza="<tombstone/>", retracted=True)
        self.tombstoned.append((archive, stanza_id, tombstone))
        return True


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'recall.db'}")
    await database.migrate([Migrations(PLUGIN.name, PLUGIN.migrations)])
    yield database
    await database.close()


@pytest.fixture
def archive() -> FakeArchive:
    return FakeArchive()


@pytest.fixture
def hooks(archive: FakeArchive) -> HookBus:
    bus = HookBus()
    bus.provide("archive", archive)
    return bus


@pytest.fixture
async def recall(db: Database, hooks: HookBus):
    engine = Recall(hooks, RecallStore(db), window_seconds=120)
    yield engine
    await engine.flush()


async def audit_rows(db: Database) -> list[dict]:
    async with db.engine.connect() as connection:
        result = await connection.execute(sql("SELECT * FROM recall_audit ORDER BY id"))
        return [dict(row._mapping) for row in result]


async def test_self_retraction_tombstones_through_the_archive_and_audits(recall, archive, db):
    original = archive.add("alice@localhost", "typo!")
    removal = await recall.retract_own(ROOM, original.stanza_id, Actor("alice@localhost", "occ-alice@localhost"),
                                       window=120, retraction_id="RID", tombstone_id="client-r1", now=NOW)
    assert removal.record.stanza_id == original.stanza_id and not removal.moderated
    [(where, sid, tomb)] = archive.tombstoned
    assert (where, sid) == (ROOM, original.stanza_id)
    assert tomb.tag == "{urn:xmpp:message-retract:1}retracted" and tomb.get("id") == "client-r1"
    [row] = await audit_rows(db)
    assert (row["archive"], row["stanza_id"], row["actor"], row["author"], row["moderated"], row["kind"],
            row["retraction_id"]) == (ROOM, original.stanza_id, "alice@localhost", "alice@localhost", 0,
                                      "groupchat", "RID")
    assert "typo" not in repr(row)


async def test_the_event_lets_the_archive_tombstone_first(recall, archive, hooks):
    seen: list[Retracted] = []

    async def archive_handler(event: Retracted):
        seen.append(event)
        return True  # the archive did it

    hooks.on(RETRACTED, archive_handler)
    original = archive.add("alice@localhost")
    await recall.retract_own(ROOM, original.stanza_id, Actor("alice@localhost"), window=None,
                             retraction_id="RID", now=NOW)
    [event] = seen
    assert (event.archive, event.stanza_id, event.by, event.moderated, event.retraction_id, event.author,
            event.kind) == (ROOM, original.stanza_id, "alice@localhost", False, "RID", "alice@localhost", "groupchat")
    assert event.tombstone.tag == "{urn:xmpp:message-retract:1}retracted"
    assert archive.tombstoned == []  # not done twice


async def test_origin_id_reference_is_scoped_to_the_author(recall, archive):
    mine = archive.add("alice@localhost", origin_id="o-1")
    archive.add("bob@localhost", origin_id="o-2")
    removal = await recall.retract_own(ROOM, "o-1", Actor("alice@localhost"), window=None, now=NOW)
    assert removal.record.stanza_id == mine.stanza_id
    # Bob's origin-id is not found for Alice: unknown, not forbidden (no probing others' ids).
    with pytest.raises(StanzaError) as err:
        await recall.retract_own(ROOM, "o-2", Actor("alice@localhost"), window=None, now=NOW)
    assert err.value.condition == "item-not-found"


@pytest.mark.parametrize("case,condition", [
    ("unknown", "item-not-found"), ("other", "forbidden"), ("late", "not-allowed"),
    ("retraction", "not-allowed")])
async def test_refusals_change_nothing(recall, archive, db, case, condition):
    if case == "unknown":
        target = "no-such-id"
    elif case == "other":
        target = archive.add("bob@localhost").stanza_id
    elif case == "late":
        target = archive.add("alice@localhost", at=NOW - 121).stanza_id
    else:
        target = archive.add("alice@localhost", stanza=(
            "<message xmlns='jabber:component:accept'><retract xmlns='urn:xmpp:message-retract:1' id='x'/>"
            "</message>")).stanza_id
    before = dict(archive.records)
    with pytest.raises(StanzaError) as err:
        await recall.retract_own(ROOM, target, Actor("alice@localhost", "occ-alice@localhost"), window=120, now=NOW)
    assert err.value.condition == condition
    assert archive.records == before and archive.tombstoned == []
    assert await audit_rows(db) == []


async def test_second_retraction_of_the_same_message_is_refused(recall, archive):
    original = archive.add("alice@localhost")
    actor = Actor("alice@localhost")
    results = await asyncio.gather(
        *(recall.retract_own(ROOM, original.stanza_id, actor, window=None, now=NOW) for _ in range(3)),
        return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1
    assert sorted(r.condition for r in results if isinstance(r, StanzaError)) == ["not-allowed", "not-allowed"]
    assert len(archive.tombstoned) == 1


async def test_archive_losing_the_row_is_item_not_found_and_not_audited(recall, archive, db):
    original = archive.add("alice@localhost")

    async def vanish(archive_jid, stanza_id, tombstone, *also):
        return False

    archive.tombstone = vanish  # type: ignore[method-assign]
    with pytest.raises(StanzaError) as err:
        await recall.retract_own(ROOM, original.stanza_id, Actor("alice@localhost"), window=None, now=NOW)
    assert err.value.condition == "item-not-found"
    assert await audit_rows(db) == []


async def test_moderation_audit_keeps_the_reason_not_the_content(recall, archive, db):
    spam = archive.add("bob@localhost", "BUY CHEAP PILLS")
    removal = await recall.moderate(ROOM, spam.stanza_id, Actor("carol@localhost", moderator=True),
                                    by=f"{ROOM}/carol", moderator_occupant_id="occ-carol", reason="spam", now=NOW)
    assert removal.moderated and removal.reason == "spam"
    [(_, _, tomb)] = archive.tombstoned
    assert tomb.find("{urn:xmpp:message-moderate:1}moderated").get("by") == f"{ROOM}/carol"
    [row] = await audit_rows(db)
    assert (row["actor"], row["author"], row["moderated"], row["reason"]) == (
        "carol@localhost", "bob@localhost", 1, "spam")
    assert "PILLS" not in repr(row)


async def test_moderation_needs_the_role(recall, archive):
    spam = archive.add("bob@localhost")
    with pytest.raises(StanzaError) as err:
        await recall.moderate(ROOM, spam.stanza_id, Actor("dave@localhost"), by="x", now=NOW)
    assert err.value.condition == "forbidden"
    assert archive.tombstoned == []


async def test_direct_retraction_uses_the_service_window(recall, archive, db):
    old = archive.add("cust1@localhost", at=NOW - 500)
    fresh = archive.add("cust1@localhost", at=NOW - 5, origin_id="client-7")
    with pytest.raises(StanzaError) as err:
        await recall.retract_direct(ROOM, old.stanza_id, "cust1@localhost", now=NOW)
    assert err.value.condition == "not-allowed"
    removal = await recall.retract_direct(ROOM, "client-7", "cust1@localhost", now=NOW, retraction_id="r-9")
    assert removal.record.stanza_id == fresh.stanza_id
    assert removal.tombstone.get("id") == "r-9"  # the retraction message's id pairs it with the tombstone
    payload = removal.retract_payload("client-7", "retracted")
    assert payload[0].tag == "{urn:xmpp:message-retract:1}retract" and payload[0].get("id") == "client-7"
    # An explicit window overrides the service's.
    await recall.retract_direct(ROOM, old.stanza_id, "cust1@localhost", window=None, now=NOW)
    kinds = [row["kind"] for row in await audit_rows(db)]
    assert kinds == ["chat", "chat"]


async def test_direct_moderation(recall, archive, db):
    message = archive.add("cust1@localhost")
    removal = await recall.moderate_direct(ROOM, message.stanza_id, "super@localhost", reason="abuse", now=NOW)
    assert removal.moderated and removal.by == "super@localhost"
    assert [row["moderated"] for row in await audit_rows(db)] == [1]


async def test_room_windows_persist_and_fall_back_to_the_service(db, hooks):
    store = RecallStore(db)
    recall = Recall(hooks, store, window_seconds=120)
    assert recall.window_for(ROOM) == 120
    await recall.set_room_window(ROOM, 0)
    assert recall.window_for(ROOM) is None
    await recall.set_room_window("other@rooms.localhost", 600)
    reloaded = Recall(hooks, store, 120, await store.room_windows())
    assert reloaded.window_for(ROOM) is None and reloaded.window_for("other@rooms.localhost") == 600
    await reloaded.set_room_window(ROOM, None)
    await reloaded.forget_room("other@rooms.localhost")
    assert await store.room_windows() == {}
    assert reloaded.window_for(ROOM) == 120


async def test_audit_listing(recall, archive):
    for _ in range(3):
        await recall.retract_own(ROOM, archive.add("alice@localhost").stanza_id, Actor("alice@localhost"),
                                 window=None, now=NOW)
    entries = await recall.store.audit_entries(ROOM, limit=2)
    assert len(entries) == 2 and entries[0].id > entries[1].id
    assert await recall.store.audit_entries("other@rooms.localhost") == []


async def test_secure_delete_is_on_for_every_connection(db):
    # Some SQLite builds default to ON; a connection opened before the plugin
    # runs, with the pragma off, must be switched on too.
    async with db.session() as session:
        await session.execute(sql("PRAGMA secure_delete=0"))
        assert (await session.execute(sql("PRAGMA secure_delete"))).scalar() == 0
    enable_secure_delete(db)
    enable_secure_delete(db)  # idempotent
    sessions = [db.session() for _ in range(3)]
    opened = [await s.__aenter__() for s in sessions]
    try:
        for session in opened:
            assert (await session.execute(sql("PRAGMA secure_delete"))).scalar() == 1
    finally:
        for s in reversed(sessions):
            await s.__aexit__(None, None, None)


async def test_checkpoint_truncates_the_wal(recall, archive, db, tmp_path):
    wal = tmp_path / "recall.db-wal"
    await recall.retract_own(ROOM, archive.add("alice@localhost").stanza_id, Actor("alice@localhost"),
                             window=None, now=NOW)
    await recall.flush()
    assert wal.exists() and wal.stat().st_size == 0

