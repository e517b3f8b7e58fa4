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
