"""Unit tests of the core: hook bus, plugin resolution, migrations, ids, forms."""

from __future__ import annotations

import random
import sys
import types
from dataclasses import dataclass

import pytest
from sqlalchemy import inspect as sa_inspect, text

from component.config import ConfigError, doc
from component.errors import GONE_CONDITIONS, means_gone
from component.forms import new_form, result_form, values
from component.hooks import HookBus
from component.ids import new_id, timestamp_of
from component.plugin import Plugin, resolve
from component.storage import Database, Migrations


async def test_hooks_run_by_priority_and_first_result_wins():
    bus = HookBus()
    calls = []

    def low(x):
        calls.append("low")
        return "low"

    async def high(x):
        calls.append("high")
        return None

    async def middle(x):
        calls.append("middle")
        return f"middle:{x}"

    bus.on("e", low, priority=-5)
    bus.on("e", high, priority=10)
    bus.on("e", middle)
    assert await bus.fire("e", 1) == "middle:1"
    assert calls == ["high", "middle"]  # low never ran: the chain stopped


async def test_hooks_collect_and_equal_priority_keeps_subscription_order():
    bus = HookBus()
    bus.on("e", lambda: "a")
    bus.on("e", lambda: None)
    bus.on("e", lambda: "b")
    assert await bus.collect("e") == ["a", "b"]
    assert await bus.fire("nobody") is None


async def test_hooks_unsubscribe_and_providers():
    bus = HookBus()
    off = bus.on("e", lambda: "x")
    off()
    assert await bus.fire("e") is None
    bus.provide("thing", 42)
    assert bus.service("thing") == 42
    assert bus.service("missing", None) is None
    with pytest.raises(LookupError):
        bus.service("missing")
    with pytest.raises(ValueError):
        bus.provide("thing", 43)


def _register(name: str, depends=(), optional=(), options=None) -> None:
    cls = type(f"P_{name}", (Plugin,), {"name": name, "depends": tuple(depends),
                                        "optional_depends": tuple(optional)})
    if options:
        cls.Options = options
    module = types.ModuleType(f"plugins.{name}")
    module.PLUGIN = cls
    sys.modules[f"plugins.{name}"] = module


@pytest.fixture
def fake_plugins():
    before = set(sys.modules)
    yield _register
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_plugin_dependency_order(fake_plugins):
    fake_plugins("zz_base")
    fake_plugins("zz_archive", optional=["zz_rooms"])
    fake_plugins("zz_rooms", depends=["zz_base"])
    order = [cls.name for cls, _ in resolve({"zz_archive": {}, "zz_rooms": {}, "zz_base": {}})]
    assert order == ["zz_base", "zz_rooms", "zz_archive"]


def test_plugin_missing_dependency_and_cycle(fake_plugins):
    fake_plugins("zz_needy", depends=["zz_absent"])
    with pytest.raises(ConfigError, match="requires plugin 'zz_absent'"):
        resolve({"zz_needy": {}})
    fake_plugins("zz_a", depends=["zz_b"])
    fake_plugins("zz_b", depends=["zz_a"])
    with pytest.raises(ConfigError, match="cycle"):
        resolve({"zz_a": {}, "zz_b": {}})


def test_plugin_options_are_validated(fake_plugins):
    @dataclass
    class Opts:
        size: int = doc("a size", 3)

    fake_plugins("zz_opts", options=Opts)
    [(cls, options)] = resolve({"zz_opts": {"size": 7}})
    assert options.size == 7
    with pytest.raises(ConfigError, match=r"plugins.zz_opts.size: expected an integer"):
        resolve({"zz_opts": {"size": "big"}})
    with pytest.raises(ConfigError, match=r"plugins.zz_opts.colour: unknown key"):
        resolve({"zz_opts": {"colour": "red"}})
    with pytest.raises(ConfigError, match="no plugin named 'zz_nothing'"):
        resolve({"zz_nothing": {}})


