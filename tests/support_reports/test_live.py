"""The live monitor and the report command with real clients against the real Prosody.

A supervisor sees the live state of their queue (ad-hoc command tables and /monitor in plain chat);
plain users, agents who are not supervisors and supervisors of other queues are refused with forbidden.
"""

from __future__ import annotations

import time
from typing import Any
from xml.etree.ElementTree import SubElement

import pytest
from slixmpp.exceptions import IqError

from .. import harness
from ..harness import until  # noqa: F401 - shared by the tests importing this module

pytestmark = pytest.mark.integration

DOMAIN = "support.localhost"
HELP = f"help@{DOMAIN}"
WG = "http://jabber.org/protocol/workgroup"
CMD = "http://jabber.org/protocol/commands"
XDATA = "jabber:x:data"
MONITOR = "support-reports-monitor"
REPORT = "support-reports-report"


def jid(user: str) -> str:
    return f"{user}@{harness.HOST}"


def config() -> dict[str, Any]:
    queues = [{"name": "help", "title": "Help desk", "agents": [jid("agent1"), jid("agent2")],
               "supervisors": [jid("super")], "offer_timeout": 60.0, "grace_period": 60.0},
              {"name": "sales", "agents": [jid("agent3")], "supervisors": [jid("dave")]}]
    return {DOMAIN: {"mam": {}, "support": {"queues": queues, "status_interval": 0.3, "liveness_interval": 0.0},
                     "support_reports": {}}}


def agent_presence(client: Any, to: str, max_chats: int | None = None) -> None:
    pres = client.make_presence(pto=to, pshow="chat")
    status = SubElement(pres.xml, f"{{{WG}}}agent-status")
    if max_chats is not None:
        SubElement(status, f"{{{WG}}}max-chats").text = str(max_chats)
    pres.send()


async def command(client, node: str, fields: dict[str, str] | None = None, sessionid: str | None = None,
                  to: str = DOMAIN, lang: str | None = None):
    return await harness.run_command(client, to, node, "execute" if fields is None else "complete", sessionid,
                                     fields, lang)

def options(cmd, var: str) -> list[str]:
    field = cmd.find(f"{{{XDATA}}}x/{{{XDATA}}}field[@var='{var}']")
    return [o.findtext(f"{{{XDATA}}}value") for o in field.findall(f"{{{XDATA}}}option")]


def result_table(cmd) -> tuple[list[str], list[dict[str, str]]]:
    x = cmd.find(f"{{{XDATA}}}x")
    assert x is not None and x.get("type") == "result"
    columns = [f.get("var") for f in x.find(f"{{{XDATA}}}reported").findall(f"{{{XDATA}}}field")]
    rows = [{f.get("var"): f.findtext(f"{{{XDATA}}}value") or "" for f in item.findall(f"{{{XDATA}}}field")}
            for item in x.findall(f"{{{XDATA}}}item")]
    return columns, rows


async def run_view(client, view: str, queue: str = "help", lang: str | None = None):
    first = await command(client, MONITOR, lang=lang)
    assert first.get("status") == "executing"
    done = await command(client, MONITOR, {"queue": queue, "view": view}, first.get("sessionid"), lang=lang)
    assert done.get("status") == "completed"
    return result_table(done)


async def forbidden(coro) -> str:
    with pytest.raises(IqError) as err:
        await coro
    assert err.value.iq["error"]["condition"] == "forbidden"
    assert err.value.iq["error"]["type"] == "auth"
    return err.value.iq["error"]["text"]


def is_error(condition: str):
    return lambda m: m["type"] == "error" and m["error"]["condition"] == condition


def body_has(*words: str):
    return lambda m: m["type"] != "error" and all(w in (m["body"] or "") for w in words)


async def commands_listed(client, to: str = DOMAIN) -> list[str]:
    items = await client.plugin["xep_0030"].get_items(jid=to, node=CMD, timeout=10)
    return sorted(item[1] for item in items["disco_items"]["items"])


