"""The ledger: every ticket change is written through to the database as an event row, then announced.

Memory changes first (routing needs it at once), then ``_record`` stores the ticket and its event.
When the database refuses, memory goes back to the last stored copy (``_stored``), so a retry starts
from what the database holds and a restart never sees a state that was not stored.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

from . import hooks as events
from .model import Ticket

log = logging.getLogger("switchboard.plugins.support")


class Ledger:
    def _undo(self, t: Ticket) -> None:
        """The database refused a change: memory goes back to what it holds, so a retry starts afresh."""
        stored = self._stored.get(t.id)
        if stored is None:
            if self.tickets.get(t.id) is t:
                del self.tickets[t.id]  # never stored while open (a new or reopened ticket)
            self._reindex(t)
            return
        restored = copy.deepcopy(stored)
        for f in dataclasses.fields(Ticket):
            setattr(t, f.name, getattr(restored, f.name))
        self._reindex(t)
        if t.state == "offered" and t.offer_deadline is not None:
            self._schedule_offer_timeout(t)  # the change may have stopped the offer's clock
        log.warning("ticket change not stored; kept as before", extra={"ticket": t.id, "state": t.state})

    async def _record(self, ticket: Ticket, kind: str, actor: str = "", **data: Any) -> None:
        at = self.now()
        try:
            await self.store.save(ticket, [(kind, at, actor, data)])
        except BaseException:
            self._undo(ticket)
            raise
        if ticket.id in self.tickets:
            self._stored[ticket.id] = copy.deepcopy(ticket)
        self._reindex(ticket)
        log.info("ticket event", extra={"ticket": ticket.id, "queue": ticket.queue, "kind": kind,
                                        "state": ticket.state})
        try:
            await self.hooks.collect(events.TICKET_EVENT, events.TicketEvent(ticket.id, ticket.queue, kind, at,
                                                                              actor, data))
        except Exception:  # noqa: BLE001 - a listener's bug must not stop the queue
            log.exception("ticket event listener failed", extra={"ticket": ticket.id, "kind": kind})

    def _forget(self, t: Ticket) -> None:
        self.tickets.pop(t.id, None)
        self._stored.pop(t.id, None)
        self._reindex(t)
        for kind in ("offer", "grace", "status", "retry"):
            self._cancel((kind, t.id))
