"""The database locked (SQLite) or gone (PostgreSQL): refuse with a wait-type error, broadcast nothing
that was not stored, and recover by itself when the database is back.

SQLite: another connection holds the write lock (``BEGIN EXCLUSIVE``) longer
than the component's busy timeout, shortened for this test so a refusal takes
a fraction of a second instead of the production 30 s. PostgreSQL: the server
is stopped and started again. Each test runs on its own backend only.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from typing import Any, AsyncIterator, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .. import harness
from ..conftest import BACKEND
from .kit import NS_ADMIN, NS_OWNER, NS_SUPPORT, OK, ROOMS, SUPPORT, Person, jid, people, status_codes, ticket_of, until
from .test_crash import HELP, SERVICES, agent_available, archived, offered

pytestmark = pytest.mark.integration

ROOM = f"faults@{ROOMS}"
#: RFC 6120 8.3.3: both mean "try again later", which is the truth here.
WAIT_ERRORS = ("internal-server-error/wait", "resource-constraint/wait")
BUSY_MS = 300
USERS = ("alice", "bob", "agent1", "cust1", "cust2", "cust3")
#: A room password set during the outage: the failed write must not carry it into the logs.
SECRET = "password-of-the-outage"


def assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    """The failures were logged (as errors), but without the texts and secrets they were about."""
    formatter = logging.Formatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert any(record.levelno >= logging.ERROR for record in caplog.records)
    for private in ("topic of the outage", "agent during the outage", SECRET):
        assert private not in logged, f"{private!r} appears in the logs"


class _ShortBusyCursor(sqlite3.Cursor):
    def execute(self, sql: str, *args: Any) -> Any:  # type: ignore[override]
        if sql.replace(" ", "").lower().startswith("pragmabusy_timeout="):
            sql = f"PRAGMA busy_timeout={BUSY_MS}"
        return super().execute(sql, *args)


class _ShortBusyConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _ShortBusyCursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)

    def execute(self, sql: str, *args: Any) -> Any:  # type: ignore[override]
        return self.cursor().execute(sql, *args)


def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> Callable[..., sqlite3.Connection]:
    """Every SQLite connection opened from now on gives up on a lock after BUSY_MS; returns the real connect."""
    real = sqlite3.connect

    def connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs["timeout"] = BUSY_MS / 1000
        kwargs.setdefault("factory", _ShortBusyConnection)
        return real(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    return real


async def prepare(app: Any, p: dict[str, Person]) -> tuple[str, str]:
    """A room with two occupants; a customer talking with an agent, another one offered to the agent.

    Returns the two conversation JIDs.
    """
    alice, bob, agent1, cust1 = p["alice"], p["bob"], p["agent1"], p["cust1"]
    assert await alice.join(ROOM, "alice") == OK
    assert await alice.configure(ROOM, persistentroom=True, enablearchiving=True, roomname="Faults") == OK
    assert await bob.join(ROOM, "bob") == OK
    await agent_available(agent1, 2)
    engine = app.services[SUPPORT].plugins["support"].engine
    await until(lambda: engine.agents["help"].get(agent1.bare), what="the agent available")
    cust1.send_message(HELP, "<body>hello</body>", mtype="chat")
    ticket = await offered(agent1, cust1)
    session = f"t-{ticket}@{SUPPORT}"
    agent1.send_message(session, "<body>accept</body>", mtype="chat")
    await until(lambda: engine.tickets[ticket].state == "active", what="the conversation active")
    p["cust2"].send_message(HELP, "<body>me too</body>", mtype="chat")
    offer = f"t-{await offered(agent1, p['cust2'])}@{SUPPORT}"
    await alice.say(ROOM, "before the outage")
    for person in p.values():
        person.forget()
    return session, offer


def state_of(message: Any) -> str | None:
    ticket = message.xml.find(f"{{{NS_SUPPORT}}}ticket")
    return ticket.get("state") if ticket is not None else None


async def error_for(person: Person, mid: str) -> str:
    error = await person.inbox.next(lambda m: m["type"] == "error" and m["id"] == mid, 15)
    return f"{error['error']['condition']}/{error['error']['type']}"


async def during_outage(p: dict[str, Person], session: str, offer: str) -> None:
    """Every write is refused with a wait-type error, and nobody receives what was not stored."""
    alice, bob, agent1, cust1, cust2, cust3 = (p[u] for u in USERS)
    mid = alice.send_message(ROOM, "<body>said during the outage</body>")
    assert await error_for(alice, mid) in WAIT_ERRORS
    # Room administration is refused the same way and takes no effect (nothing half-applied).
    assert await alice.set_affiliation(ROOM, jid("bob"), "outcast") in WAIT_ERRORS
    assert await alice.configure(ROOM, roomname="renamed during the outage", passwordprotectedroom=True,
                                 roomsecret=SECRET) in WAIT_ERRORS
    mid = alice.send_message(ROOM, "<subject>topic of the outage</subject>")
    assert await error_for(alice, mid) in WAIT_ERRORS
    mid = agent1.send_message(session, "<body>agent during the outage</body>", mtype="chat")
    assert await error_for(agent1, mid) in WAIT_ERRORS
    mid = cust1.send_message(HELP, "<body>customer during the outage</body>", mtype="chat")
    assert await error_for(cust1, mid) in WAIT_ERRORS
    mid = cust3.send_message(HELP, "<body>new customer during the outage</body>", mtype="chat")
    assert await error_for(cust3, mid) in WAIT_ERRORS
    # Accepting an offer and closing a conversation are refused and leave the tickets as they were.
    mid = agent1.send_message(offer, "<body>accept</body>", mtype="chat")
    assert await error_for(agent1, mid) in WAIT_ERRORS
    mid = agent1.send_message(session, "<body>/close</body>", mtype="chat")
    assert await error_for(agent1, mid) in WAIT_ERRORS
    await cust2.inbox.quiet(lambda m: m["type"] == "chat", 0.1)
    await bob.inbox.quiet(lambda s: "outage" in (s["body"] or "") or "outage" in (s["subject"] or "")
                          or (s.xml.tag.endswith("}presence") and s["from"].full == f"{ROOM}/bob"), 0.5)
    await cust1.inbox.quiet(lambda m: m["type"] == "chat" and "outage" in (m["body"] or ""), 0.1)
    await agent1.inbox.quiet(lambda m: m["type"] == "chat" and "outage" in (m["body"] or ""), 0.1)


async def stored_affiliation(db_url: str, room: str, who: str) -> str | None:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT affiliation FROM muc_affiliations WHERE room = :room "
                                            "AND jid = :jid"), {"room": room, "jid": who})).scalar()
    finally:
        await engine.dispose()


async def after_recovery(p: dict[str, Person], session: str, offer: str, db_url: str) -> None:
    """Everything works again, and what was refused is nowhere in the archives."""
    alice, bob, agent1, cust1, cust2, cust3 = (p[u] for u in USERS)
    said = await alice.say(ROOM, "after the outage")
    await bob.groupchat(ROOM, lambda m: m["body"] == "after the outage")
    room = archived(await alice.archive(ROOM))
    assert list(room.values()) == ["before the outage", "after the outage"] and said in room
    outcome, form = await alice.iq(ROOM, f"<query xmlns='{NS_OWNER}'/>", itype="get")
    names = [f.findtext("{jabber:x:data}value") for f in form.xml.iter("{jabber:x:data}field")
             if f.get("var") == "muc#roomconfig_roomname"]
    assert outcome == OK and names == ["Faults"], names
    outcome, bans = await alice.iq(ROOM, f"<query xmlns='{NS_ADMIN}'><item affiliation='outcast'/></query>", "get")
    assert outcome == OK and not list(bans.xml.iter(f"{{{NS_ADMIN}}}item"))
    agent1.send_message(session, "<body>agent is back</body>", mtype="chat")
    await cust1.inbox.next(lambda m: m["type"] == "chat" and m["body"] == "agent is back")
    cust1.send_message(HELP, "<body>customer is back</body>", mtype="chat")
    await agent1.inbox.next(lambda m: m["type"] == "chat" and m["body"] == "customer is back")
    conversation = archived(await agent1.archive(session))
    assert not [b for b in conversation.values() if "outage" in b], conversation
    # The offer is accepted now, the conversation closed now, and the customer refused during
    # the outage is welcomed and offered as if nothing happened.
    agent1.send_message(offer, "<body>accept</body>", mtype="chat")
    await cust2.inbox.next(lambda m: m["type"] == "chat" and state_of(m) == "active")
    agent1.send_message(offer, "<body>hello cust2</body>", mtype="chat")
    await cust2.inbox.next(lambda m: m["type"] == "chat" and m["body"] == "hello cust2")
    agent1.send_message(session, "<body>/close</body>", mtype="chat")
    await cust1.inbox.next(lambda m: m["type"] == "chat" and state_of(m) in ("closed", "resolved"))
    cust3.send_message(HELP, "<body>may I try again?</body>", mtype="chat")
    notice = await cust3.inbox.next(lambda m: m["type"] == "chat" and ticket_of(m) is not None)
    assert notice["from"].bare == HELP
    await offered(agent1, cust3)
    # Room administration works again, and is stored this time.
    assert await alice.set_affiliation(ROOM, jid("bob"), "outcast") == OK
    await bob.inbox.next(lambda s: s.xml.tag.endswith("}presence") and "301" in status_codes(s))
    assert await stored_affiliation(db_url, ROOM, jid("bob")) == "outcast"


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's write lock; the PostgreSQL variant stops the server")
async def test_sqlite_locked_by_another_writer(component, prosody, tmp_path, monkeypatch, caplog):
    connect = short_busy_timeout(monkeypatch)
    app = await component(SERVICES)
    async with people(prosody.ports.c2s, *USERS) as p:
        session, offer = await prepare(app, p)
        async with exclusive_lock(connect, tmp_path / "switchboard.db"):
            await during_outage(p, session, offer)
        assert_logs_clean(caplog)
        await after_recovery(p, session, offer, harness.database_url(tmp_path))


@contextlib.asynccontextmanager
async def exclusive_lock(connect: Callable[..., sqlite3.Connection], path: Any) -> AsyncIterator[None]:
    holder = connect(str(path), isolation_level=None, timeout=5)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.skipif(BACKEND != "postgresql", reason="stops the PostgreSQL server of the session")
async def test_postgresql_server_down(component, prosody, tmp_path, caplog):
    server = harness.POSTGRES
    app = await component(SERVICES)
    async with people(prosody.ports.c2s, *USERS) as p:
        session, offer = await prepare(app, p)
        server.stop()
        try:
            await during_outage(p, session, offer)
        finally:
            server.start()
        assert_logs_clean(caplog)
        await after_recovery(p, session, offer, harness.database_url(tmp_path))
