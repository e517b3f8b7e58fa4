"""Look-ups by key that arrive together are answered together: one query per batch, not one per key.

The reading counterpart of a group commit: while a query runs, the keys asked meanwhile wait for the
next one, so a storm (a thousand new customers in a second) costs a few queries instead of a
database session, its connection and its round trips for each. A key asked after a query started
is read by a later one, never answered from an older read.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchedLookup(Generic[K, V]):
    def __init__(self, load: Callable[[list[K]], Awaitable[dict[K, V]]]) -> None:
        """``load`` returns what it found for the keys it is given; a key it leaves out answers None."""
        self._load = load
        self._asked: dict[K, list[asyncio.Future]] = {}
        self._reader: asyncio.Task | None = None
        #: Figures for benchmarks and tests: queries made and keys answered.
        self.queries = 0
        self.keys = 0

    async def get(self, key: K) -> V | None:
        answer = asyncio.get_running_loop().create_future()
        self._asked.setdefault(key, []).append(answer)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.ensure_future(self._read())
        return await answer

    async def _read(self) -> None:
        while self._asked:
            batch, self._asked = self._asked, {}
            try:
                found = await self._load(list(batch))
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter of this batch
                for answers in batch.values():
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self.queries += 1
            self.keys += len(batch)
            for key, answers in batch.items():
                for answer in answers:
                    if not answer.done():
                        answer.set_result(found.get(key))


class CoalescedWrites(Generic[K, V]):
    """The latest value of each key, written in batches: changes made while a batch is written go in
    the next one, and a key changed twice meanwhile is written once, as last changed. ``put`` takes
    its place in line at once (so changes keep their order without holding any lock while written)
    and returns a future that resolves once a batch holding that value, or a later one, is stored."""

    def __init__(self, save: Callable[[dict[K, V]], Awaitable[None]]) -> None:
        self._save = save
        self._due: dict[K, tuple[V, list[asyncio.Future]]] = {}
        self._writer: asyncio.Task | None = None
        #: Figures for benchmarks and tests: batches written.
        self.batches = 0

    def put(self, key: K, value: V) -> asyncio.Future:
        done = asyncio.get_running_loop().create_future()
        waiting = self._due.pop(key, (value, []))[1]
        self._due[key] = (value, waiting + [done])
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        return done

    async def _write(self) -> None:
        while self._due:
            batch, self._due = self._due, {}
            try:
                await self._save({key: value for key, (value, _) in batch.items()})
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter of this batch
                for _value, waiting in batch.values():
                    for done in waiting:
                        if not done.done():
                            done.set_exception(exc)
                            done.exception()  # retrieved: a waiter that went away leaves no warning
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self.batches += 1
            for _value, waiting in batch.values():
                for done in waiting:
                    if not done.done():
                        done.set_result(None)
