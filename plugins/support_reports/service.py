"""Reports and monitor logic between the support service and the renderers (no stanzas here).

The same code serves the ad-hoc commands, the chat commands and the
``switchboard report`` command line: only the source of the recorded events
differs (the support plugin's public service in the component, the support
plugin's store over the database on the command line).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Awaitable, Callable, Iterable, Sequence

from . import replay
from .monitor import QueueInput, Snapshot, snapshot
from .render import ReportData, build

#: (since, until, queue, start kinds) -> rows (ticket, queue, kind, at, actor, data).
EventSource = Callable[[float, float, "str | None", tuple[str, ...]], Awaitable[Sequence[Sequence[Any]]]]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_when(value: str, tz: tzinfo, end: bool = False, now: float | None = None) -> float:
    """A time given by a person: ``YYYY-MM-DD`` (a whole day; as an end, the day is included),
    an ISO date-time (``2026-11-21T14:00``, with or without an offset; local times are in ``tz``),
    ``today``, ``yesterday`` or ``now``. Raises ValueError."""
    value = value.strip()
    current = datetime.fromtimestamp(time.time() if now is None else now, tz)
    word = value.lower()
    if word == "now":
        return current.timestamp()
    if word in ("today", "yesterday"):
        day = current.date() - timedelta(days=1 if word == "yesterday" else 0)
        return day_start(day + timedelta(days=1) if end else day, tz)
    if _DATE.match(value):
        day = date.fromisoformat(value)
        return day_start(day + timedelta(days=1) if end else day, tz)
    moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def day_start(day: date, tz: tzinfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def today_range(tz: tzinfo, now: float) -> tuple[float, float]:
    day = datetime.fromtimestamp(now, tz).date()
    return day_start(day, tz), day_start(day + timedelta(days=1), tz)


def week_range(tz: tzinfo, now: float) -> tuple[float, float]:
    """The ISO week (Monday to Sunday) containing ``now``."""
    day = datetime.fromtimestamp(now, tz).date()
    monday = day - timedelta(days=day.weekday())
    return day_start(monday, tz), day_start(monday + timedelta(days=7), tz)


def default_range(tz: tzinfo, now: float, days: int) -> tuple[float, float]:
    """The last ``days`` days, today included."""
    day = datetime.fromtimestamp(now, tz).date()
    return day_start(day - timedelta(days=days - 1), tz), day_start(day + timedelta(days=1), tz)


@dataclass
class Reports:
    """Reports over recorded events; ``source`` reads them (see :data:`EventSource`)."""

    source: EventSource
    tz: tzinfo
    tz_name: str
    now: Callable[[], float] = time.time

    async def conversations(self, since: float, until: float, queue: str | None = None,
                            queues: Iterable[str] | None = None) -> list[replay.Conversation]:
        """Conversations started in [since, until), of ``queue`` or of any of ``queues`` (None: all)."""
        rows = await self.source(since, until, queue, replay.START_KINDS)
        allowed = None if queues is None else set(queues)
        return [c for c in replay.conversations(replay.events_from_rows(rows))
                if since <= c.started_at < until and (queue is None or c.queue == queue)
                and (allowed is None or c.queue in allowed)]

    async def data(self, since: float, until: float, queue: str | None = None,
                   queues: Iterable[str] | None = None, lang: str = "en", period: str = "day",
                   group: str = "queue") -> ReportData:
        convs = await self.conversations(since, until, queue, queues)
        return build(convs, since, until, self.tz, self.tz_name, queue, lang, period, group, self.now())


async def live_everywhere(support: Any, queues: Sequence[str], now: float) -> Snapshot:
    """:func:`live` where several processes share the domain: a queue owned by another process is read
    as its owner stored it (support's ``queue_view``)."""
    inputs = []
    for name in queues:
        summary, tickets, agents = await support.queue_view(name)
        inputs.append(QueueInput(name, support.queue_title(name), summary, tickets, agents))
    return snapshot(inputs, now)


def live(support: Any, queues: Sequence[str], now: float) -> Snapshot:
    """The monitor's snapshot of ``queues`` from the support plugin's public service."""
    return snapshot([QueueInput(name, support.queue_title(name), support.summary(name),
                                support.open_tickets(name), support.agents(name)) for name in queues], now)
