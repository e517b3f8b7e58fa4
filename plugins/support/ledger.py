"""The ledger: every ticket change is written to the database as an event row, then announced.

Memory changes first (routing needs it at once), then the change goes to the journal
(journal.py), which writes the changes queued so far in one transaction per batch. What a person
is told about a change waits until it is stored. When the database refuses a batch, memory goes
back to the last stored copy (``_stored``) of every ticket it touched, so a retry starts from what
the database holds and a restart never sees a state that was not stored.

Three ways to record: ``_record(..., release=True)`` lets other changes run during the write
(they join the same batch): what follows checks the ticket again, since it may have moved on; most
changes record so. ``_record`` without it keeps the engine's lock during the write (a few rare
changes whose follow-ups need the state unchanged); ``_change`` returns at once, and its waiter
(``_stored_then``) tells people later.

A ticket being closed (resolved, closed or abandoned in memory, its write not yet done) is no
longer open: ``Directory._open`` and ``live`` refuse it as they will once it is forgotten, so
nothing acts on it while the lock is lent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Awaitable, Callable, Sequence

from component.owners import OwnerChanged

from . import hooks as events
from .journal import Entry, Journal
from .model import Ticket

log = logging.getLogger("switchboard.plugins.support")


class OwnedLock(asyncio.Lock):
    """The engine's lock, knowing which task holds it (so a write may lend it out meanwhile)."""

    owner: asyncio.Task | None = None

    async def acquire(self) -> bool:
        await super().acquire()
        self.owner = asyncio.current_task()
        return True

    def release(self) -> None:
        self.owner = None
        super().release()


class Ledger:
    def _init_ledger(self, max_batch: int = 500) -> None:
        self.journal = Journal(self._save_batch, self._batch_stored, self._batch_refused, max_batch)

    async def _save_batch(self, entries: Sequence[Entry]) -> None:
        if self.fence is None:
            await self.store.save_batch(entries)
            return
        try:
            await self.store.save_batch(entries, self.fence.check)
        except OwnerChanged as changed:
            self._owner_changed(changed.names)  # at once, before anything else acts on the queues
            raise

    def _batch_stored(self, e: Entry) -> None:
        if not e.row:
            return
        if self.tickets.get(e.ticket.id) is e.ticket:
            self._stored[e.ticket.id] = e.copy
        self.lookup.stored(e.copy)

    def _batch_refused(self, entries: list[Entry]) -> None:
        seen: set[int] = set()
        for e in reversed(entries):
            if e.row and id(e.ticket) not in seen:
                seen.add(id(e.ticket))
                self._undo(e.ticket)

    def _undo(self, t: Ticket) -> None:
        """The database refused a change: memory goes back to what it holds, so a retry starts afresh."""
        stored = self._stored.get(t.id)
        if stored is None:
            if self.tickets.get(t.id) is t:
                del self.tickets[t.id]  # never stored while open (a new or reopened ticket)
            self._reindex(t)
            return
        restored = stored.snapshot()
        for f in dataclasses.fields(Ticket):
            setattr(t, f.name, getattr(restored, f.name))
        self._reindex(t)
        if t.state == "offered" and t.offer_deadline is not None:
            self._schedule_offer_timeout(t)  # the change may have stopped the offer's clock
        else:
            self._cancel(("offer", t.id))  # a refused offer has no clock
        log.warning("ticket change not stored; kept as before", extra={"ticket": t.id, "state": t.state})

    def _change(self, ticket: Ticket, kind: str | None, actor: str = "", **data: Any) -> Entry:
        """Queue a change of ``ticket`` (and its event, unless ``kind`` is None) for the next batch."""
        at = self.now()
        entry = Entry(ticket, ticket.snapshot(), [(kind, at, actor, data)] if kind else [],
                      fence=self._tokens(ticket))
        self._reindex(ticket)
        self.journal.submit(entry)
        return entry

    async def _record_event(self, ticket: Ticket, kind: str, actor: str = "", **data: Any) -> None:
        """Store an event of a ticket this engine does not hold (a note on a conversation whose queue
        is served elsewhere, or on a finished ticket): the ticket's row is its holder's to write."""
        entry = Entry(ticket, ticket, [(kind, self.now(), actor, data)], row=False)
        self.journal.submit(entry)
        await self._lent(entry)
        await self._announce(entry)

    async def _stored_then(self, entry: Entry, then: Callable[[], Awaitable[Any] | None] | None = None) -> None:
        """Wait until ``entry`` is stored, announce it, then do ``then`` (what people are told)."""
        await entry.done
        await self._announce(entry)
        if then is not None:
            result = then()
            if result is not None:
                await result

    async def _announce(self, entry: Entry) -> None:
        t = entry.ticket
        for kind, at, actor, data in entry.events:
            log.info("ticket event", extra={"ticket": t.id, "queue": entry.copy.queue, "kind": kind,
                                            "state": entry.copy.state})
            try:
                await self.hooks.collect(events.TICKET_EVENT, events.TicketEvent(t.id, entry.copy.queue, kind, at,
                                                                                  actor, data))
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the queue
                log.exception("ticket event listener failed", extra={"ticket": t.id, "kind": kind})

    async def _record(self, ticket: Ticket, kind: str, actor: str = "", release: bool = False, **data: Any) -> None:
        entry = self._change(ticket, kind, actor, **data)
        if release:
            await self._lent(entry)
        else:
            await entry.done
        await self._announce(entry)

    async def _lent(self, entry: Entry) -> None:
        """Wait until ``entry`` is stored, lending the engine's lock meanwhile (when this task holds
        it): other changes run and join the batch, so whatever follows must check the ticket again."""
        if self._lock.owner is not asyncio.current_task():
            await entry.done
            return
        self._lock.release()
        try:
            await entry.done
        finally:
            await self._reacquire()

    async def _lent_all(self, entries: Sequence[Entry]) -> None:
        """Wait until every entry is stored or refused (never raises), lending the lock meanwhile."""
        held = self._lock.owner is asyncio.current_task()
        if held:
            self._lock.release()
        try:
            await asyncio.wait([e.done for e in entries])
        finally:
            if held:
                await self._reacquire()

    async def _reacquire(self) -> None:
        cancelled = False
        while True:
            try:
                await self._lock.acquire()
                break
            except asyncio.CancelledError:
                cancelled = True  # the caller's ``async with`` releases the lock: take it first
        if cancelled:
            raise asyncio.CancelledError

    def _forget(self, t: Ticket) -> None:
        self.tickets.pop(t.id, None)
        self._stored.pop(t.id, None)
        self._reindex(t)
        for kind in ("offer", "grace", "status", "retry"):
            self._cancel((kind, t.id))
