"""SlicedWork: queued work done in order, a slice of the loop's time per turn, failures contained."""

from __future__ import annotations

import asyncio
import logging
import time

from component.slices import SlicedWork


async def test_items_run_in_order_and_a_failure_does_not_stop_the_rest(caplog):
    done: list[int] = []

    async def run(item: int) -> None:
        if item == 2:
            raise ValueError("broken item")
        done.append(item)

    work = SlicedWork(run, "numbering")
    for n in range(5):
        work.put(n)
    with caplog.at_level(logging.ERROR, logger="switchboard.slices"):
        await work.drain()
    assert done == [0, 1, 3, 4]
    assert [r.getMessage() for r in caplog.records] == ["numbering failed"]
    work.put(5)  # a new worker once the last one finished
    await work.drain()
    assert done[-1] == 5


async def test_the_loop_runs_other_work_between_slices_not_within_one():
    seen: list[str] = []

    async def run(item: int) -> None:
        busy_until = time.perf_counter() + 0.001
        while time.perf_counter() < busy_until:  # a millisecond of the loop, as an opening costs
            pass
        seen.append(f"item{item}")

    async def other() -> None:
        while len([s for s in seen if s.startswith("item")]) < 8:
            seen.append("other")
            await asyncio.sleep(0)

    work = SlicedWork(run, "busy", slice_s=0.0025)
    for n in range(8):
        work.put(n)
    await asyncio.gather(work.drain(), other())
    runs, current = [], 0
    for s in seen:
        if s.startswith("item"):
            current += 1
        elif current:
            runs.append(current)
            current = 0
    if current:
        runs.append(current)
    # Each slice takes 2.5 ms (three items of 1 ms); other tasks run between slices.
    assert sum(runs) == 8 and max(runs) <= 3 and len(runs) >= 3, seen
    assert work.slices == len(runs)


async def test_close_drops_what_waits():
    started = asyncio.Event()
    done: list[int] = []

    async def run(item: int) -> None:
        started.set()
        await asyncio.sleep(10)
        done.append(item)

    work = SlicedWork(run, "slow")
    work.put(1)
    work.put(2)
    await started.wait()
    await work.close()
    assert done == [] and work.waiting == 0