async def test_supervisor_sees_the_live_state_others_are_refused(component, prosody):
    app = await component(config())
    reports = app.services[DOMAIN].hooks.service("support_reports")
    port = prosody.ports.c2s
    async with harness.slix_client(port, "agent1") as a1, harness.slix_client(port, "agent2") as a2, \
            harness.slix_client(port, "agent3") as a3, harness.slix_client(port, "super") as sup, \
            harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2, \
            harness.slix_client(port, "alice") as alice, harness.slix_client(port, "admin") as admin:
        in1, in_sup, in_a2, in_alice = harness.Inbox(a1), harness.Inbox(sup), harness.Inbox(a2), \
            harness.Inbox(alice)
        cin1 = harness.Inbox(c1)
        agent_presence(a1, HELP, max_chats=1)
        agent_presence(a3, f"sales@{DOMAIN}")
        await until(lambda: any(a.agent == jid("agent1") and a.status == "available"
                                for a in reports.snapshot(["help"]).agents), what="agent1 available")

        c1.send_message(mto=HELP, mbody="my order is late", mtype="chat")
        offer = await in1.next(body_has("accept"))
        session = offer["from"].bare
        a1.send_message(mto=session, mbody="accept", mtype="chat")
        await cin1.next(body_has("agent1"))
        a1.send_message(mto=session, mbody="Hello, let me check.", mtype="chat")
        await cin1.next(body_has("let me check"))
        c2.send_message(mto=HELP, mbody="hello?", mtype="chat")
        snap = await until(lambda: (s := reports.snapshot(["help"])).waiting and s.conversations
                           and s.conversations[0].first_response is not None and s, what="one waiting, one served")
        ticket = snap.conversations[0].ticket

        # The command: only the supervisor's queue is offered.
        assert MONITOR in await commands_listed(sup) and REPORT in await commands_listed(sup)
        first = await command(sup, MONITOR)
        assert options(first, "queue") == ["*", "help"]
        assert options(first, "view") == ["queues", "waiting", "agents", "conversations"]
        columns, rows = await run_view(sup, "waiting")
        assert columns == ["position", "queue", "customer", "wait", "state", "priority", "offered", "ticket"]
        assert [(r["position"], r["customer"], r["state"]) for r in rows] == [("1", jid("cust2"), "queued")]
        assert rows[0]["wait"].endswith(" s")
        _columns, rows = await run_view(sup, "agents")
        assert [(r["agent"], r["status"], r["load"], r["tickets"]) for r in rows] == [
            (jid("agent1"), "available", "1/1", ticket), (jid("agent2"), "offline", "0/3", "")]
        _columns, rows = await run_view(sup, "conversations")
        assert [(r["ticket"], r["customer"], r["agent"]) for r in rows] == [(ticket, jid("cust1"), jid("agent1"))]
        assert rows[0]["first"] != "—"
        _columns, rows = await run_view(sup, "queues", queue="*")
        assert rows == [{"queue": "help", "title": "Help desk", "status": "open", "waiting": "1",
                         "oldest": rows[0]["oldest"], "bot": "0", "active": "1", "pending": "0", "messages": "0",
                         "agents": "1/2", "load": "1/1"}]
        _columns, rows = await run_view(sup, "queues", lang="zh")
        assert rows[0]["status"] == "服务中"

        # Someone else's queue, even by a crafted submission: forbidden.
        first = await command(sup, MONITOR)
        await forbidden(command(sup, MONITOR, {"queue": "sales", "view": "queues"}, first.get("sessionid")))
        # A global admin sees every queue.
        assert options(await command(admin, MONITOR), "queue") == ["*", "help", "sales"]
        # A plain user, an agent of the queue and an agent of another queue are refused.
        for client in (alice, a2, a3):
            assert MONITOR not in await commands_listed(client)
            await forbidden(command(client, MONITOR))
            await forbidden(command(client, REPORT))

        # Plain chat at the queue: /monitor for the supervisor, forbidden for an agent.
        sup.send_message(mto=HELP, mbody="/monitor", mtype="chat")
        text = (await in_sup.next(body_has("Live monitor")))["body"]
        assert "Help desk (help): open · 1 waiting" in text
        assert f"1. {jid('cust2')}" in text and f"{jid('agent1')} · available · 1/1 · {ticket}" in text
        assert f"{ticket} · {jid('cust1')} ↔ {jid('agent1')}" in text and "first reply after" in text
        zh = sup.make_message(mto=HELP, mbody="/monitor", mtype="chat")
        zh["lang"] = "zh"
        zh.send()
        text = (await in_sup.next(body_has("实时监控")))["body"]
        assert "排队客户" in text and "空闲" in text
        sup.send_message(mto=HELP, mbody="/monitor sales", mtype="chat")
        await in_sup.next(is_error("forbidden"))
        a2.send_message(mto=HELP, mbody="/monitor", mtype="chat")
        error = await in_a2.next(is_error("forbidden"))
        assert error["error"]["type"] == "auth"
        sup.send_message(mto=HELP, mbody="/help", mtype="chat")
        await in_sup.next(body_has("/monitor", "/report"))

        # At the service domain: every queue the sender supervises; others are refused.
        sup.send_message(mto=DOMAIN, mbody="/monitor", mtype="chat")
        await in_sup.next(body_has("Live monitor", "Help desk (help)"))
        alice.send_message(mto=DOMAIN, mbody="/monitor", mtype="chat")
        await in_alice.next(is_error("forbidden"))
        alice.send_message(mto=DOMAIN, mbody="/report", mtype="chat")
        await in_alice.next(is_error("forbidden"))

        # Today's figures so far: two conversations, one answered, one waiting.
        sup.send_message(mto=HELP, mbody="/report", mtype="chat")
        line = (await in_sup.next(body_has("Today")))["body"]
        assert ": 2 conversations" in line and "transfers 0" in line