async def test_migrations_create_schema_once_and_record_versions(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    steps_run = []

    def step1(connection):
        steps_run.append(1)
        connection.execute(text("CREATE TABLE zz_things (id INTEGER PRIMARY KEY, name TEXT)"))

    def step2(connection):
        steps_run.append(2)
        connection.execute(text("ALTER TABLE zz_things ADD COLUMN colour TEXT"))

    assert await db.migrate([Migrations("zz", [step1])]) == {"zz": (0, 1)}
    assert await db.migrate([Migrations("zz", [step1, step2])]) == {"zz": (1, 2)}
    assert await db.migrate([Migrations("zz", [step1, step2])]) == {"zz": (2, 2)}
    assert steps_run == [1, 2]
    async with db.engine.connect() as connection:
        columns = await connection.run_sync(
            lambda c: [col["name"] for col in sa_inspect(c).get_columns("zz_things")])
        mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
    assert columns == ["id", "name", "colour"]
    assert mode == "wal"
    with pytest.raises(RuntimeError, match="newer than this code"):
        await db.migrate([Migrations("zz", [step1])])
    await db.close()


async def test_failed_migration_step_leaves_nothing_half_applied(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")

    def broken(connection):
        connection.execute(text("CREATE TABLE zz_half (id INTEGER)"))
        connection.execute(text("THIS IS NOT SQL"))

    with pytest.raises(Exception):
        await db.migrate([Migrations("zz", [broken])])
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: sa_inspect(c).get_table_names())
    assert "zz_half" not in tables
    await db.close()


async def test_a_write_session_survives_a_commit_between_its_read_and_its_write(tmp_path):
    """SQLite (WAL): a deferred transaction whose snapshot went stale cannot write, even with a busy
    timeout; ``session(write=True)`` takes the lock first, so read-modify-write never sees that."""
    import asyncio

    from sqlalchemy.exc import OperationalError

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await db.migrate([Migrations("zz", [lambda c: c.execute(text("CREATE TABLE zz_n (k TEXT PRIMARY KEY, v INT)"))])])
    async with db.session() as session:
        await session.execute(text("INSERT INTO zz_n VALUES ('a', 0)"))

    async def read_then_write(write: bool, read_done: asyncio.Event, other_done: asyncio.Event) -> None:
        async with db.session(write=write) as session:
            value = (await session.execute(text("SELECT v FROM zz_n WHERE k = 'a'"))).scalar()
            read_done.set()
            await other_done.wait()
            await session.execute(text("UPDATE zz_n SET v = :v WHERE k = 'a'"), {"v": value + 10})

    async def other_writer(read_done: asyncio.Event, other_done: asyncio.Event) -> None:
        await read_done.wait()
        async with db.session() as session:
            await session.execute(text("UPDATE zz_n SET v = v + 1 WHERE k = 'a'"))
        other_done.set()

    read_done, other_done = asyncio.Event(), asyncio.Event()
    with pytest.raises(OperationalError, match="database is locked"):
        await asyncio.gather(read_then_write(False, read_done, other_done), other_writer(read_done, other_done))

    # With the write lock taken first the other writer waits for it, and nothing is lost.
    read_done, other_done = asyncio.Event(), asyncio.Event()
    other = asyncio.ensure_future(other_writer(read_done, other_done))
    async with db.session(write=True) as session:
        value = (await session.execute(text("SELECT v FROM zz_n WHERE k = 'a'"))).scalar()
        read_done.set()
        await asyncio.sleep(0.05)   # the other writer is now waiting for the lock
        await session.execute(text("UPDATE zz_n SET v = :v WHERE k = 'a'"), {"v": value + 10})
    await other
    async with db.session() as session:
        assert (await session.execute(text("SELECT v FROM zz_n WHERE k = 'a'"))).scalar() == 1 + 10 + 1
    # The same for a Core transaction (the archive's chunked deletes read a boundary, then delete).
    read_done, other_done = asyncio.Event(), asyncio.Event()
    other = asyncio.ensure_future(other_writer(read_done, other_done))
    async with db.begin_write() as conn:
        value = (await conn.execute(text("SELECT v FROM zz_n WHERE k = 'a'"))).scalar()
        read_done.set()
        await asyncio.sleep(0.05)
        await conn.execute(text("UPDATE zz_n SET v = :v WHERE k = 'a'"), {"v": value + 10})
    await other
    async with db.session() as session:
        assert (await session.execute(text("SELECT v FROM zz_n WHERE k = 'a'"))).scalar() == 12 + 10 + 1
    await db.close()


def test_result_form_is_the_form_slixmpp_builds():
    """The ElementTree builder writes what new_form and add_field write, field for field."""
    from xml.etree.ElementTree import tostring
    fields = [("id", "", "工单", "01ABC"), ("customer", "jid-single", "Customer", "ann@example.com"),
              ("message", "", "First message", "line one\nline <two> & more"),
              ("tags", "text-multi", "Tags", ["vip", "refund"]), ("none", "text-multi", "Empty", None),
              ("bare", "", "", "no label")]
    reference = new_form("Ticket 01ABC", form_type="result", form_type_value="urn:example:ticket")
    for var, ftype, label, value in fields:
        options = {"ftype": ftype} if ftype else {}
        reference.add_field(var=var, label=label or None, value=value, **options)
    built = result_form("Ticket 01ABC", "urn:example:ticket", fields)
    assert tostring(built) == tostring(reference.xml)
    reference.xml = built  # read back as any form
    read = values(reference)
    assert read["tags"] == ["vip", "refund"] and read["message"] == "line one\nline <two> & more"


def test_ids_are_time_ordered_and_unique():
    ids = [new_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert abs(timestamp_of(new_id(1_700_000_000.123)) - 1_700_000_000.123) < 0.001
    with pytest.raises(ValueError):
        timestamp_of("not-an-id")


def test_ids_are_the_ulid_layout_in_crockford_base32():
    from component.ids import _encode

    def one_at_a_time(value: int, length: int) -> str:  # the layout, a character at a time
        alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
        return "".join(alphabet[(value >> 5 * i) & 31] for i in reversed(range(length)))

    rng = random.Random(7)
    for millis, rand in [(0, 0), (2**48 - 1, 2**80 - 1), (1, 2**79)] + [
            (rng.randrange(2**48), rng.randrange(2**80)) for _ in range(2000)]:
        assert _encode(millis, rand) == one_at_a_time(millis, 10) + one_at_a_time(rand, 16)
    assert _encode(0, 0) == "0" * 26 and _encode(2**48 - 1, 2**80 - 1) == "7" + "Z" * 25


_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


@pytest.mark.parametrize(("xml", "gone"), [
    *((f"<message xmlns='jabber:component:accept' type='error'><error type='cancel'><{condition} xmlns='{_STANZAS}'/>"
       "</error></message>", True) for condition in sorted(GONE_CONDITIONS)),
    (f"<message xmlns='jabber:client' type='error'><error type='auth'><forbidden xmlns='{_STANZAS}'/></error>"
     "</message>", False),
    (f"<message xmlns='jabber:server' type='error'><error type='wait'><resource-constraint xmlns='{_STANZAS}'/>"
     "</error></message>", False),
    ("<message xmlns='jabber:client' type='error'><body>no error element</body></message>", True),
    ("<message xmlns='jabber:client' type='error'><error type='cancel'/></message>", True),
    ("<message xmlns='jabber:client' type='error'><error type='cancel'><x xmlns='urn:example'/></error>"
     "</message>", True),
    # A payload named error, in its own namespace, is not the stanza's error.
    (f"<message xmlns='jabber:client' type='error'><error xmlns='urn:example:app'/><error type='auth'>"
     f"<forbidden xmlns='{_STANZAS}'/></error></message>", False),
    (f"<message type='error'><error type='cancel'><gone xmlns='{_STANZAS}'/></error></message>", True),
])
def test_which_bounces_mean_the_address_is_gone(xml: str, gone: bool) -> None:
    from xml.etree.ElementTree import fromstring

    assert means_gone(fromstring(xml)) is gone


def test_slot_of_is_ejabberds_bare_destination_hash() -> None:
    """erlang:phash2({User, Server, <<>>}, N), the values Erlang itself gives (erl -eval)."""
    from component.balancing import slot_of, term_hash

    assert [term_hash((u.encode(), d.encode(), b"")) for u, d in (
        ("", "support.localhost"), ("help", "support.example.com"),
        ("t-01jd5xq3z8k2m4n6p7r9s0t1v2", "support.localhost"),
        ("room-with-a-rather-long-name-over-forty", "rooms.localhost"), ("客服", "support.localhost"))] == \
        [1696468098, 282156856, 4292565393, 2633064678, 2741336320]
    # The queues of the balancing tests, as ejabberd spread them over 4 slots.
    assert [slot_of(f"q{i}@support.localhost", 4) for i in range(8)] == [0, 2, 3, 3, 2, 2, 1, 0]
    assert slot_of("Help@Support.Example.COM", 4) == slot_of("help@support.example.com", 4)
