"""A scripted day of conversations (2026-11-20, UTC) with hand-computed figures.

help queue, bot first line, agents a1 and a2; sales queue without bot, agent a3.

  t1  09:00 bot answers, closes at 09:01 (bot-resolved)
  t2  09:10 bot; hand-off 09:12; a1 accepts 09:13 (wait 60), writes 09:13:30 (first response 90),
            closes 09:23 (handle 600); rated 5
  t3  10:00 queued; a2 accepts 10:02 (wait 120), writes 10:03 (first response 180); a2 transfers to a1
            at 10:10 (a2 handled 480); a1 accepts 10:11 (a1 waited 60), closes 10:21 (a1 600: 1080 in
            all); rated 2 (a1 held it last)
  t4  11:00 queued; leaves at 11:05 (abandoned)
  t5  11:30 bot; hand-off 11:31; a1 accepts 11:35 (wait 240), writes 11:36 (first response 300),
            closes 11:50 (handle 900); rated 4
  t6  14:00 bot; the customer leaves the bot at 14:02 (neither resolved nor abandonment)
  t7  15:00 queued; a2 accepts 15:00:30 (wait 30), writes 15:01 (first response 60), closes 15:05:30
            (handle 300)
  t2' 13:00 t2 reopened, queued; a2 accepts 13:01:40 (wait 100), writes 13:02 (first response 120),
            closes 13:10 (handle 500)
  s1  09:30 sales, queued; a3 accepts 09:40 (wait 600), writes 09:41 (first response 660), closes
            10:00 (handle 1200); rated 3
  s2  16:00 sales, queued; leaves at 16:10 (abandoned)

Around the day: t0 started the day before (23:50) and closed at 00:10 (outside a report of the
20th); t8 on the 21st at 08:00 (wait 20, handle 100, rated 5).
"""

from __future__ import annotations

from datetime import datetime, timezone

from plugins.support_reports.replay import Event

DAY = datetime(2026, 11, 20, tzinfo=timezone.utc).timestamp()
NEXT_DAY = DAY + 86400
A1, A2, A3 = "a1@localhost", "a2@localhost", "a3@localhost"


def at(hh: int, mm: int, ss: int = 0, day: float = DAY) -> float:
    return day + hh * 3600 + mm * 60 + ss


def script() -> list[Event]:
    rows: list[tuple[str, str, str, float, str, dict]] = [
        ("t0", "help", "created", at(23, 50, day=DAY - 86400), "c0@x", {}),
        ("t0", "help", "queued", at(23, 50, day=DAY - 86400), "", {}),
        ("t0", "help", "accepted", at(23, 55, day=DAY - 86400), A1, {}),
        ("t0", "help", "closed", at(0, 10), A1, {"reason": "resolved"}),

        ("t1", "help", "created", at(9, 0), "c1@x", {"via": "chat"}),
        ("t1", "help", "bot", at(9, 0), "", {}),
        ("t1", "help", "closed", at(9, 1), "", {"reason": "bot"}),

        ("t2", "help", "created", at(9, 10), "c2@x", {}),
        ("t2", "help", "bot", at(9, 10), "", {}),
        ("t2", "help", "queued", at(9, 12), "", {}),
        ("t2", "help", "offered", at(9, 12), "", {"agents": [A1]}),
        ("t2", "help", "accepted", at(9, 13), A1, {}),
        ("t2", "help", "first_response", at(9, 13, 30), A1, {}),
        ("t2", "help", "note", at(9, 20), A1, {}),
        ("t2", "help", "closed", at(9, 23), A1, {"reason": "resolved"}),
        ("t2", "help", "rated", at(9, 24), "c2@x", {"rating": 5}),

        ("s1", "sales", "created", at(9, 30), "c8@x", {}),
        ("s1", "sales", "queued", at(9, 30), "", {}),
        ("s1", "sales", "offered", at(9, 39), "", {"agents": [A3]}),
        ("s1", "sales", "accepted", at(9, 40), A3, {}),
        ("s1", "sales", "first_response", at(9, 41), A3, {}),

        ("t3", "help", "created", at(10, 0), "c3@x", {}),
        ("t3", "help", "queued", at(10, 0), "", {}),
        ("t3", "help", "offered", at(10, 0), "", {"agents": [A1]}),
        ("t3", "help", "offer_timeout", at(10, 1), "", {"agents": [A1]}),
        ("t3", "help", "offered", at(10, 1), "", {"agents": [A2]}),
        ("t3", "help", "accepted", at(10, 2), A2, {}),
        ("s1", "sales", "closed", at(10, 0), A3, {"reason": "resolved"}),
        ("s1", "sales", "rated", at(10, 1), "c8@x", {"rating": 3, "comment": "ok"}),
        ("t3", "help", "first_response", at(10, 3), A2, {}),
        ("t3", "help", "transferred", at(10, 10), A2,
         {"from_queue": "help", "to_queue": "help", "to_agent": A1, "from_agent": A2}),
        ("t3", "help", "offered", at(10, 10), "", {"agents": [A1]}),
        ("t3", "help", "accepted", at(10, 11), A1, {}),
        ("t3", "help", "closed", at(10, 21), A1, {"reason": "resolved"}),
        ("t3", "help", "rated", at(10, 22), "c3@x", {"rating": 2}),

        ("t4", "help", "created", at(11, 0), "c4@x", {}),
        ("t4", "help", "queued", at(11, 0), "", {}),
        ("t4", "help", "abandoned", at(11, 5), "c4@x", {"reason": "bye"}),

        ("t5", "help", "created", at(11, 30), "c5@x", {}),
        ("t5", "help", "bot", at(11, 30), "", {}),
        ("t5", "help", "queued", at(11, 31), "", {}),
        ("t5", "help", "accepted", at(11, 35), A1, {}),
        ("t5", "help", "first_response", at(11, 36), A1, {}),
        ("t5", "help", "closed", at(11, 50), A1, {"reason": "resolved"}),
        ("t5", "help", "rated", at(11, 51), "c5@x", {"rating": 4}),
        ("t5", "help", "rated", at(11, 52), "c5@x", {"rating": "not a number"}),  # ignored

        ("t2", "help", "reopened", at(13, 0), "c2@x", {}),
        ("t2", "help", "queued", at(13, 0), "", {}),
        ("t2", "help", "accepted", at(13, 1, 40), A2, {}),
        ("t2", "help", "first_response", at(13, 2), A2, {}),
        ("t2", "help", "closed", at(13, 10), A2, {"reason": "resolved"}),

        ("t6", "help", "created", at(14, 0), "c6@x", {}),
        ("t6", "help", "bot", at(14, 0), "", {}),
        ("t6", "help", "abandoned", at(14, 2), "c6@x", {"reason": "bye"}),

        ("t7", "help", "created", at(15, 0), "c7@x", {}),
        ("t7", "help", "queued", at(15, 0), "", {}),
        ("t7", "help", "accepted", at(15, 0, 30), A2, {}),
        ("t7", "help", "first_response", at(15, 1), A2, {}),
        ("t7", "help", "closed", at(15, 5, 30), A2, {"reason": "resolved"}),

        ("s2", "sales", "created", at(16, 0), "c9@x", {}),
        ("s2", "sales", "queued", at(16, 0), "", {}),
        ("s2", "sales", "abandoned", at(16, 10), "c9@x", {"reason": "offline"}),

        ("t8", "help", "created", at(8, 0, day=NEXT_DAY), "c10@x", {}),
        ("t8", "help", "queued", at(8, 0, day=NEXT_DAY), "", {}),
        ("t8", "help", "accepted", at(8, 0, 20, day=NEXT_DAY), A1, {}),
        ("t8", "help", "first_response", at(8, 0, 50, day=NEXT_DAY), A1, {}),
        ("t8", "help", "closed", at(8, 2, 0, day=NEXT_DAY), A1, {"reason": "resolved"}),
        ("t8", "help", "rated", at(8, 3, day=NEXT_DAY), "c10@x", {"rating": 5}),
    ]
    # Recorded order: by time (the store returns rows ordered by time, then by insertion).
    rows.sort(key=lambda r: r[3])
    return [Event(*r) for r in rows]


