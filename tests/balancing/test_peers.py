"""Notifications between processes on PostgreSQL (component/peers.py, balancing on)."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

import time

from sqlalchemy import func, select, text, update

from component.peers import KEEP_SECONDS, MIGRATIONS, NOTIFY_LIMIT, PRUNE_INTERVAL, CoreChange, Peers
from component.storage import Database

from .. import harness
from .conftest import pytestmark  # noqa: F401 - the module's skip condition


async def test_a_payload_too_long_for_notify_travels_in_the_changes_table(database: str) -> None:
    db = Database(database)
    await db.migrate([MIGRATIONS])
    sender, receiver = Peers(db.engine, active=True), Peers(db.engine, active=True)
    heard: list[str] = []

    async def hear(payload: str) -> None:
        heard.append(payload)

    await receiver.listen("chan", hear)
    await sender.listen("chan", hear)  # its own notifications never come back to it
    await receiver.start()
    await sender.start()
    try:
        long = "公告" * NOTIFY_LIMIT  # 6 bytes a repetition: far beyond what NOTIFY carries
        async with db.session() as session:
            await sender.notify(session, "chan", "short")
        async with db.session() as session:
            await sender.notify(session, "chan", long)
        await harness.until(lambda: len(heard) == 2, 10, "both notifications")
        assert sorted(heard, key=len) == ["short", long]
        async with db.session() as session:
            # Both are rows (a listener that was cut reads them back); only the long one is read by the
            # listeners that were listening.
            assert await session.scalar(select(func.count()).select_from(CoreChange)) == 2
        # Rows older than an hour go, deleted by a listening writer at most once a minute.
        async with db.session() as session:
            await session.execute(update(CoreChange).values(at=time.time() - KEEP_SECONDS - 1))
        sender._pruned -= PRUNE_INTERVAL
        async with db.session() as session:
            await sender.notify(session, "chan", "after a while")
        await harness.until(lambda: not sender._tasks, 10, "the deletion")
        async with db.session() as session:
            assert (await session.execute(select(CoreChange.payload))).scalars().all() == ["after a while"]
    finally:
        await sender.stop()
        await receiver.stop()
        await db.close()


async def test_a_question_to_the_other_processes_gathers_their_answers_within_the_timeout(postgres: Any,
                                                                                          database: str) -> None:
    """component/peer_requests.py on its own: a process that holds slots but never answers (here one
    listed with no listener behind it) is named as late, and the asker does not wait longer; so is
    one whose answer is lost with the database connections, and it answers again once they are back."""

    import pytest

    from component.peer_requests import PeerRequests

    db = Database(database)
    await db.migrate([MIGRATIONS])
    slots = {1: [0, 1], 2: [2], 3: [3]}  # process 3 holds a slot but nobody answers for it

    async def holders(_domain: str) -> dict[int, list[int]]:
        return {pid: list(mine) for pid, mine in slots.items()}

    peers = [Peers(db.engine, active=True) for _ in range(2)]
    asker, other = (PeerRequests(p, pid, holders, slots[pid]) for p, pid in zip(peers, (1, 2)))
    for requests, name in ((asker, "one"), (other, "two")):
        async def answer(body: dict, name: str = name) -> dict:
            return {"name": name, "echo": body["x"]}
        requests.answer("rooms.example", "who", answer)
    for p in peers:
        await p.start()
    await asker.start()
    await other.start()
    try:
        began = time.monotonic()
        gathered = await asker.ask("rooms.example", "who", {"x": "中"}, timeout=1.0)
        assert time.monotonic() - began < 2.0
        assert [(a.process.id, a.process.here, a.body) for a in gathered.answers] == [
            (1, True, {"name": "one", "echo": "中"}), (2, False, {"name": "two", "echo": "中"})]
        assert [p.id for p in gathered.late] == [3] and gathered.several
        only = await asker.ask("rooms.example", "who", {"x": 1}, only=2, timeout=1.0)
        assert [a.process.id for a in only.answers] == [2] and not only.late
        unknown = await asker.ask("rooms.example", "nothing", {}, only=2, timeout=1.0)
        assert unknown.answers[0].error == "unknown-request"
        with pytest.raises(LookupError):
            await asker.ask("rooms.example", "who", {}, only=9)
        async with database_down(postgres, database):
            began = time.monotonic()
            cut = await asker.ask("rooms.example", "who", {"x": 2}, timeout=1.0)
            assert time.monotonic() - began < 2.0
            assert [a.process.id for a in cut.answers] == [1] and [p.id for p in cut.late] == [2, 3]
        # Reconnection backs off up to 5 s between tries while the database refuses.
        await harness.until(lambda: all(p.relistens >= 1 and p._driver is not None for p in peers), 30,
                            "listening again")
        back = await asker.ask("rooms.example", "who", {"x": 3}, timeout=1.0)
        assert [a.process.id for a in back.answers] == [1, 2] and [p.id for p in back.late] == [3]
    finally:
        for p in peers:
            await p.stop()
        await db.close()


@contextlib.asynccontextmanager
async def database_down(postgres: Any, database: str, connection: Any = None) -> AsyncIterator[None]:
    """No new session may open on the database and every other one is cut: as if the database were
    away for everyone but ``connection`` (a shell's, kept open to write while the others are down)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    name, keep = database.rsplit("/", 1)[1], 0
    if connection is not None:
        keep = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        await connection.commit()
    admin = create_async_engine(postgres.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as control:
            await control.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            try:
                await control.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                           "WHERE datname = :name AND pid <> :keep"), {"name": name, "keep": keep})
                yield
            finally:
                await control.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
    finally:
        await admin.dispose()