async def test_report_command_counts_the_days_conversations(component, prosody):
    app = await component(config())
    reports = app.services[DOMAIN].hooks.service("support_reports")
    port = prosody.ports.c2s
    async with harness.slix_client(port, "agent1") as a1, harness.slix_client(port, "super") as sup, \
            harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2:
        in1, cin1, cin2 = harness.Inbox(a1), harness.Inbox(c1), harness.Inbox(c2)
        agent_presence(a1, HELP)
        await until(lambda: any(a.status == "available" for a in reports.snapshot(["help"]).agents),
                    what="agent1 available")
        c1.send_message(mto=HELP, mbody="hello", mtype="chat")
        offer = await in1.next(body_has("accept"))
        a1.send_message(mto=offer["from"].bare, mbody="accept", mtype="chat")
        await cin1.next(body_has("agent1"))
        a1.send_message(mto=offer["from"].bare, mbody="Hi!", mtype="chat")
        await cin1.next(body_has("Hi!"))
        a1.send_message(mto=offer["from"].bare, mbody="/close", mtype="chat")
        await cin1.next(body_has("closed"))
        c2.send_message(mto=HELP, mbody="anyone?", mtype="chat")
        offer2 = await in1.next(body_has("accept"))
        c2.send_message(mto=HELP, mbody="bye", mtype="chat")
        await cin2.next(body_has("left the queue"))
        del offer2

        first = await command(sup, REPORT)
        assert first.get("status") == "executing"
        today = time.strftime("%Y-%m-%d", time.gmtime())
        fields = {f.get("var"): f.findtext(f"{{{XDATA}}}value") for f in first.iter(f"{{{XDATA}}}field")}
        assert fields["until"] == today and fields["queue"] == "*" and fields["group"] == "queue"
        # A bad date shows the form again with the error.
        again = await command(sup, REPORT, {"queue": "*", "group": "queue", "period": "day", "since": "yesterday-ish",
                                            "until": today}, first.get("sessionid"))
        assert again.get("status") == "executing" and "YYYY-MM-DD" in again.findtext(f"{{{CMD}}}note")
        done = await command(sup, REPORT, {"queue": "help", "group": "queue", "period": "day", "since": today,
                                           "until": today}, first.get("sessionid"))
        assert done.get("status") == "completed"
        columns, rows = result_table(done)
        assert columns[:3] == ["period", "queue", "conversations"] and "csat_avg" in columns
        assert len(rows) == 1
        row = rows[0]
        assert (row["period"], row["queue"], row["conversations"], row["queued"], row["answered"],
                row["abandoned"], row["abandonment_rate"], row["transfers"]) == (
            today, "help", "2", "2", "1", "1", "50.0%", "0")
        assert row["handle_avg"] != "—" and row["wait_avg"] != "—"
        assert "2 conversations" in done.findtext(f"{{{CMD}}}note")
        # Per agent, in Chinese.
        first = await command(sup, REPORT, lang="zh")
        done = await command(sup, REPORT, {"queue": "*", "group": "agent", "period": "all", "since": today,
                                           "until": today}, first.get("sessionid"), lang="zh")
        columns, rows = result_table(done)
        assert "abandoned" not in columns
        assert [(r["agent"], r["conversations"]) for r in rows] == [(jid("agent1"), "1")]
        assert done.find(f"{{{XDATA}}}x/{{{XDATA}}}reported/{{{XDATA}}}field[@var='conversations']").get(
            "label") == "会话数"


async def test_bot_outcomes_reach_the_report(component, prosody):
    """With the real bot: resolved by the bot, handed off after an answer, and queued at once."""
    from ..support_bot.kit import load_samples

    services = config()
    services[DOMAIN]["support_bot"] = {}
    app = await component(services)
    await load_samples(app)
    reports = app.services[DOMAIN].hooks.service("support_reports")
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2, \
            harness.slix_client(port, "cust3") as c3, harness.slix_client(port, "super") as sup:
        cin1, cin2, cin3, in_sup = harness.Inbox(c1), harness.Inbox(c2), harness.Inbox(c3), harness.Inbox(sup)
        c1.send_message(mto=HELP, mbody="reset password", mtype="chat")
        await cin1.next(body_has("Reset password"))
        c1.send_message(mto=HELP, mbody="thanks!", mtype="chat")
        await cin1.next(body_has("This conversation is closed"))
        c2.send_message(mto=HELP, mbody="reset password", mtype="chat")
        await cin2.next(body_has("Reset password"))
        c2.send_message(mto=HELP, mbody="human", mtype="chat")
        await cin2.next(body_has("We will connect you"))
        c3.send_message(mto=HELP, mbody="Do you sell bicycles?", mtype="chat")
        await cin3.next(body_has("We will connect you"))
        await until(lambda: len(reports.snapshot(["help"]).waiting) == 2, what="two customers queued")

        now = time.time()
        (row,) = await reports.report(now - 3600, now + 60, "help", group="queue", period="all")
        assert (row["conversations"], row["bot"], row["bot_resolved"], row["handed_off"], row["queued"]) == \
            (3, 3, 1, 2, 2)  # the bot read all three; c2 and c3 (at once, nothing close) went to people
        assert row["bot_resolved_share"] == pytest.approx(1 / 3) and row["handoff_rate"] == pytest.approx(2 / 3)
        sup.send_message(mto=HELP, mbody="/report", mtype="chat")
        line = (await in_sup.next(body_has("Today")))["body"]
        assert "3 conversations · bot-resolved 33.3% · hand-off 66.7%" in line
