"""Database.write_turn: on SQLite this process's frequent writers take turns in asyncio (SQLite's own
busy handler sleeps 1, 2, 5, 10… ms between tries); on PostgreSQL nobody waits."""

from __future__ import annotations

import asyncio

from component.storage import Database

from . import harness


async def test_writers_take_turns_on_sqlite_only(tmp_path):
    db = Database(harness.database_url(tmp_path))
    try:
        order: list[str] = []

        async def writer(name: str, hold: float) -> None:
            async with db.write_turn():
                order.append(f"{name} in")
                await asyncio.sleep(hold)
                order.append(f"{name} out")

        await asyncio.gather(writer("journal", 0.05), writer("archive", 0.0))
        if db.is_sqlite:
            assert order == ["journal in", "journal out", "archive in", "archive out"]
        else:
            assert order == ["journal in", "archive in", "archive out", "journal out"]
    finally:
        await db.close()
