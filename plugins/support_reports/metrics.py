"""Support metrics computed from recorded ticket events (pure functions, no I/O).

The support plugin records one row per state change of a ticket
(``support.ticket_event``). :func:`replay.conversations` replays them into
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
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Sequence

from .replay import Conversation

GROUPS = ("queue", "agent", "total")
PERIODS = ("day", "week", "hour", "all")

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
