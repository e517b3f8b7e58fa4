"""Group commit of ticket changes: queued in memory in order, written one transaction per batch.

Each entry is a copy of a ticket as changed plus its new events. The writer takes every entry
queued so far (at most ``max_batch``) as soon as the previous transaction is done, so a storm of
changes costs one commit per batch instead of one per event. Whoever recorded a change awaits its
entry before telling anyone about it: what a person is told is stored first.

A refused batch fails its entries and every entry queued behind it (those were made on top of
memory the database did not take); ``on_refused`` puts memory back for all of them at once, before
their waiters learn of it, so nothing runs in between on the refused state.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .model import Ticket

log = logging.getLogger("switchboard.plugins.support")


@dataclass(slots=True)
class Entry:
    ticket: Ticket                      # the live ticket (memory)
    copy: Ticket                        # the ticket as it is to be stored
    events: list[tuple[str, float, str, dict]]
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    #: False: only the events are written, not the ticket's row (a change made by a process that
    #: does not hold the ticket, such as a note: the row belongs to the holder).
    row: bool = True
    #: Queue -> the owner's fencing token it was changed under, where processes share the domain
    #: (ownership.py ``_tokens``): the batch is refused unless each is still the queue's.
    fence: dict[str, int] | None = None


class Journal:
    def __init__(self, save: Callable[[Sequence[Entry]], Any], on_stored: Callable[[Entry], None],
                 on_refused: Callable[[list[Entry]], None], max_batch: int = 500) -> None:
        self._save = save
        self._on_stored = on_stored
        self._on_refused = on_refused
        self.max_batch = max_batch
        self._queue: list[Entry] = []
        self._writer: asyncio.Task | None = None
        #: Figures for benchmarks: transactions and entries written.
        self.batches = 0
        self.entries = 0

    def submit(self, entry: Entry) -> asyncio.Future:
        self._queue.append(entry)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        return entry.done

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                await self._save(batch)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter of the refused changes
                failed, self._queue = batch + self._queue, []
                log.warning("ticket changes not stored", extra={"entries": len(failed),
                                                               "error": type(exc).__name__})
                try:
                    self._on_refused(failed)
                finally:
                    for e in failed:
                        if e.done.done():
                            continue
                        if isinstance(exc, asyncio.CancelledError):
                            e.done.cancel()
                        else:
                            e.done.set_exception(exc)
                            e.done.exception()  # retrieved: a waiter that went away leaves no warning
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self.batches += 1
            self.entries += len(batch)
            for e in batch:
                self._on_stored(e)
                if not e.done.done():
                    e.done.set_result(None)

    async def drain(self) -> None:
        """Wait until everything queued so far is written (or refused)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])

    def cancel(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
