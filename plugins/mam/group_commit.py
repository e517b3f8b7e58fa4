"""Group commit of archive writes: every caller's write joins the next batch and returns only
once that batch is committed, so a message is durable before anyone can see it, and a burst of
messages costs one transaction, not one each."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from .store import ArchiveStore


class GroupCommit:
    """Write-behind queue: each entry's future resolves when the batch holding it commits."""

    def __init__(self, store: ArchiveStore, batch_max: int) -> None:
        self.backend = store
        self.batch_max = batch_max
        self._pending: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        #: Called with each committed batch's row count and seconds taken (metrics).
        self.on_batch: Callable[[int, float], None] | None = None

    async def write(self, rows: list[dict[str, Any]]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((rows, future))
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        await future

    async def _run(self) -> None:
        try:
            while self._pending:
                batch: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
                size = 0
                while self._pending and (not batch or size + len(self._pending[0][0]) <= self.batch_max):
                    entry = self._pending.pop(0)
                    batch.append(entry)
                    size += len(entry[0])
                await self._commit(batch)
        finally:
            self._task = None

    async def _commit(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future[None]]]) -> None:
        try:
            flat = [row for rows, _ in batch for row in rows]
            started = time.perf_counter()
            await self.backend.insert(flat)
            self.batches += 1
            if self.on_batch is not None:
                self.on_batch(len(flat), time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - reported to each writer below
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            # One bad entry (say, a duplicate id) must not fail its neighbours.
            for entry in batch:
                await self._commit([entry])
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    async def drain(self) -> None:
        while self._task is not None:
            await asyncio.shield(self._task)
