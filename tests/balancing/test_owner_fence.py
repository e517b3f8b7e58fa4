"""The window the queue's lock leaves open, closed by its fencing token (component/owners.py): a
process's claims session is lost while its engine is busy, so the queue's lock is free while the
process still acts as the queue's owner; another process takes the queue (a new generation). The
old owner's next write for the queue is refused whole, nothing of it stored; it lets the queue go;
the waiting customers keep their order and their tickets at the new owner."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import text

from component.status import StatusServer

from .. import harness
from .conftest import SUPPORT, pytestmark  # noqa: F401 - the module's skip condition
from .kit import back, drop, stored
from .test_claims import control, metric
from .test_support_addons import plugin, two_processes
from .test_support_fence import workgroup_iq


async def join(client: Any, queue: str, timeout: float = 5) -> str:
    """XEP-0142 join-queue: 'result', or the error's condition."""
    return await workgroup_iq(client, "set", queue, "join-queue", timeout)


async def test_a_stale_owners_write_is_refused_and_it_lets_the_queue_go(balanced: Any, database: str,
                                                                         tmp_path: Path) -> None:
    port = balanced.ports.c2s
    async with two_processes(balanced, database, tmp_path) as apps, control(database) as psql, \
            harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2, \
            harness.slix_client(port, "cust3") as c3:
        first, second = apps
        StatusServer(first, "127.0.0.1:0")  # its metrics, as served (not listening here)
        old, new = (plugin(app, "support").engine for app in apps)
        queue = sorted(old.owned)[0]
        assert [await join(c1, queue), await join(c2, queue)] == ["result", "result"]
        waiting = list(old.waiting[queue].ids())
        assert len(waiting) == 2
        await old.journal.drain()
        before = await stored(database)

        await old._lock.acquire()  # busy: what it does next waits for this
        try:
            late = asyncio.ensure_future(join(c3, queue, 20))
            await harness.until(lambda: len(old._lock._waiters or ()) == 1, 10, "the join waiting for the engine")
            await psql.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first.claims.process_id})
            await harness.until(lambda: first.claims.losses == 1, 10, "the loss noticed")
            # Its queue's lock went with the session: another process takes the queue (as when the
            # queue's slot moves there at that moment) and loads it as stored.
            assert await new.adopt(queue)
            assert list(new.waiting[queue].ids()) == waiting
            assert queue in old.owned  # still acting as its owner, busy
        finally:
            old._lock.release()

        # The join it was doing is written under its old token: refused, the customer told to retry.
        assert await late == "recipient-unavailable"
        await harness.until(lambda: queue not in old.owned and not any(t.queue == queue for t in old.tickets.values()),
                            10, "the queue let go")
        assert await stored(database) == before  # nothing of it stored
        refusals = first.metrics.registry.get_sample_value("switchboard_balancing_owner_refusals_total",
                                                           {"domain": SUPPORT})
        assert refusals == 1 and metric(first, "switchboard_balancing_claims_losses_total") == 1
        assert list(new.waiting[queue].ids()) == waiting and queue in new.owned
        # Back on a new session, it does not take the queue back: the other process holds its lock.
        await harness.until(lambda: first.claims.up, 15, "its session back")
        await harness.until(lambda: queue in old.fenced, 10, "its adoption refused")
        assert queue not in old.owned and not old.owned & new.owned
        assert await stored(database) == before


async def test_a_lost_server_connection_keeps_the_queues_nobody_took(balanced: Any, database: str,
                                                                    tmp_path: Path) -> None:
    """Every server connection of one process drops and comes back while the other's stay up: the
    slots it gets back are its own, so each of its queues is kept under the same generation (no
    other process took it), and a waiting customer, whose place did not change, is not told again."""
    async with two_processes(balanced, database, tmp_path) as apps, \
            harness.slix_client(balanced.ports.c2s, "cust1") as cust:
        first = apps[0]
        engine, service = plugin(first, "support").engine, first.services[SUPPORT]
        mine = sorted(engine.owned)
        inbox = harness.Inbox(cust)
        cust.send_message(mto=f"{mine[0]}@{SUPPORT}", mbody="anyone there?", mtype="chat")
        status = lambda m: m.xml.find("{http://jabber.org/protocol/workgroup}queue-status") is not None  # noqa: E731
        await inbox.next(status, 10)  # told their place
        generations = {queue: first.owners.generation(SUPPORT, queue) for queue in mine}
        released, returned = engine._releases, back([service])
        drop(service, 0.5)
        await harness.until(lambda: engine._releases > released, 10, "its queues let go")
        await harness.until(returned, 20, "its connections back")
        await harness.until(lambda: engine.owned == set(mine) and not engine.fenced, 20, "its queues owned again")
        assert {queue: first.owners.generation(SUPPORT, queue) for queue in mine} == generations
        await inbox.quiet(status, wait=1.0)
