"""Report figures from recorded events, checked against a scripted day with hand-computed answers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from plugins.support_reports import metrics, replay
from plugins.support_reports.metrics import percentile, report
from plugins.support_reports.replay import Event, conversations
from plugins.support_reports.service import Reports, parse_when

from .day import A1, A2, A3, AGENTS_DAY, DAY, HELP_DAY, NEXT_DAY, SALES_DAY, TOTAL_DAY, rows, script


def same(row: dict, expected: dict) -> None:
    for key, value in expected.items():
        if value is None or isinstance(value, str):
            assert row[key] == value, key
        else:
            assert row[key] == pytest.approx(value), key


def of_day(convs):
    return [c for c in convs if DAY <= c.started_at < NEXT_DAY]


def test_percentile_is_nearest_rank_and_empty_is_none():
    assert percentile([30, 60, 100, 120, 240], 90) == 240
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile(list(range(1, 21)), 90) == 18
    assert percentile([7], 90) == 7
    assert percentile([], 90) is None
    assert metrics.mean([]) is None and metrics.ratio(1, 0) is None


def test_conversations_replay_the_script():
    convs = conversations(script())
    by_key = {(c.ticket, c.started_at): c for c in convs}
    assert len(convs) == 12  # t0..t8, t2 reopened, s1, s2
    t2 = [c for c in convs if c.ticket == "t2"]
    assert len(t2) == 2 and t2[0].rating == 5 and t2[1].rating is None
    t3 = next(c for c in convs if c.ticket == "t3")
    assert [(leg.agent, leg.wait, leg.handle) for leg in t3.legs] == [(A2, 120, 480), (A1, 60, 600)]
    assert t3.last_agent == A1 and t3.rating == 2 and len(t3.transfers) == 1
    t6 = next(c for c in convs if c.ticket == "t6")
    assert t6.bot_left and not t6.abandoned and not t6.bot_resolved
    t5 = next(c for c in convs if c.ticket == "t5")
    assert t5.rating == 4  # the invalid second rating is ignored
    assert by_key  # every conversation has its own start


def test_queue_rows_of_the_day():
    result = report(of_day(conversations(script())), "queue", "day")
    assert [(r["period"], r["queue"]) for r in result] == [("2026-11-20", "help"), ("2026-11-20", "sales")]
    same(result[0], HELP_DAY)
    same(result[1], SALES_DAY)


def test_total_and_agent_rows_of_the_day():
    convs = of_day(conversations(script()))
    (total,) = report(convs, "total", "all")
    same(total, {**TOTAL_DAY, "period": ""})
    agents = report(convs, "agent", "all")
    assert [r["agent"] for r in agents] == [A1, A2, A3]
    for row in agents:
        same(row, AGENTS_DAY[row["agent"]])
        assert "bot" not in row and "abandoned" not in row


def test_days_weeks_and_time_zones():
    convs = conversations(script())
    days = report(convs, "total", "day")
    assert [(r["period"], r["conversations"]) for r in days] == [("2026-11-19", 1), ("2026-11-20", 10),
                                                                 ("2026-11-21", 1)]
    weeks = report(convs, "queue", "week")
    assert [(r["period"], r["queue"], r["conversations"]) for r in weeks] == [
        ("2026-W47", "help", 10), ("2026-W47", "sales", 2)]
    # In Shanghai (UTC+8) s2 (16:00 UTC) starts on the 21st and t0 (23:50 UTC) on the 20th.
    shanghai = report(convs, "queue", "day", ZoneInfo("Asia/Shanghai"))
    assert [(r["period"], r["queue"], r["conversations"]) for r in shanghai] == [
        ("2026-11-20", "help", 9), ("2026-11-20", "sales", 1), ("2026-11-21", "help", 1),
        ("2026-11-21", "sales", 1)]
    hours = metrics.hourly_profile(of_day(convs))
    assert hours[9]["conversations"] == 3 and hours[9]["wait_avg"] == pytest.approx(330.0)  # t2 60, s1 600
    assert hours[12]["conversations"] == 0 and hours[12]["wait_avg"] is None


async def test_range_filter_drops_conversations_started_outside():
    seen = {}

    async def source(since, until, queue, starts):
        seen["args"] = (since, until, queue, starts)
        return [r for r in rows() if queue is None or r[1] == queue]

    reports = Reports(source, ZoneInfo("UTC"), "UTC")
    convs = await reports.conversations(DAY, NEXT_DAY)
    assert sorted({c.ticket for c in convs}) == ["s1", "s2", "t1", "t2", "t3", "t4", "t5", "t6", "t7"]
    assert seen["args"] == (DAY, NEXT_DAY, None, replay.START_KINDS)
    only_help = await reports.conversations(DAY, NEXT_DAY, queues=["help"])
    assert {c.queue for c in only_help} == {"help"} and len(only_help) == 8
    data = await reports.data(DAY, NEXT_DAY, "sales", group="queue", period="day")
    assert len(data.rows) == 1
    same(data.rows[0], SALES_DAY)


def test_unknown_kinds_partial_histories_and_odd_orders_do_not_break():
    events = [
        Event("x", "help", "accepted", 10.0, A1),           # before its start: ignored
        Event("x", "help", "created", 20.0, "c@x"),
        Event("x", "help", "tagged", 21.0, A1, {"tag": "vip"}),  # unknown kind: ignored
        Event("x", "help", "queued", 22.0),
        Event("x", "help", "closed", 30.0, "admin@x"),      # closed while waiting: not answered
        Event("x", "help", "closed", 31.0, "admin@x"),      # a second end changes nothing
        Event("y", "help", "created", 40.0, "d@x"),
        Event("y", "help", "queued", 40.0),
        Event("y", "help", "accepted", 50.0, A2),            # still open at the end of the range
    ]
    (x, y) = conversations(events)
    assert x.ended_at == 30.0 and x.first_accept_at is None and not x.abandoned and x.handle is None
    assert y.wait == 10.0 and y.handle is None and y.ended_at is None
    (row,) = report([x, y], "queue", "all")
    assert row["answered"] == 1 and row["handle_avg"] is None and row["abandonment_rate"] == 0.0


def test_pending_time_is_not_handle_time_and_the_reply_waits_again():
    events = [
        Event("p", "help", "created", 0.0, "c@x"),
        Event("p", "help", "queued", 0.0),
        Event("p", "help", "accepted", 10.0, A1),
        Event("p", "help", "first_response", 15.0, A1),
        Event("p", "help", "pending", 70.0, A1, {"agent": A1}),       # A1 held it 60 s
        Event("p", "help", "queued", 3670.0),                         # the customer replied an hour later
        Event("p", "help", "accepted", 3690.0, A1),                   # 20 s of waiting again
        Event("p", "help", "closed", 3730.0, A1, {"reason": "resolved", "rating_requested": True}),
        Event("p", "help", "rated", 3740.0, "c@x", {"rating": 4, "comment": "fine"}),
        Event("p", "help", "finalized", 90000.0),
    ]
    (p,) = conversations(events)
    assert p.handle == 100.0 and p.wait == 10.0 and p.first_response == 15.0 and p.rating == 4
    assert [leg.end for leg in p.legs] == ["pending", "closed"]
    (agent,) = report([p], "agent", "all")
    assert agent["answered"] == 2 and agent["wait_avg"] == 15.0 and agent["handle_avg"] == 100.0


def test_empty_report_has_no_rows_and_bad_arguments_are_refused():
    assert report([], "queue", "day") == []
    with pytest.raises(ValueError):
        report([], "room", "day")
    with pytest.raises(ValueError):
        report([], "queue", "month")


def test_parse_when():
    utc = ZoneInfo("UTC")
    assert parse_when("2026-11-20", utc) == DAY
    assert parse_when("2026-11-20", utc, end=True) == NEXT_DAY
    assert parse_when("2026-11-20T09:30", utc) == DAY + 9.5 * 3600
    assert parse_when("2026-11-20 09:30+08:00", utc) == DAY + 1.5 * 3600
    assert parse_when("2026-11-20", ZoneInfo("Asia/Shanghai")) == DAY - 8 * 3600
    assert parse_when("today", utc, now=DAY + 5000) == DAY
    assert parse_when("yesterday", utc, end=True, now=DAY + 5000) == DAY
    assert parse_when("now", utc, now=DAY + 5000) == DAY + 5000
    for bad in ("20/11/2026", "", "2026-13-01"):
        with pytest.raises(ValueError):
            parse_when(bad, utc)
