"""A process's claims session lost while it runs (component/claims.py): ended by the database
(``pg_terminate_backend``, as a restart or a network cut would), its locks are gone; the process
owns no queue until it has its session back (fail closed), then takes again the locks it had,
slots and queues; or, when another process took its slots meanwhile, it stops as a start would
have been refused."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from component.balancing import lock_key
from component.status import StatusServer

from .. import harness
from .conftest import ROOMS, SUPPORT, pytestmark  # noqa: F401 - the module's skip condition
from .test_support_addons import plugin, two_processes
from .test_support_fence import status_of


@contextlib.asynccontextmanager
async def control(database: str) -> AsyncIterator[Any]:
    """An operator's session on the database (advisory locks are per database: in it, to take its gate)."""
    admin = create_async_engine(database, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            yield connection
    finally:
        await admin.dispose()


async def slot_holders(session: Any, database: str, domain: str) -> dict[int, int]:
    """{slot: the backend id holding it}, as an operator reads it in pg_locks."""
    rows = (await session.execute(text(
        "SELECT objid::int, pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
        "AND classid::int = :k"), {"k": lock_key(database, domain, "slot")})).all()
    return {slot: pid for slot, pid in rows}


async def advisory_locks(session: Any, pid: int) -> set[tuple[int, int, int, str]]:
    rows = (await session.execute(text(
        "SELECT classid::bigint, objid::bigint, objsubid::int, mode FROM pg_locks "
        "WHERE locktype = 'advisory' AND granted AND pid = :p"), {"p": pid})).all()
    return {tuple(row) for row in rows}


async def test_a_lost_claims_session_fails_closed_then_takes_its_locks_again(balanced: Any, database: str,
                                                                              tmp_path: Path) -> None:
    name = database.rsplit("/", 1)[1]
    async with two_processes(balanced, database, tmp_path) as apps, control(database) as psql, \
            harness.slix_client(balanced.ports.c2s, "cust1") as cust:
        first, second = apps
        engines = [plugin(app, "support").engine for app in apps]
        mine = sorted(engines[0].owned)
        for app in apps:  # a question to every process: each answers under its current name
            app.peer_requests.answer(SUPPORT, "who", lambda _body, app=app: _who(app))
        holders = await slot_holders(psql, name, SUPPORT)
        old = holders[0]
        assert holders[1] == old == first.claims.process_id
        before = await advisory_locks(psql, old)
        health = StatusServer(first, "127.0.0.1:0")  # what /health answers (not listening here)
        assert len([lock for lock in before if lock[2] == 1]) == len(mine)  # each queue's lock
        generations = {queue: first.owners.generation(SUPPORT, queue) for queue in mine}

        # Its reconnection waits while another session holds the domain's gate (a process starting).
        gate = lock_key(name, SUPPORT, "gate")
        await psql.execute(text("SELECT pg_advisory_lock(:k, 0)"), {"k": gate})
        try:
            await psql.execute(text("SELECT pg_terminate_backend(:p)"), {"p": old})
            await harness.until(lambda: not first.claims.up, 10, "the loss noticed")
            await harness.until(lambda: not engines[0].owned, 10, "its queues let go")
            for _ in range(100):  # the ended backend lets its locks go as it exits
                if not await advisory_locks(psql, old):
                    break
                await asyncio.sleep(0.05)
            assert not await advisory_locks(psql, old)
            assert set((await slot_holders(psql, name, SUPPORT)).values()) == {second.claims.process_id}
            # Fail closed: no queue is adopted while its lock cannot be taken; a customer is told to retry.
            assert await status_of(cust, mine[0]) == "recipient-unavailable"
            assert not engines[0].owned and mine[0] in engines[0].fenced
            assert not engines[1].owned & set(mine)  # the other process was not handed them either
            assert "balancing: the database session holding this process's slots was lost" in \
                "\n".join(await health.health())
            assert metric(first, "switchboard_balancing_claims_up") == 0
        finally:
            await psql.execute(text("SELECT pg_advisory_unlock(:k, 0)"), {"k": gate})

        await harness.until(lambda: first.claims.up, 15, "the session back")
        new = first.claims.process_id
        assert new != old and first.claims.losses == first.claims.reclaims == 1
        await harness.until(lambda: engines[0].owned == set(mine) and not engines[0].fenced, 15,
                            "its queues adopted again")
        # Kept: no other process took them meanwhile, so they are its own under the same generation.
        assert {queue: first.owners.generation(SUPPORT, queue) for queue in mine} == generations
        # The same locks as before, slots, N and each queue's, on the new session.
        assert await advisory_locks(psql, new) == before
        assert await slot_holders(psql, name, SUPPORT) == {0: new, 1: new, 2: second.claims.process_id,
                                                            3: second.claims.process_id}
        # So another process cannot take one of its queues, and the customer is served again.
        assert not await engines[1].adopt(mine[0])
        assert mine[0] not in engines[1].owned and not engines[0].owned & engines[1].owned
        assert await status_of(cust, mine[0], 10) == "not-authorized"
        assert await health.health() == []
        assert metric(first, "switchboard_balancing_claims_up") == 1
        assert metric(first, "switchboard_balancing_claims_losses_total") == 1
        # Its peers ask it under its new name, and it answers.
        gathered = await second.peer_requests.ask(SUPPORT, "who", timeout=5)
        assert sorted((a.process.id, a.body) for a in gathered.answers) == sorted(
            [(new, new), (second.claims.process_id, second.claims.process_id)]) and not gathered.late


def metric(app: Any, name: str) -> float | None:
    return app.metrics.registry.get_sample_value(name)


async def _who(app: Any) -> int:
    return app.claims.process_id


async def test_slots_taken_by_another_process_meanwhile_stop_the_process(balanced: Any, database: str,
                                                                          tmp_path: Path) -> None:
    from .test_slots import start

    name = database.rsplit("/", 1)[1]
    app = await start(balanced, database, tmp_path, mine=[0, 1])
    try:
        async with control(database) as psql:
            gate = lock_key(name, ROOMS, "gate")
            await psql.execute(text("SELECT pg_advisory_lock(:k, 0)"), {"k": gate})
            try:
                await psql.execute(text("SELECT pg_terminate_backend(:p)"), {"p": app.claims.process_id})
                await harness.until(lambda: not app.claims.up, 10, "the loss noticed")
                # Another process, started meanwhile, holds slot 1 now.
                await psql.execute(text("SELECT pg_advisory_lock(:k, 1)"), {"k": lock_key(name, ROOMS, "slot")})
            finally:
                await psql.execute(text("SELECT pg_advisory_unlock(:k, 0)"), {"k": gate})
            await harness.until(lambda: app._stop.is_set(), 15, "the process stopping")
            assert app._refused is not None and not app._refused.lasting  # exit status 1: restarted, refused
            assert "slot 1 is already held" in str(app._refused) and not app.claims.up
            # It took nothing on its way out: slot 0 is free for whoever is started with it.
            assert await slot_holders(psql, name, ROOMS) == {1: (await psql.execute(
                text("SELECT pg_backend_pid()"))).scalar()}
    finally:
        await app.stop()


async def test_a_session_that_stops_answering_is_replaced_once_the_old_one_has_ended(balanced: Any, database: str,
                                                                                     tmp_path: Path) -> None:
    """A cut that closes nothing (the database's host gone; here the session's backend stopped with
    SIGSTOP) is noticed by the periodic check. The old session still holds the slots on the server:
    it is ended, and the slots claimed again only once it is gone (not refused as another's)."""
    import os
    import signal

    import pytest

    from .test_slots import start

    name = database.rsplit("/", 1)[1]
    app = await start(balanced, database, tmp_path, mine=[0, 1])
    try:
        claims = app.claims
        claims.check_interval, claims.check_timeout = 0.2, 1.0
        old = claims.process_id
        try:
            os.kill(old, signal.SIGSTOP)
        except PermissionError:
            pytest.skip("stopping a database backend needs the right to signal the database server's processes")
        try:
            await harness.until(lambda: not claims.up, 10, "the silence noticed")
            async with control(database) as psql:
                assert set((await slot_holders(psql, name, ROOMS)).values()) == {old}  # still the old session's
            await harness.until(lambda: claims.ended_sessions, 10, "the old session told to end")
            assert not claims.up and not app._stop.is_set()  # waiting for it, not refused
        finally:
            os.kill(old, signal.SIGCONT)  # it takes the termination it was sent, and ends
        await harness.until(lambda: claims.up, 20, "the slots claimed again")
        new = claims.process_id
        async with control(database) as psql:
            assert await slot_holders(psql, name, ROOMS) == {0: new, 1: new} and new != old
            left = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p")
            assert (await psql.execute(left, {"p": old})).scalar() == 0
        assert not app._stop.is_set() and claims.losses == claims.reclaims == 1
    finally:
        await app.stop()


async def test_the_database_away_for_every_process_then_back(balanced: Any, postgres: Any, database: str,
                                                              tmp_path: Path) -> None:
    """As a database restart: every session of both processes cut, and none accepted for a while.
    Both let their queues go and adopt none meanwhile; back, each queue is owned once again, by the
    process its stanzas reach."""
    from .test_peers import database_down
    from .test_support_addons import CANDIDATES

    async with two_processes(balanced, database, tmp_path) as apps, \
            harness.slix_client(balanced.ports.c2s, "cust1") as cust:
        engines = [plugin(app, "support").engine for app in apps]
        before = [set(engine.owned) for engine in engines]
        sessions = [app.claims.process_id for app in apps]
        def generations_now() -> list[dict[str, int | None]]:
            return [{q: app.owners.generation(SUPPORT, q) for q in owned} for app, owned in zip(apps, before)]
        generations = generations_now()
        async with database_down(postgres, database):
            await harness.until(lambda: not any(app.claims.up for app in apps), 10, "both losses noticed")
            await harness.until(lambda: not engines[0].owned | engines[1].owned, 10, "every queue let go")
            assert await status_of(cust, CANDIDATES[0]) == "recipient-unavailable"
        await harness.until(lambda: all(app.claims.up for app in apps), 30, "both sessions back")
        assert all(app.claims.process_id != old for app, old in zip(apps, sessions))
        await harness.until(lambda: [set(engine.owned) for engine in engines] == before
                            and not engines[0].fenced | engines[1].fenced, 20, "every queue owned again")
        # Each kept by its process under the same generation (nobody else took it).
        assert generations_now() == generations
        assert {queue: await status_of(cust, queue, 10) for queue in CANDIDATES} == \
            {queue: "not-authorized" for queue in CANDIDATES}
