"""The changes table that tells a running process what a shell changed (component/peers.py, no balancing)."""

from __future__ import annotations

import time

from sqlalchemy import func, select, update

from component.peers import KEEP_SECONDS, MIGRATIONS, CoreChange, Peers
from component.storage import Database

from . import harness


async def test_changes_reach_the_other_process_once_in_commit_order_not_its_own_nor_older_ones(tmp_path):
    db = Database(harness.database_url(tmp_path))
    await db.migrate([MIGRATIONS])
    shell, running = Peers(db.engine, active=False), Peers(db.engine, active=False)
    heard: list[str] = []

    async def hear(payload: str) -> None:
        heard.append(payload)

    async with db.session() as session:
        await shell.notify(session, "chan", "before start")
    running.poll_interval = 3600  # read by hand below
    await running.start()
    await running.listen("chan", hear)
    await running.listen("other", hear)
    try:
        async with db.session() as session:
            await shell.notify(session, "chan", "one")
            await running.notify(session, "chan", "mine")
        async with db.session() as session:
            await shell.notify(session, "nobody listens", "x")
            await shell.notify(session, "other", "two")
        await running.read_changes()
        await running.read_changes()  # nothing new
        for task in list(running._tasks):
            await task
        assert heard == ["one", "two"]
        # A change whose id was taken earlier but that commits after a later one was read still arrives once.
        async with db.session() as session:
            await shell.notify(session, "chan", "late")
        async with db.session() as session:
            newest = await session.scalar(select(func.max(CoreChange.id)))
            await session.execute(update(CoreChange).where(CoreChange.id == newest).values(id=newest + 5))
        await running.read_changes()
        async with db.session() as session:
            await shell.notify(session, "chan", "slow")
            await session.execute(update(CoreChange).where(CoreChange.payload == "slow").values(id=newest))
        await running.read_changes()
        await running.read_changes()
        for task in list(running._tasks):
            await task
        assert heard == ["one", "two", "late", "slow"]
        # Old rows go.
        async with db.session() as session:
            await session.execute(update(CoreChange).values(at=time.time() - KEEP_SECONDS - 1))
        await running.read_changes(prune=True)
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(CoreChange)) == 0
    finally:
        await running.stop()
        await db.close()
