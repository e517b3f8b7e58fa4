"""Work that can wait while the event loop reads its sockets: done in order, a slice of time per turn.

asyncio runs every callback that is due before it looks at its sockets again. Fifty tasks woken
together, each with a millisecond of work, keep everything that arrives meanwhile unread for fifty
milliseconds, however urgent. Work put here runs in one task instead: items one after the other
until ``slice_s`` has passed, then the loop reads its sockets (and runs what that brought) before the
next slice. A failing item is logged and the next one runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Awaitable, Callable, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger("switchboard.slices")


class SlicedWork(Generic[T]):
    def __init__(self, run: Callable[[T], Awaitable[None]], what: str, slice_s: float = 0.002) -> None:
        self._run = run
        self.what = what  # for the log line of a failed item
        self.slice_s = slice_s
        self._items: deque[T] = deque()
        self._worker: asyncio.Task | None = None
        #: Turns of the loop taken (benchmarks and tests).
        self.slices = 0

    def put(self, item: T) -> None:
        self._items.append(item)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._work())

    @property
    def waiting(self) -> int:
        return len(self._items)

    async def _work(self) -> None:
        while self._items:
            began = time.perf_counter()
            while True:  # at least one item a slice
                item = self._items.popleft()
                try:
                    await self._run(item)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - one item's failure must not stop the others
                    log.exception("%s failed", self.what)
                if not self._items or time.perf_counter() - began >= self.slice_s:
                    break
            self.slices += 1
            # The next slice only after the loop has read its sockets (a task's wake-up comes after).
            await asyncio.sleep(0)

    async def drain(self) -> None:
        """Wait until everything put so far is done."""
        while self._worker is not None and not self._worker.done():
            await asyncio.wait([self._worker])

    async def close(self) -> None:
        """Drop what waits and stop."""
        self._items.clear()
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