async def test_a_lost_listening_connection_listens_again_and_catches_up(postgres: Any, database: str) -> None:
    """Cut by the server (a restart, an administrator's pg_terminate_backend): the process listens
    again on a new connection, and what another process changed while it could not listen (whose
    notifications PostgreSQL dropped) is read back and handed on, once, in order; questions between
    processes are not (their asker has reported the process as late meanwhile)."""
    db, shell_db = Database(database), Database(database)
    await db.migrate([MIGRATIONS])
    receiver = Peers(db.engine, active=True)
    heard: list[str] = []
    questions: list[str] = []

    async def hear(payload: str) -> None:
        heard.append(payload)

    async def question(payload: str) -> None:
        questions.append(payload)

    await receiver.listen("chan", hear)
    await receiver.listen("question", question, replay=False)
    await receiver.start()
    try:
        async with shell_db.engine.connect() as shell_connection:
            shell = Peers(shell_db.engine, active=True)  # a command-line tool: notifies, never listens

            async def change(payload: str, channel: str = "chan", durable: bool = True) -> None:
                async with shell_connection.begin():
                    await shell.notify(shell_connection, channel, payload, durable=durable)

            await change("before")
            await harness.until(lambda: heard == ["before"], 10, "the first notification")
            cut = receiver._driver.get_server_pid()
            async with database_down(postgres, database, shell_connection):
                await harness.until(lambda: receiver._driver is None, 10, "the cut noticed")
                await change("during 1")
                await change("公告" * NOTIFY_LIMIT)  # long: its notification names its row
                await change("during 2")
                await change("asked while away", "question", durable=False)
                await change("asked at length while away " * 400, "question", durable=False)
                assert heard == ["before"] and receiver.relistens == 0  # nobody can connect
            await harness.until(lambda: receiver.relistens == 1, 15, "listening again")
            assert receiver._driver.get_server_pid() != cut
            await change("after")
            await change("asked after", "question", durable=False)
            await harness.until(lambda: len(heard) == 5 and questions, 10, "the changes made meanwhile")
            for task in list(receiver._tasks):
                await task
            assert heard == ["before", "during 1", "公告" * NOTIFY_LIMIT, "during 2", "after"]
            assert questions == ["asked after"] and receiver.caught_up == 3
    finally:
        await receiver.stop()
        await db.close()
        await shell_db.close()
