"""The monitor's snapshot and renderings without a network (tickets as the support service shows them)."""

from __future__ import annotations

from types import SimpleNamespace
from zoneinfo import ZoneInfo

from plugins.support_reports.monitor import QueueInput, agent_status, as_text, snapshot, table_columns, table_rows
from plugins.support_reports.texts import duration

NOW = 1_800_000_000.0


def ticket(tid, state, customer, queued=None, created=None, priority=0, agent="", accepted=None, first=None,
           offers=None):
    return SimpleNamespace(id=tid, state=state, customer=customer, queued_at=queued, created_at=created or queued,
                           priority=priority, agent=agent, accepted_at=accepted, first_response_at=first,
                           offers=offers or {})


def help_queue(**summary):
    tickets = [
        ticket("w1", "queued", "early@x", queued=NOW - 300),
        ticket("w2", "offered", "vip@x", queued=NOW - 30, priority=5, offers={"a2@x/phone": "chat"}),
        ticket("w3", "queued", "late@x", queued=NOW - 10),
        ticket("b1", "bot", "asking@x", created=NOW - 20),
        ticket("c1", "active", "served@x", queued=NOW - 900, agent="a1@x", accepted=NOW - 600, first=NOW - 880),
        ticket("c2", "active", "new@x", queued=NOW - 100, agent="a1@x", accepted=NOW - 40),
        ticket("p1", "pending", "thinking@x", queued=NOW - 5000, accepted=NOW - 4000),
        ticket("o1", "offline", "night@x", created=NOW - 30000),
        ticket("o2", "offline", "night2@x", created=NOW - 20000),
    ]
    agents = [
        {"jid": "a1@x", "online": True, "show": "", "routable": True, "capacity": 3, "load": 2},
        {"jid": "a2@x", "online": True, "show": "away", "routable": True, "capacity": 2, "load": 1},
        {"jid": "a3@x", "online": True, "show": "xa", "routable": False, "capacity": 3, "load": 0},
        {"jid": "a4@x", "online": False, "show": None, "routable": False, "capacity": 3, "load": 0},
    ]
    return QueueInput("help", "Help desk", {"status": "open", **summary}, tickets, agents)


def test_snapshot_orders_waiting_by_priority_then_time_and_counts_load():
    snap = snapshot([help_queue()], NOW)
    (q,) = snap.queues
    assert (q.waiting, q.with_bot, q.active, q.agents, q.available, q.load, q.capacity) == (3, 1, 2, 3, 2, 3, 5)
    assert q.oldest_wait == 300 and q.open and (q.pending, q.messages) == (1, 2)
    assert [(w.position, w.ticket, w.offered_to) for w in snap.waiting] == [
        (1, "w2", ["a2@x"]), (2, "w1", []), (3, "w3", [])]
    assert [w.waited for w in snap.waiting] == [30, 300, 10]
    assert [(a.agent, a.status, a.tickets) for a in snap.agents] == [
        ("a1@x", "available", ["c1", "c2"]), ("a2@x", "away", []), ("a3@x", "xa", []), ("a4@x", "offline", [])]
    assert [(c.ticket, c.duration, c.first_response) for c in snap.conversations] == [
        ("c1", 600, 20), ("c2", 40, None)]
    closed = snapshot([help_queue(status="closed")], NOW).queues[0]
    assert not closed.open
    assert agent_status({"online": True, "show": "dnd"}) == "dnd" and agent_status({"online": True}) == "available"


def test_text_in_both_languages_and_limits():
    snap = snapshot([help_queue()], NOW)
    en = as_text(snap, "en", ZoneInfo("UTC"))
    assert en.splitlines()[0] == "Live monitor · 2027-01-15 08:00:00"
    assert ("Help desk (help): open · 3 waiting (longest 5 min 00 s) · 1 with the bot · 2 in conversation · "
            "agents 2/4 available, load 3/5 · 1 waiting for the customer's reply · 2 messages left out of hours") in en
    assert "  1. vip@x · 30 s · offered to a2@x · ticket w2" in en
    assert "  a2@x · away · 1/2" in en and "  a4@x · offline · 0/3" in en
    assert "  c1 · served@x ↔ a1@x · 10 min 00 s · first reply after 20 s" in en
    assert "  c2 · new@x ↔ a1@x · 40 s · no reply yet" in en
    zh = as_text(snap, "zh", ZoneInfo("Asia/Shanghai"))
    assert zh.splitlines()[0] == "实时监控 · 2027-01-15 16:00:00"
    assert "排队 3 人（最长 5分00秒）" in zh and "已等 30秒" in zh and "暂停接单" in zh and "尚未回复" in zh
    short = as_text(snap, "en", limit=1)
    assert "  … and 2 more" in short and "  … and 3 more" in short and "  … and 1 more" in short
    empty = as_text(snapshot([QueueInput("q", "Q", {}, [], [])], NOW), "en")
    assert empty.count("  (none)") == 3


def test_table_rows_for_each_view():
    snap = snapshot([help_queue()], NOW)
    for view in ("queues", "waiting", "agents", "conversations"):
        keys = [key for key, _label in table_columns(view, "en")]
        rows = table_rows(snap, view, "en")
        assert rows and all(list(row) == keys for row in rows), view
    assert table_rows(snap, "waiting", "zh")[0]["state"] == "分配中"
    assert table_rows(snap, "agents", "en", limit=2)[-1]["agent"] == "a2@x"
    assert table_rows(snap, "queues", "en")[0]["agents"] == "2/4"


def test_durations():
    assert [duration(v, "en") for v in (None, 0.4, 59.6, 65, 3600 * 2 + 61)] == ["—", "0 s", "1 min 00 s",
                                                                                  "1 min 05 s", "2 h 01 min"]
    assert duration(3725, "zh") == "1小时02分" and duration(-5, "en") == "0 s"
