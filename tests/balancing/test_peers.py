"""Notifications between processes on PostgreSQL (component/peers.py, balancing on)."""

from __future__ import annotations

from sqlalchemy import func, select

from component.peers import MIGRATIONS, NOTIFY_LIMIT, CoreChange, Peers
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
            assert await session.scalar(select(func.count()).select_from(CoreChange)) == 1
    finally:
        await sender.stop()
        await receiver.stop()
        await db.close()


async def test_a_question_to_the_other_processes_gathers_their_answers_within_the_timeout(database: str) -> None:
    """component/peer_requests.py on its own: a process that holds slots but never answers (here one
    listed with no listener behind it) is named as late, and the asker does not wait longer."""
    import time

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
    finally:
        for p in peers:
            await p.stop()
        await db.close()


async def test_a_lost_listening_connection_listens_again(database: str) -> None:
    """Cut by the server (a restart, an administrator's pg_terminate_backend): the process listens
    again on a new connection, so it hears the other processes again without a restart."""
    from sqlalchemy import text

    db = Database(database)
    await db.migrate([MIGRATIONS])
    sender, receiver = Peers(db.engine, active=True), Peers(db.engine, active=True)
    heard: list[str] = []

    async def hear(payload: str) -> None:
        heard.append(payload)

    await receiver.listen("chan", hear)
    await receiver.start()
    await sender.start()
    try:
        async with db.session() as session:
            await sender.notify(session, "chan", "before")
        await harness.until(lambda: heard == ["before"], 10, "the first notification")
        cut = receiver._driver.get_server_pid()
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": cut})
        await harness.until(lambda: receiver.relistens == 1 and receiver._driver is not None, 10, "listening again")
        assert receiver._driver.get_server_pid() != cut
        async with db.session() as session:
            await sender.notify(session, "chan", "after")
        await harness.until(lambda: heard == ["before", "after"], 10, "heard again")
    finally:
        await sender.stop()
        await receiver.stop()
        await db.close()
