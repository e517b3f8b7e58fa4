"""Queue status: positions and estimated waits told to waiting customers, and queue summaries.

A change in a queue does not message every waiting customer at once: it marks the queue, and one
batch per ``status_interval`` tells each customer whose place or wait changed (at most one update
per customer per interval). The batch walks the waiting list a slice at a time and yields to the
event loop after a few milliseconds of work, so that ten thousand positions (computing them, and
building the messages) never stall it. A newcomer is told their place at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from . import routing
from .model import WAITING_STATES, Ticket
from .texts import text

#: Waiting customers looked at per slice of a status batch.
STATUS_SLICE = 50
#: Work (seconds) a status batch does before it yields to the event loop.
STATUS_BUDGET = 0.004


class QueueStatus:
    def per_customer_wait(self, queue: str) -> float:
        samples = self._wait_samples.get(queue)
        return sum(samples) / len(samples) if samples else self.options.expected_wait

    def status(self, t: Ticket) -> tuple[int, int]:
        """(entries ahead, estimated seconds) for a waiting ticket; (0, 0) when being routed."""
        if t.state == "offered":
            return 0, 0
        waiting = self.waiting.get(t.queue)
        if waiting is None:
            ahead = 0
        else:  # its place in the list (a ticket not listed: where its key would go)
            ahead = waiting.ahead(t.id) if t.id in waiting else waiting.rank(t.sort_key())
        online = len(self._seats(t.queue))
        return ahead, routing.estimate_wait(ahead, self.per_customer_wait(t.queue), online)

    def summary(self, queue: str) -> dict[str, Any]:
        waiting = self.waiting.get(queue)
        seated = self._seats(queue)
        return {
            "count": len(waiting) if waiting is not None else 0,
            "oldest": waiting.oldest() if waiting is not None else None,
            "time": int(round(self.per_customer_wait(queue))),
            "status": "open" if self.accepting(queue) else "closed",
            "available": len(seated),
            "current_chats": sum(self.load_of(s.agent.jid) for s in seated),
            "max_chats": sum(s.capacity for s in seated),
        }

    def _statuses(self, queue: str, start: int = 0, stop: int | None = None) -> dict[str, tuple[int, int]]:
        """status() of the waiting tickets of a queue from position ``start`` to ``stop`` (all of them by
        default), in one walk of that part of its waiting list."""
        per_customer = self.per_customer_wait(queue)
        online = len(self._seats(queue))
        result: dict[str, tuple[int, int]] = {}
        waiting = self.waiting.get(queue)
        for ahead, ticket_id in enumerate(waiting.ids(start, stop) if waiting is not None else (), start):
            t = self.tickets.get(ticket_id)
            if t is not None:
                result[ticket_id] = (0, 0) if t.state == "offered" else (
                    ahead, routing.estimate_wait(ahead, per_customer, online))
        return result

    def _refresh(self, queue: str) -> None:
        """The queue changed: its customers hear about it with the next batch."""
        if queue not in self.waiting:
            return
        self._status_dirty.add(queue)
        key = ("queue-status", queue)
        if key in self._timers or queue in self._status_running:
            return
        due = self._status_last.get(queue, float("-inf")) + self.options.status_interval
        self._later(key, max(0.0, due - self.now()), lambda: self._send_statuses(queue))

    async def _send_statuses(self, queue: str) -> None:
        self._status_running.add(queue)
        self._status_dirty.discard(queue)
        deferred = False
        try:
            now = self._status_last[queue] = self.now()
            interval = self.options.status_interval
            start, since = 0, time.perf_counter()
            # Positions are read a slice at a time, as the list is then: customers who leave or come
            # in between make the queue dirty again, and the next batch puts right what moved.
            while start < len(self.waiting.get(queue, ())):
                for ticket_id, current in self._statuses(queue, start, start + STATUS_SLICE).items():
                    t = self.tickets.get(ticket_id)
                    if t is None or t.state not in WAITING_STATES or t.last_status == current \
                            or ticket_id in self._unannounced:
                        continue  # (not yet greeted: told by _queue right after its greeting)
                    if t.last_status is not None and t.last_status_at + interval > now:
                        deferred = True  # told recently: the next batch
                        continue
                    self._send_status(t, current, update=True)
                start += STATUS_SLICE
                if time.perf_counter() - since >= STATUS_BUDGET:
                    await asyncio.sleep(0)
                    since = time.perf_counter()
        finally:
            self._status_running.discard(queue)
        if deferred or queue in self._status_dirty:
            self._refresh(queue)

    def _status_now(self, t: Ticket) -> None:
        """Tell one customer their place now, unless they were told within ``status_interval``."""
        if t.state not in WAITING_STATES or t.id not in self.tickets:
            return
        current = self.status(t)
        if t.last_status == current:
            return
        if t.last_status is None or t.last_status_at + self.options.status_interval <= self.now():
            self._send_status(t, current)

    def _send_status(self, t: Ticket, current: tuple[int, int] | None = None, update: bool = False) -> None:
        """``update``: one of a status batch's (it may wait while the server is behind)."""
        ahead, seconds = current or self.status(t)
        t.last_status, t.last_status_at = (ahead, seconds), self.now()
        if t.state == "offered":
            body = text("routing", t.lang)
        else:
            body = text("position", t.lang, number=ahead + 1, ahead=ahead, minutes=max(1, math.ceil(seconds / 60)))
        self.outbox.customer_notice(t, body, status=(ahead, seconds), update=update)
