"""Every connection of both processes drops and the queues' slots change process: the old owner,
still busy when it should let a queue go, keeps it until it has, and the new one takes it only
then (plugins/support/ownership.py, the queue's lock in PostgreSQL). Meanwhile the queue's stanzas
reaching the new process are refused (``recipient-unavailable``), never served by both."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import SubElement

from slixmpp.exceptions import IqError, IqTimeout

from component.namespaces import WORKGROUP

from .. import harness
from .conftest import SUPPORT, pytestmark  # noqa: F401 - the module's skip condition
from .kit import hand_over
from .test_support_addons import CANDIDATES, plugin, two_processes


async def status_of(client: Any, queue: str, timeout: float = 2) -> str:
    """What a customer waiting nowhere gets for XEP-0142 queue-status: not-authorized where the
    queue is served, recipient-unavailable where it is moving, nothing where its process is busy."""
    return await workgroup_iq(client, "get", queue, "queue-status", timeout)


async def workgroup_iq(client: Any, kind: str, queue: str, name: str, timeout: float) -> str:
    """An empty XEP-0142 ``name`` IQ to a queue: 'result', the error's condition, or 'timeout'."""
    to = f"{queue}@{SUPPORT}"
    iq = client.make_iq_get(ito=to) if kind == "get" else client.make_iq_set(ito=to)
    SubElement(iq.xml, f"{{{WORKGROUP}}}{name}")
    try:
        await iq.send(timeout=timeout)
    except IqError as error:
        return error.condition
    except IqTimeout:
        return "timeout"
    return "result"


async def test_a_queue_moving_to_another_process_is_never_owned_twice(balanced: Any, database: str,
                                                                    tmp_path: Path) -> None:
    async with two_processes(balanced, database, tmp_path) as apps:
        engines = [plugin(app, "support").engine for app in apps]
        services = [app.services[SUPPORT] for app in apps]
        busy = engines[0]
        async with harness.slix_client(balanced.ports.c2s, "cust1") as cust:
            # The first process is busy (its engine's lock held) when every connection drops; the other
            # comes back first and ejabberd gives it the first process's slots, and the first the other's:
            # every queue changes process.
            await busy._lock.acquire()
            try:
                before = set(busy.owned)
                given = await hand_over(balanced, services, 0, 1, tmp_path)
                # Asked together: a queue now at the busy process answers nothing until its timeout,
                # which is long enough for a refusal to come back on a loaded machine.
                answers = await asyncio.gather(*(status_of(cust, queue, 5) for queue in CANDIDATES))
                outcomes = dict(zip(CANDIDATES, answers))
                refused = sorted(queue for queue, outcome in outcomes.items() if outcome == "recipient-unavailable")
                # Refused where they moved away from the busy process (it still owns them), waiting where
                # they moved to it; served nowhere (cust1 waits nowhere: served is not-authorized), so
                # never owned by both.
                assert set(outcomes.values()) <= {"recipient-unavailable", "timeout"}, (outcomes, given)
                assert not engines[0].owned & engines[1].owned
                assert busy.owned == before  # it has let nothing go yet
                assert refused and set(refused) <= before, (outcomes, before, given)
                assert set(refused) <= engines[1].fenced
            finally:
                busy._lock.release()
            # Once it has let go, each queue is taken where its stanzas now arrive, once.
            await harness.until(lambda: len(engines[0].owned | engines[1].owned) == len(CANDIDATES)
                                and not engines[0].owned & engines[1].owned
                                and not (engines[0].fenced | engines[1].fenced), 20, "every queue owned once")
            assert engines[1].owned == before, (engines[1].owned, before, given)
            outcomes = {queue: await status_of(cust, queue, 10) for queue in CANDIDATES}
            assert set(outcomes.values()) == {"not-authorized"}, outcomes