def rows() -> list[tuple[str, str, str, float, str, dict]]:
    """The script as the support service returns rows."""
    return [(e.ticket, e.queue, e.kind, e.at, e.actor, dict(e.data)) for e in script()]


# Hand-computed figures of the 20th (see the module docstring).
HELP_DAY = {
    "period": "2026-11-20", "queue": "help", "conversations": 8, "bot": 4, "bot_resolved": 1,
    "bot_resolved_share": 0.125, "handed_off": 2, "handoff_rate": 0.5, "queued": 6, "answered": 5,
    "abandoned": 1, "abandonment_rate": 1 / 6, "wait_avg": 110.0, "wait_p90": 240.0, "first_response_avg": 150.0,
    "handle_avg": 676.0, "transfers": 1, "csat_count": 3, "csat_avg": 11 / 3, "csat_1": 0, "csat_2": 1,
    "csat_3": 0, "csat_4": 1, "csat_5": 1,
}
SALES_DAY = {
    "period": "2026-11-20", "queue": "sales", "conversations": 2, "bot": 0, "bot_resolved": 0,
    "bot_resolved_share": 0.0, "handed_off": 0, "handoff_rate": None, "queued": 2, "answered": 1, "abandoned": 1,
    "abandonment_rate": 0.5, "wait_avg": 600.0, "wait_p90": 600.0, "first_response_avg": 660.0,
    "handle_avg": 1200.0, "transfers": 0, "csat_count": 1, "csat_avg": 3.0, "csat_1": 0, "csat_2": 0, "csat_3": 1,
    "csat_4": 0, "csat_5": 0,
}
TOTAL_DAY = {
    "period": "2026-11-20", "conversations": 10, "bot": 4, "bot_resolved": 1, "bot_resolved_share": 0.1,
    "handed_off": 2, "handoff_rate": 0.5, "queued": 8, "answered": 6, "abandoned": 2, "abandonment_rate": 0.25,
    "wait_avg": 1150 / 6, "wait_p90": 600.0, "first_response_avg": 235.0, "handle_avg": 4580 / 6, "transfers": 1,
    "csat_count": 4, "csat_avg": 3.5, "csat_1": 0, "csat_2": 1, "csat_3": 1, "csat_4": 1, "csat_5": 1,
}
AGENTS_DAY = {
    A1: {"conversations": 3, "answered": 3, "wait_avg": 120.0, "wait_p90": 240.0, "first_response_avg": 195.0,
         "handle_avg": 700.0, "transfers": 0, "csat_count": 3, "csat_avg": 11 / 3, "csat_2": 1, "csat_4": 1,
         "csat_5": 1},
    A2: {"conversations": 3, "answered": 3, "wait_avg": 250 / 3, "wait_p90": 120.0, "first_response_avg": 120.0,
         "handle_avg": 1280 / 3, "transfers": 1, "csat_count": 0, "csat_avg": None},
    A3: {"conversations": 1, "answered": 1, "wait_avg": 600.0, "wait_p90": 600.0, "first_response_avg": 660.0,
         "handle_avg": 1200.0, "transfers": 0, "csat_count": 1, "csat_avg": 3.0, "csat_3": 1},
}
