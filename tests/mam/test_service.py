"""The archive service on a real SQLite database: paging, counts, filters, tombstones, purge, retention."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from component.errors import StanzaError
from component.ids import new_id
from component.storage import Database, Migrations
from plugins.mam import service as service_module
from plugins.mam.hooks import ArchiveRecord
from plugins.mam.plugin import MamPlugin
from plugins.mam.service import ArchiveService
from plugins.mam.stanza import QuerySpec
from plugins.mam.store import ArchiveStore

from .. import harness

ROOM = "lounge@rooms.example"
OTHER = "other@rooms.example"
T0 = 1_700_000_000.0
NICKS = ("alice", "bob", "carol")


def message(i: int, room: str = ROOM, nick: str | None = None, body: str | None = None) -> ET.Element:
    nick = nick or NICKS[i % 3]
    elem = ET.Element("{jabber:client}message", {"from": f"{room}/{nick}", "type": "groupchat", "id": f"c{i}"})
    ET.SubElement(elem, "{jabber:client}body").text = body if body is not None else f"message {i}"
    return elem


def record(i: int, room: str = ROOM, ts: float | None = None, **kw) -> ArchiveRecord:
    ts = T0 + i if ts is None else ts
    nick = kw.pop("nick", NICKS[i % 3])
    body = kw.pop("body", None)
    return ArchiveRecord(archive=room, stanza_id=kw.pop("stanza_id", new_id(ts)), timestamp=ts,
                         stanza=kw.pop("stanza", message(i, room, nick, body)), author=f"{nick}@example.org",
                         with_jid=f"{room}/{nick}", occupant_id=f"occ-{nick}", client_id=f"c{i}", **kw)


@pytest.fixture
async def db(tmp_path: Path):
    # SQLite in the test's folder, or a PostgreSQL database when the suite runs on PostgreSQL.
    database = Database(harness.database_url(tmp_path))
    await database.migrate([Migrations("mam", MamPlugin.migrations)])
    yield database
    await database.close()


# On SQLite the archive reads and writes through its own sqlite3 threads; the
# SQLAlchemy path (the only one on PostgreSQL) must give the same answers.
PATHS = ["direct", "sqlalchemy"] if os.environ.get("SWITCHBOARD_TEST_BACKEND", "sqlite") == "sqlite" else ["direct"]


@pytest.fixture(params=PATHS)
async def archive(db: Database, request):
    store = ArchiveStore(db, direct_sqlite=request.param == "direct")
    service = ArchiveService(store, "rooms.example", max_page_size=50)
    yield service
    await service.close()


@pytest.fixture
async def filled(archive: ArchiveService) -> list[ArchiveRecord]:
    records = [record(i) for i in range(230)]
    await archive.store_many(records)
    return records


def ids(page) -> list[str]:
    return [r.stanza_id for r in page.records]


async def test_store_get_count_bounds(archive: ArchiveService):
    first, last = await archive.bounds(ROOM)
    assert first is None and last is None and await archive.count(ROOM) == 0
    records = [record(i) for i in range(3)]
    for r in records:
        await archive.store(r)
    assert await archive.count(ROOM) == 3
    got = await archive.get(ROOM, records[1].stanza_id)
    assert got is not None
    assert got.author == "bob@example.org" and got.with_jid == f"{ROOM}/bob" and got.client_id == "c1"
    assert got.stanza.tag == "{jabber:client}message"
    assert got.stanza.findtext("{jabber:client}body") == "message 1"
    assert got.timestamp == T0 + 1 and got.retracted is False and got.kind == "groupchat"
    assert await archive.get(ROOM, new_id()) is None
    assert await archive.get(OTHER, records[1].stanza_id) is None
    first, last = await archive.bounds(ROOM)
    assert (first.stanza_id, last.stanza_id) == (records[0].stanza_id, records[2].stanza_id)


async def test_forward_paging_exact_pages_complete_and_index(archive, filled):
    expected = [r.stanza_id for r in filled]
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await archive.query(ROOM, QuerySpec(max=50, after=after))
        pages += 1
        assert page.count == 230
        assert page.first_index == len(seen)
        assert ids(page) == expected[len(seen):len(seen) + 50]
        seen += ids(page)
        assert page.complete == (len(seen) == 230)
        if page.complete:
            break
        after = page.last
    assert pages == 5 and seen == expected


async def test_backward_paging_from_the_last_page(archive, filled):
    expected = [r.stanza_id for r in filled]
    collected: list[str] = []
    before = ""
    while True:
        page = await archive.query(ROOM, QuerySpec(max=40, before=before))
        assert page.count == 230
        end = 230 - len(collected)
        assert ids(page) == expected[max(0, end - 40):end]  # chronological within the page
        assert page.first_index == max(0, end - 40)
        collected = ids(page) + collected
        assert page.complete == (len(collected) == 230)
        if page.complete:
            break
        before = page.first
    assert collected == expected


async def test_page_size_default_cap_and_count_only(archive, filled):
    page = await archive.query(ROOM, QuerySpec())
    assert len(page.records) == 50 and not page.complete
    page = await archive.query(ROOM, QuerySpec(max=10_000))
    assert len(page.records) == 50  # capped at the configured page size
    page = await archive.query(ROOM, QuerySpec(max=7), page_size=5)
    assert len(page.records) == 5
    page = await archive.query(ROOM, QuerySpec(max=0))
    assert page.records == [] and page.count == 230 and not page.complete and page.first_index is None
    empty = await archive.query(OTHER, QuerySpec(max=0))
    assert empty.count == 0 and empty.complete


async def test_index_paging(archive, filled):
    page = await archive.query(ROOM, QuerySpec(max=10, index=100))
    assert ids(page) == [r.stanza_id for r in filled[100:110]]
    assert page.first_index == 100


async def test_first_index_in_the_middle_and_far_from_both_ends(archive, filled, monkeypatch):
    page = await archive.query(ROOM, QuerySpec(max=10, after=filled[99].stanza_id))
    assert page.first_index == 100
    page = await archive.query(ROOM, QuerySpec(max=10, before=filled[150].stanza_id))
    assert page.first_index == 140
    # Counting is bounded: near the end it counts the other side, far from both it says nothing.
    monkeypatch.setattr(service_module, "INDEX_COUNT_LIMIT", 30)
    page = await archive.query(ROOM, QuerySpec(max=10, after=filled[209].stanza_id))
    assert page.first_index == 210
    page = await archive.query(ROOM, QuerySpec(max=10, after=filled[99].stanza_id))
    assert page.first_index is None and ids(page) == [r.stanza_id for r in filled[100:110]]


async def test_filters_with_time_and_ids(archive, filled):
    all_ids = [r.stanza_id for r in filled]
    by_bob = [r.stanza_id for r in filled if r.with_jid.endswith("/bob")]
    page = await archive.query(ROOM, QuerySpec(with_jid=f"{ROOM}/bob", max=500), page_size=500)
    assert ids(page) == by_bob and page.count == len(by_bob) and page.complete
    page = await archive.query(ROOM, QuerySpec(with_jid=ROOM, max=500), page_size=500)
    assert ids(page) == all_ids
    # A real JID matches only for requesters allowed to see real JIDs.
    page = await archive.query(ROOM, QuerySpec(with_jid="bob@example.org", max=500), page_size=500)
    assert ids(page) == [] and page.count == 0 and page.complete
    page = await archive.query(ROOM, QuerySpec(with_jid="bob@example.org", max=500), real_jids=True, page_size=500)
    assert ids(page) == by_bob
    # start and end are inclusive.
    page = await archive.query(ROOM, QuerySpec(start=T0 + 10, end=T0 + 19, max=100), page_size=100)
    assert ids(page) == all_ids[10:20] and page.count == 10 and page.first_index == 0
    page = await archive.query(ROOM, QuerySpec(start=T0 + 10.0005, end=T0 + 19.5), page_size=100)
    assert ids(page) == all_ids[11:20]
    page = await archive.query(ROOM, QuerySpec(start=T0 + 100, end=T0 + 50))
    assert ids(page) == [] and page.complete and page.count == 0
    # before-id / after-id are exclusive and combine with RSM.
    page = await archive.query(ROOM, QuerySpec(after_id=all_ids[5], before_id=all_ids[30], max=10))
    assert ids(page) == all_ids[6:16] and page.count == 24 and not page.complete
    page = await archive.query(ROOM, QuerySpec(after_id=all_ids[5], before_id=all_ids[30], max=10,
                                               after=page.last))
    assert ids(page) == all_ids[16:26] and page.first_index == 10
    page = await archive.query(ROOM, QuerySpec(after_id=all_ids[5], before_id=all_ids[30], max=10, before=""))
    assert ids(page) == all_ids[20:30] and page.first_index == 14
    wanted = [all_ids[200], all_ids[3], all_ids[77]]
    page = await archive.query(ROOM, QuerySpec(ids=wanted))
    assert ids(page) == sorted(wanted) and page.count == 3 and page.complete
    # Filters combine: bob's messages in a time window.
    page = await archive.query(ROOM, QuerySpec(with_jid=f"{ROOM}/bob", start=T0, end=T0 + 29))
    assert ids(page) == [i for i in by_bob if i in all_ids[:30]]


@pytest.mark.parametrize("spec", [
    lambda known: QuerySpec(after=new_id()),
    lambda known: QuerySpec(before=new_id()),
    lambda known: QuerySpec(after_id=new_id()),
    lambda known: QuerySpec(before_id="not-an-id"),
    lambda known: QuerySpec(ids=[known, new_id()]),
])
async def test_unknown_ids_are_item_not_found(archive, filled, spec):
    with pytest.raises(StanzaError) as err:
        await archive.query(ROOM, spec(filled[0].stanza_id))
    assert err.value.condition == "item-not-found" and err.value.etype == "cancel"


async def test_ids_of_another_archive_are_unknown(archive, filled):
    await archive.store(record(0, room=OTHER))
    with pytest.raises(StanzaError) as err:
        await archive.query(OTHER, QuerySpec(after=filled[3].stanza_id))
    assert err.value.condition == "item-not-found"


async def test_stored_form_is_sanitized_and_the_original_untouched(archive):
    elem = message(1)
    elem.set("to", "alice@example.org/phone")
    ET.SubElement(ET.SubElement(elem, "{http://jabber.org/protocol/muc#user}x"),
                  "{http://jabber.org/protocol/muc#user}item", {"jid": "forged@evil.example"})
    ET.SubElement(elem, "{jabber:component:accept}subject").text = "a < b & \"c\""
    r = record(1, stanza=elem)
    await archive.store(r)
    assert elem.get("to") and len(elem) == 3  # the caller's element is left as it was
    page = await archive.query(ROOM, QuerySpec())
    xml = page.records[0].stanza
    assert 'to="' not in xml and "forged" not in xml
    assert xml.startswith('<message xmlns="jabber:client"')
    assert "<subject>a &lt; b &amp; \"c\"</subject>" in xml
    parsed = ET.fromstring(xml)
    assert parsed.findtext("{jabber:client}subject") == 'a < b & "c"'
    # 1:1 messages keep their addressing and invitations.
    chat = ET.fromstring('<message to="bob@example.org" from="t-1@support.example" type="chat">'
                         '<body>hi</body><x xmlns="http://jabber.org/protocol/muc#user"/></message>')
    await archive.store(ArchiveRecord("t-1@support.example", new_id(), T0, chat, kind="chat",
                                      with_jid="bob@example.org"))
    stored = (await archive.query("t-1@support.example", QuerySpec())).records[0].stanza
    assert 'to="bob@example.org"' in stored and "muc#user" in stored
    assert 'xmlns="jabber:client"' in stored


async def test_store_accepts_serialized_xml(archive):
    await archive.store(ArchiveRecord("t-2@support.example", new_id(), T0,
                                      "<message from='t-2@support.example' type='chat'><body>x&amp;y</body></message>",
                                      kind="chat"))
    got = (await archive.history("t-2@support.example", maxstanzas=5))[0][0]
    assert got.tag == "{jabber:client}message" and got.findtext("{jabber:client}body") == "x&y"


@pytest.mark.parametrize("bad", [
    dict(stanza_id="0123"), dict(stanza_id=new_id().lower()), dict(archive=ROOM + "/nick"),
    dict(kind="headline"), dict(stanza="<presence/>"), dict(stanza="<message><body>"),
])
async def test_store_refuses_bad_records(archive, bad):
    r = record(1)
    for key, value in bad.items():
        setattr(r, key, value)
    with pytest.raises((ValueError, ET.ParseError)):
        await archive.store(r)
    assert await archive.count(ROOM) == 0


async def test_group_commit_batches_and_isolates_failures(archive):
    records = [record(i) for i in range(200)]
    await asyncio.gather(*(archive.store(r) for r in records))
    assert await archive.count(ROOM) == 200
    assert archive._writer.batches < 50  # concurrent writers share transactions
    duplicate = record(500, stanza_id=records[7].stanza_id)
    fresh = [record(300 + i) for i in range(5)]
    results = await asyncio.gather(archive.store(duplicate), *(archive.store(r) for r in fresh),
                                   return_exceptions=True)
    assert isinstance(results[0], Exception)
    assert results[1:] == [None] * 5
    assert await archive.count(ROOM) == 205
    # store_many is all or nothing.
    with pytest.raises(Exception):
        await archive.store_many([record(600), record(601, stanza_id=records[0].stanza_id)])
    assert await archive.count(ROOM) == 205


async def test_find_by_origin_id(archive):
    a = record(1, origin_id="o-1")
    b = record(2, origin_id="o-2")
    await archive.store_many([a, b])
    found = await archive.find_by_origin_id(ROOM, b.author, "o-2")
    assert found is not None and found.stanza_id == b.stanza_id
    assert await archive.find_by_origin_id(ROOM, a.author, "o-2") is None  # someone else's
    assert await archive.find_by_origin_id(ROOM, a.author, "") is None
    anyone = await archive.find_by_origin_id(ROOM, None, "o-2")  # whoever wrote it
    assert anyone is not None and anyone.stanza_id == b.stanza_id
    assert await archive.find_by_origin_id(OTHER, None, "o-2") is None
    assert await archive.find_by_origin_id(ROOM, None, "") is None


async def test_tombstone_removes_content_for_good(archive, db, tmp_path):
    secret = "the-secret-body-1234"
    # Long enough to spill into overflow pages, which a plain delete leaves on the free list.
    records = [record(i, body=(secret + " ") * 600 if i == 4 else None) for i in range(10)]
    await archive.store_many(records)
    target = records[4]
    retracted = ET.Element("{urn:xmpp:message-retract:1}retracted", {"id": "R1", "stamp": "2024-01-01T00:00:00Z"})
    assert await archive.tombstone(ROOM, target.stanza_id, retracted)
    assert not await archive.tombstone(ROOM, new_id(), retracted)
    got = await archive.get(ROOM, target.stanza_id)
    assert got.retracted
    assert [c.tag for c in got.stanza] == ["{urn:xmpp:message-retract:1}retracted"]
    assert got.stanza.get("from") == f"{ROOM}/bob" and got.stanza.get("id") == "c4"
    assert got.stanza.get("type") == "groupchat"
    page = await archive.query(ROOM, QuerySpec())
    assert len(page.records) == 10 and secret not in "".join(r.stanza for r in page.records)
    if not db.is_sqlite:
        return  # the file-level check below is about SQLite's free space
    # Nothing of the text is left in the database file.
    await db.close()
    path = tmp_path / "switchboard.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = path.read_bytes() + (path.with_name("switchboard.db-wal").read_bytes()
                               if path.with_name("switchboard.db-wal").exists() else b"")
    assert secret.encode() not in raw


async def test_purge_and_delete_archive(archive, filled):
    await archive.store_many([record(i, room=OTHER) for i in range(5)])
    removed = await archive.purge(ROOM, before=T0 + 20)
    assert removed == 20 and await archive.count(ROOM) == 210
    first, _ = await archive.bounds(ROOM)
    assert first.stanza_id == filled[20].stanza_id
    removed = await archive.purge(ROOM, author="alice@example.org")
    assert removed == len([r for r in filled[20:] if r.author == "alice@example.org"])
    assert await archive.count(ROOM) == 210 - removed
    page = await archive.query(ROOM, QuerySpec(max=0))
    assert page.count == await archive.count(ROOM)
    assert await archive.delete_archive(ROOM) == 210 - removed
    assert await archive.count(ROOM) == 0 and await archive.count(OTHER) == 5


async def test_purge_in_chunks(archive, filled, monkeypatch):
    store = archive.backend
    original = store.delete_range

    async def small_chunks(*args, **kwargs):
        kwargs["chunk"] = 17
        return await original(*args, **kwargs)

    monkeypatch.setattr(store, "delete_range", small_chunks)
    assert await archive.purge(ROOM) == 230
    assert await archive.count(ROOM) == 0


async def test_retention_global_and_per_archive(db):
    svc = ArchiveService(ArchiveStore(db), "rooms.example", retention_days=10)
    now = T0 + 30 * 86400
    day = 86400
    await svc.store_many([record(i, ts=now - (29 - i) * day) for i in range(30)])  # one a day
    await svc.store_many([record(i, room=OTHER, ts=now - (29 - i) * day) for i in range(30)])
    foreign = "room@elsewhere.example"
    await svc.store_many([record(i, room=foreign, ts=now - (29 - i) * day) for i in range(30)])
    await svc.set_policy(OTHER, retention_days=0, max_messages=12)
    assert await svc.policy(OTHER) == (0, 12) and await svc.policy(ROOM) == (10, 0)
    removed = await svc.apply_retention(now=now)
    assert await svc.count(ROOM) == 11  # days 0..10 ago (inclusive of the boundary instant)
    assert await svc.count(OTHER) == 12  # count limit only, newest kept
    assert await svc.count(foreign) == 30  # another service's archive
    assert removed == 19 + 18
    first, last = await svc.bounds(OTHER)
    assert last.timestamp == now and first.timestamp == now - 11 * day
    with pytest.raises(ValueError):
        await svc.set_policy(ROOM, retention_days=-1)
    # On demand, for one archive.
    await svc.set_policy(ROOM, max_messages=3)
    assert await svc.apply_retention(ROOM, now=now) == 8
    assert await svc.count(ROOM) == 3
    await svc.close()


async def test_history_limits(archive, filled):
    items = await archive.history(ROOM, maxstanzas=5)
    assert [e.get("id") for e, _ in items] == [f"c{i}" for i in range(225, 230)]
    assert [ts for _, ts in items] == [T0 + i for i in range(225, 230)]
    assert await archive.history(ROOM, maxstanzas=0) == []
    size = len(ET.tostring(items[-1][0]))
    few = await archive.history(ROOM, maxstanzas=20, maxchars=int(size * 2.5))
    assert 1 <= len(few) <= 3 and few[-1][0].get("id") == "c229"
    since = await archive.history(ROOM, maxstanzas=100, since=T0 + 220)
    assert [e.get("id") for e, _ in since] == [f"c{i}" for i in range(220, 230)]
    until = await archive.history(ROOM, maxstanzas=3, until=T0 + 100)  # archived at or before
    assert [e.get("id") for e, _ in until] == ["c98", "c99", "c100"]
    assert len(await archive.history(ROOM, maxstanzas=None)) == 230
    component = await archive.history(ROOM, maxstanzas=1, namespace="jabber:component:accept")
    assert component[0][0].tag == "{jabber:component:accept}message"
    assert component[0][0].find("{jabber:component:accept}body") is not None
    recent = await archive.history(ROOM, maxstanzas=10, seconds=60)
    assert recent == []  # everything is from 2023
