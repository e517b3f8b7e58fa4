"""Support metrics computed from recorded ticket events (pure functions, no I/O).

The support plugin records one row per state change of a ticket
(``support.ticket_event``). :func:`conversations` replays them into
conversations; :func:`report` aggregates conversations per queue, agent or in
total, per day, week or the whole range.

Definitions (what a manager reads in the report):

- A *conversation* starts with a ``created`` (or ``reopened``) event and counts
  in the queue it started in, on the day/week it started (in the report's
  time zone). A ticket reopened later is a new conversation.
- *Bot*: the conversation went through the bot first line (``bot`` event).
  *Bot-resolved*: it ended (closed) while still with the bot, never queued;
  the share is over all conversations. *Hand-off*: queued after the bot; the
  rate is over bot conversations.
- *Wait*: from reaching the queue (first ``queued``) to the first ``accepted``,
  over answered conversations; average and 90th percentile (nearest rank:
  the ``ceil(0.9 n)``-th smallest value).
- *First response*: from reaching the queue to the agent's first message
  (``first_response``) - the wait the customer felt until a person wrote.
- *Handle time*: the time agents held the conversation: from each
  ``accepted`` to the ``transferred``/``pending``/``closed``/re-queue that
  ended that agent's turn, summed per conversation (waiting for the
  customer's reply does not count).
- *Abandonment*: customers who left while queued (``abandoned`` after
  ``queued``), over conversations that reached the queue. Leaving the bot
  before being queued is not abandonment of the queue.
- *Transfers*: ``transferred`` events (per agent: the ones they made).
- *CSAT*: ratings 1-5 (``rated`` events, data ``rating``); the last rating
  of a conversation counts, for its queue and for the agent who held it last.

Per agent, a conversation counts for every agent who accepted it; wait is the
wait of the turns they answered (a transferred customer waits again), first
response counts for the agent who wrote first, bot and abandonment figures do
not apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Iterable, Mapping, Sequence

#: Events that start a conversation.
START_KINDS = ("created", "reopened")
#: Events that end a conversation (the first one counts).
END_KINDS = ("closed", "resolved")
#: Events carrying a customer rating (``data["rating"]``, 1-5).
RATING_KINDS = ("rated",)
GROUPS = ("queue", "agent", "total")
PERIODS = ("day", "week", "hour", "all")


@dataclass(frozen=True)
class Event:
    ticket: str
    queue: str
    kind: str
    at: float
    actor: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


def events_from_rows(rows: Iterable[Sequence[Any]]) -> list[Event]:
    """(ticket, queue, kind, at, actor, data) rows, as the support service returns them."""
    return [Event(r[0], r[1], r[2], float(r[3]), r[4] or "", r[5] or {}) for r in rows]


@dataclass
class Leg:
    """One agent's turn with a conversation."""

    queue: str
    agent: str
    waiting_since: float | None
    accepted_at: float
    ended_at: float | None = None
    end: str = ""

    @property
    def wait(self) -> float | None:
        return None if self.waiting_since is None else self.accepted_at - self.waiting_since

    @property
    def handle(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.accepted_at


@dataclass
class Transfer:
    at: float
    actor: str
    from_queue: str
    from_agent: str
    to_queue: str
    to_agent: str


@dataclass
class Conversation:
    ticket: str
    queue: str
    started_at: float
    stage: str = "new"          #: new | bot | queued | active | pending | ended
    bot: bool = False
    bot_resolved: bool = False
    bot_left: bool = False      #: the customer left while with the bot
    handed_off: bool = False
    queued_at: float | None = None
    first_accept_at: float | None = None
    first_response_at: float | None = None
    first_response_by: str = ""
    ended_at: float | None = None
    abandoned: bool = False     #: left while queued
    transfers: list[Transfer] = field(default_factory=list)
    legs: list[Leg] = field(default_factory=list)
    rating: int | None = None
    waiting_since: float | None = None

    @property
    def wait(self) -> float | None:
        if self.queued_at is None or self.first_accept_at is None:
            return None
        return self.first_accept_at - self.queued_at

    @property
    def first_response(self) -> float | None:
        if self.queued_at is None or self.first_response_at is None:
            return None
        return self.first_response_at - self.queued_at

    @property
    def handle(self) -> float | None:
        turns = [leg.handle for leg in self.legs if leg.handle is not None]
        return sum(turns) if turns else None

    def handle_of(self, agent: str) -> float | None:
        turns = [leg.handle for leg in self.legs if leg.agent == agent and leg.handle is not None]
        return sum(turns) if turns else None

    @property
    def last_agent(self) -> str:
        return self.legs[-1].agent if self.legs else ""

    @property
    def agents(self) -> list[str]:
        seen: list[str] = []
        for leg in self.legs:
            if leg.agent not in seen:
                seen.append(leg.agent)
        return seen

    def _end_leg(self, at: float, why: str) -> None:
        if self.legs and self.legs[-1].ended_at is None:
            self.legs[-1].ended_at = at
            self.legs[-1].end = why


def _rating(data: Mapping[str, Any]) -> int | None:
    try:
        value = int(data.get("rating"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if 1 <= value <= 5 else None


def conversations(events: Iterable[Event]) -> list[Conversation]:
    """Replay events (in recorded order per ticket) into conversations, by start time.

    Events of a ticket before its first start event (a history cut by the
    time range) are ignored; kinds this module does not know are ignored too.
    """
    current: dict[str, Conversation] = {}
    result: list[Conversation] = []
    for ev in events:
        if ev.kind in START_KINDS:
            conv = Conversation(ev.ticket, ev.queue, ev.at)
            current[ev.ticket] = conv
            result.append(conv)
            continue
        conv = current.get(ev.ticket)
        if conv is None:
            continue
        _apply(conv, ev)
    result.sort(key=lambda c: (c.started_at, c.ticket))
    return result


def _apply(conv: Conversation, ev: Event) -> None:
    kind, at = ev.kind, ev.at
    if kind == "bot":
        conv.bot = True
        conv.stage = "bot"
    elif kind == "queued":
        if conv.stage == "bot":
            conv.handed_off = True
        conv._end_leg(at, "requeued")
        if conv.queued_at is None:
            conv.queued_at = at
        conv.waiting_since = at
        conv.stage = "queued"
    elif kind == "accepted":
        conv.legs.append(Leg(ev.queue, ev.actor, conv.waiting_since, at))
        if conv.first_accept_at is None:
            conv.first_accept_at = at
        conv.waiting_since = None
        conv.stage = "active"
    elif kind == "first_response":
        if conv.first_response_at is None:
            conv.first_response_at = at
            conv.first_response_by = ev.actor or conv.last_agent
    elif kind == "pending":
        # The agent waits for the customer's reply: their turn ends (capacity is freed); a reply queues it again.
        conv._end_leg(at, "pending")
        conv.stage = "pending"
    elif kind == "transferred":
        data = ev.data
        from_agent = str(data.get("from_agent") or "")
        conv.transfers.append(Transfer(at, ev.actor, str(data.get("from_queue") or ev.queue), from_agent,
                                       str(data.get("to_queue") or ""), str(data.get("to_agent") or "")))
        conv._end_leg(at, "transferred")
        conv.waiting_since = at
        conv.stage = "queued"
    elif kind in END_KINDS:
        if conv.stage == "ended":
            return
        if conv.stage in ("new", "bot") and conv.queued_at is None:
            conv.bot_resolved = conv.bot
        conv._end_leg(at, kind)
        conv.ended_at = at
        conv.stage = "ended"
    elif kind == "abandoned":
        if conv.stage == "ended":
            return
        if conv.stage == "queued":  # queued or offered: the customer gave up waiting
            conv.abandoned = True
        elif conv.stage == "bot":
            conv.bot_left = True
        conv._end_leg(at, kind)
        conv.ended_at = at
        conv.stage = "ended"
    elif kind in RATING_KINDS:
        rating = _rating(ev.data)
        if rating is not None:
            conv.rating = rating


# -- statistics -----------------------------------------------------------------------------

def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: the ``ceil(p/100 * n)``-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


#: Report columns in order: (key, English label, Chinese label, kind). Kinds: text | count | rate | seconds | score.
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("period", "Period", "时段", "text"),
    ("queue", "Queue", "队列", "text"),
    ("agent", "Agent", "客服", "text"),
    ("conversations", "Conversations", "会话数", "count"),
    ("bot", "With bot", "机器人接待", "count"),
    ("bot_resolved", "Bot-resolved", "机器人解决", "count"),
    ("bot_resolved_share", "Bot-resolved share", "机器人解决率", "rate"),
    ("handed_off", "Handed off", "转人工", "count"),
    ("handoff_rate", "Hand-off rate", "转人工率", "rate"),
    ("queued", "Queued", "进入排队", "count"),
    ("answered", "Answered", "已接待", "count"),
    ("abandoned", "Abandoned", "放弃排队", "count"),
    ("abandonment_rate", "Abandonment rate", "放弃率", "rate"),
    ("wait_avg", "Average wait", "平均等待", "seconds"),
    ("wait_p90", "90th percentile wait", "90%等待", "seconds"),
    ("first_response_avg", "First response", "首次响应", "seconds"),
    ("handle_avg", "Handle time", "处理时长", "seconds"),
    ("transfers", "Transfers", "转接次数", "count"),
    ("csat_count", "Ratings", "评价数", "count"),
    ("csat_avg", "CSAT average", "满意度均分", "score"),
    ("csat_1", "CSAT 1", "1分", "count"),
    ("csat_2", "CSAT 2", "2分", "count"),
    ("csat_3", "CSAT 3", "3分", "count"),
    ("csat_4", "CSAT 4", "4分", "count"),
    ("csat_5", "CSAT 5", "5分", "count"),
)
COLUMN_KINDS = {key: kind for key, _en, _zh, kind in COLUMNS}
#: Columns that do not apply to an agent (None in agent rows).
QUEUE_ONLY = ("bot", "bot_resolved", "bot_resolved_share", "handed_off", "handoff_rate", "queued", "abandoned",
              "abandonment_rate")


def columns_for(group: str) -> list[str]:
    """The column keys of a report grouped by ``group``."""
    keys = [key for key, *_ in COLUMNS]
    if group == "queue":
        keys.remove("agent")
    elif group == "agent":
        keys = [k for k in keys if k not in QUEUE_ONLY and k != "queue"]
    else:
        keys.remove("queue")
        keys.remove("agent")
    return keys


def _csat(ratings: list[int]) -> dict[str, Any]:
    row: dict[str, Any] = {"csat_count": len(ratings), "csat_avg": mean([float(r) for r in ratings])}
    for score in range(1, 6):
        row[f"csat_{score}"] = sum(1 for r in ratings if r == score)
    return row


def queue_figures(convs: Sequence[Conversation]) -> dict[str, Any]:
    """The figures of a set of conversations (queue or total rows)."""
    n = len(convs)
    bot = [c for c in convs if c.bot]
    bot_resolved = sum(1 for c in convs if c.bot_resolved)
    handed_off = sum(1 for c in bot if c.handed_off)
    queued = [c for c in convs if c.queued_at is not None]
    abandoned = sum(1 for c in queued if c.abandoned)
    waits = [c.wait for c in convs if c.wait is not None]
    firsts = [c.first_response for c in convs if c.first_response is not None]
    handles = [c.handle for c in convs if c.handle is not None]
    row: dict[str, Any] = {
        "conversations": n,
        "bot": len(bot),
        "bot_resolved": bot_resolved,
        "bot_resolved_share": ratio(bot_resolved, n),
        "handed_off": handed_off,
        "handoff_rate": ratio(handed_off, len(bot)),
        "queued": len(queued),
        "answered": sum(1 for c in convs if c.first_accept_at is not None),
        "abandoned": abandoned,
        "abandonment_rate": ratio(abandoned, len(queued)),
        "wait_avg": mean(waits),                       # type: ignore[arg-type]
        "wait_p90": percentile(waits, 90),             # type: ignore[arg-type]
        "first_response_avg": mean(firsts),            # type: ignore[arg-type]
        "handle_avg": mean(handles),                   # type: ignore[arg-type]
        "transfers": sum(len(c.transfers) for c in convs),
    }
    row.update(_csat([c.rating for c in convs if c.rating is not None]))
    return row


def agent_figures(agent: str, convs: Sequence[Conversation]) -> dict[str, Any]:
    """The figures of one agent over the conversations they took part in."""
    mine = [c for c in convs if agent in c.agents]
    waits = [leg.wait for c in mine for leg in c.legs if leg.agent == agent and leg.wait is not None]
    firsts = [c.first_response for c in mine if c.first_response_by == agent and c.first_response is not None]
    handles = [h for c in mine if (h := c.handle_of(agent)) is not None]
    transfers = sum(1 for c in mine for t in c.transfers if (t.from_agent or t.actor) == agent)
    row: dict[str, Any] = {
        "conversations": len(mine),
        "answered": sum(1 for c in mine for leg in c.legs if leg.agent == agent),
        "wait_avg": mean(waits),                       # type: ignore[arg-type]
        "wait_p90": percentile(waits, 90),             # type: ignore[arg-type]
        "first_response_avg": mean(firsts),            # type: ignore[arg-type]
        "handle_avg": mean(handles),                   # type: ignore[arg-type]
        "transfers": transfers,
    }
    row.update(_csat([c.rating for c in mine if c.rating is not None and c.last_agent == agent]))
    return row


def period_key(at: float, period: str, tz: tzinfo = timezone.utc) -> str:
    """The period a time falls in: ``2026-11-21`` (day), ``2026-W47`` (ISO week), ``2026-11-21 14:00`` (hour)."""
    if period == "all":
        return ""
    moment = datetime.fromtimestamp(at, tz)
    if period == "day":
        return moment.strftime("%Y-%m-%d")
    if period == "hour":
        return moment.strftime("%Y-%m-%d %H:00")
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    raise ValueError(f"unknown period {period!r}")


def report(convs: Sequence[Conversation], group: str = "queue", period: str = "day",
           tz: tzinfo = timezone.utc) -> list[dict[str, Any]]:
    """Rows of figures per (period, queue | agent | total), sorted by period then name.

    ``period`` is day | week | hour | all (one row per group over the whole range).
    """
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}")
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    buckets: dict[str, list[Conversation]] = {}
    for c in convs:
        buckets.setdefault(period_key(c.started_at, period, tz), []).append(c)
    rows: list[dict[str, Any]] = []
    for key in sorted(buckets):
        bucket = buckets[key]
        if group == "total":
            rows.append({"period": key, **queue_figures(bucket)})
        elif group == "queue":
            for queue in sorted({c.queue for c in bucket}):
                rows.append({"period": key, "queue": queue,
                             **queue_figures([c for c in bucket if c.queue == queue])})
        else:
            for agent in sorted({a for c in bucket for a in c.agents}):
                rows.append({"period": key, "agent": agent, **agent_figures(agent, bucket)})
    return rows


def hourly_profile(convs: Sequence[Conversation], tz: tzinfo = timezone.utc) -> list[dict[str, Any]]:
    """Per hour of the day (0-23, summed over the days): conversations, and the average wait of those answered."""
    hours: list[dict[str, Any]] = []
    for hour in range(24):
        bucket = [c for c in convs if datetime.fromtimestamp(c.started_at, tz).hour == hour]
        waits = [c.wait for c in bucket if c.wait is not None]
        hours.append({"hour": hour, "conversations": len(bucket), "wait_avg": mean(waits)})  # type: ignore[arg-type]
    return hours


def days_between(since: float, until: float, tz: tzinfo = timezone.utc) -> list[str]:
    """Every day key in [since, until), so charts show the days without conversations too."""
    keys: list[str] = []
    day = datetime.fromtimestamp(since, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    end = datetime.fromtimestamp(until, tz)
    while day < end and len(keys) < 3660:
        keys.append(day.strftime("%Y-%m-%d"))
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)  # DST-safe step to the next midnight
    return keys
