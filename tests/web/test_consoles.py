"""The agent console and the supervisor dashboard in a real Chromium, against the real Prosody and component.

The pages are the ones ``make run`` serves (web/pages, built bundles in web/dist), served here by the
same small static server; they log in over Prosody's WebSocket like any XMPP client.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from pathlib import Path
from typing import Any, AsyncIterator
from xml.etree.ElementTree import SubElement

import pytest

from component import devsite

from .. import harness
from . import shop
from ..support_reports.test_live import DOMAIN, HELP, agent_presence, body_has, config, jid, result_table, run_view

# Browser tests stay on one xdist worker (one Chromium at a time per group on a shared machine).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("web-consoles")]

XSS = "<img src=x onerror=\"window.pwned=1\">"
EVENT = "http://jabber.org/protocol/pubsub#event"
# Every line the dashboard's feed status shows, however briefly (it is gone once the feed is back).
WATCH_STATUS = """() => { window.feedStatus = [];
  const seen = () => document.querySelectorAll('#feed-status p').forEach((p) => window.feedStatus.push(p.textContent));
  new MutationObserver(seen).observe(document.body, { childList: true, subtree: true }); }"""


@contextlib.asynccontextmanager
async def site(prosody: Any, tmp_path: Path) -> AsyncIterator[str]:
    folder = tmp_path / "www"
    missing = devsite.build(folder, {"WEBSOCKET": f"ws://127.0.0.1:{prosody.ports.http}/xmpp-websocket",
                                     "HOST": harness.HOST, "SUPPORT_DOMAIN": DOMAIN, "QUEUE": HELP,
                                     "GUEST_HOST": harness.GUEST_HOST})
    assert not missing, f"the pages need the bundles: run `make web` ({missing})"
    server = devsite.StaticSite(folder).start()
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await shop.launch(pw)  # Debian's chromium, as the widget's tests launch it
        try:
            yield chromium
        finally:
            await chromium.close()


async def login(page: Any, url: str, user: str, listen: bool = True) -> None:
    if listen:  # the page's own errors end up in the test's output when it fails
        page.on("console", lambda msg: print("browser console:", msg.type, msg.text))
        page.on("pageerror", lambda err: print("browser error:", err))
    if page.url != url:
        await page.goto(url)
    await page.fill("input[name=jid]", jid(user))
    await page.fill("input[name=password]", harness.password(user))
    await page.click("button[type=submit]")


async def kpi(page: Any, name: str) -> str:
    return await page.get_attribute(f"[data-kpi='{name}']", "data-value")


async def test_dashboard_shows_the_monitor_figures_and_moves_with_customers(component, prosody, tmp_path):
    app = await component(config())
    reports = app.services[DOMAIN].hooks.service("support_reports")
    port = prosody.ports.c2s
    async with site(prosody, tmp_path) as url, browser() as chromium, \
            harness.slix_client(port, "agent1") as a1, harness.slix_client(port, "super") as sup, \
            harness.slix_client(port, "cust1") as c1:
        cin1 = harness.Inbox(c1)
        agent_presence(a1, HELP, max_chats=2)
        await harness.until(lambda: any(a.status == "available" for a in reports.snapshot(["help"]).agents),
                            what="agent1 available")
        page = await chromium.new_page(locale="en-US")
        await login(page, f"{url}/dashboard.html", "super")
        await page.wait_for_selector("[data-queue='help'] [data-kpi='waiting'][data-value='0']", timeout=10000)
        assert await kpi(page, "agents") == "1"

        # A customer joins: the dashboard shows it without reloading or polling (how soon: bench.monitor_feed).
        c1.send_message(mto=HELP, mbody="is anyone there?", mtype="chat")
        await page.wait_for_selector("[data-kpi='waiting'][data-value='1']", timeout=5000)
        customer = await page.text_content("ol.waiting li .who")
        assert customer == jid("cust1")

        # The same figures as the monitor command.
        _columns, rows = await run_view(sup, "queues")
        (row,) = rows
        assert row["waiting"] == await kpi(page, "waiting")
        assert row["active"] == await kpi(page, "active")
        assert row["agents"].split("/")[0] == await kpi(page, "agents")
        _columns, agents = await run_view(sup, "agents")
        shown = await page.eval_on_selector_all("ul.agents li", "els => els.map(e => [e.dataset.agent, "
                                                                "e.dataset.status])")
        assert [a["agent"] for a in agents] == [a for a, _status in shown]
        await page.wait_for_function("document.querySelector(\"[data-kpi='longest']\").dataset.value >= 1",
                                     timeout=3000)  # the wait ticks on the page's clock

        # The customer leaves: back to 0; today's count keeps the conversation.
        c1.send_message(mto=HELP, mbody="bye", mtype="chat")
        await cin1.next(body_has("left the queue"))
        await page.wait_for_selector("[data-kpi='waiting'][data-value='0']", timeout=5000)
        await page.wait_for_selector("p.today[data-conversations='1']", timeout=3000)
        path = tmp_path / "dashboard.png"
        await page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000


async def test_dashboard_refuses_someone_who_supervises_nothing(component, prosody, tmp_path):
    await component(config())
    async with site(prosody, tmp_path) as url, browser() as chromium:
        page = await chromium.new_page(locale="en-US")
        await login(page, f"{url}/dashboard.html", "agent1")
        await page.wait_for_selector("text=You supervise no queue", timeout=10000)
        assert await page.query_selector("[data-kpi]") is None


async def test_agent_accepts_replies_notes_closes_and_transfers_from_the_console(component, prosody, tmp_path):
    app = await component(config())
    support = app.services[DOMAIN].hooks.service("support")
    port = prosody.ports.c2s
    async with site(prosody, tmp_path) as url, browser() as chromium, \
            harness.slix_client(port, "super") as sup, harness.slix_client(port, "cust1") as c1, \
            harness.slix_client(port, "cust2") as c2:
        cin1, cin2 = harness.Inbox(c1), harness.Inbox(c2)
        added = await harness.run_command(sup, HELP, "support-canned-add")
        done = await harness.run_command(sup, HELP, "support-canned-add", "complete", added.get("sessionid"),
                                         {"shortcut": "thanks", "text": "Thank you for waiting, {name}!"})
        assert done.get("status") == "completed"

        page = await chromium.new_page(locale="en-US")
        await login(page, f"{url}/console.html", "agent1")
        await page.wait_for_selector("select[name=status]", timeout=10000)

        # Not taking customers (xa): the customer waits, listed; the agent takes them from the list.
        reports = app.services[DOMAIN].hooks.service("support_reports")
        await page.select_option("select[name=status]", "xa")
        await harness.until(lambda: any(a.status == "xa" for a in reports.snapshot(["help"]).agents),
                            what="agent1 not routed")
        c1.send_message(mto=HELP, mbody="My parcel has not arrived", mtype="chat")
        await harness.until(lambda: [t for t in support.open_tickets("help") if t.state == "queued"],
                            what="cust1 waiting")
        await page.click(".waiting .refresh")
        await page.click(".waiting li .take", timeout=5000)
        await cin1.next(body_has("agent1"))
        assert await page.query_selector(".offer") is None
        await page.wait_for_selector(".msg.customer .text:text('My parcel has not arrived')", timeout=5000)
        # The customer's address comes with the introduction, the message after the transcript: the
        # page may have drawn the transcript alone first.
        await page.wait_for_selector(f".conv-head strong:text-is('{jid('cust1')}')", timeout=5000)

        # A reply from the console, with typing first.
        await page.fill("textarea[name=reply]", "Let me check")
        await page.type("textarea[name=reply]", " that for you.")
        typing = await cin1.next(lambda m: m["chat_state"] == "composing" if "chat_state" in m.plugins else
                                 m.xml.find("{http://jabber.org/protocol/chatstates}composing") is not None)
        assert typing["from"].bare == HELP
        await page.press("textarea[name=reply]", "Enter")
        await cin1.next(body_has("Let me check that for you."))

        # What the customer writes shows as text: no element, no script.
        c1.send_message(mto=HELP, mbody=XSS, mtype="chat")
        await page.wait_for_selector(".msg.customer .text:has-text('onerror')", timeout=5000)
        texts = await page.eval_on_selector_all(".msg.customer .text", "els => els.map(e => e.textContent)")
        assert XSS in texts
        assert await page.query_selector(".messages img") is None
        assert await page.evaluate("window.pwned === undefined")

        # A reload (or another browser): the open conversation comes back with what was said, from the archive.
        await page.reload()
        await login(page, f"{url}/console.html", "agent1", listen=False)
        await page.wait_for_selector(".msg.customer.history .text:text('My parcel has not arrived')", timeout=10000)
        await page.wait_for_selector(".msg.me.history .text:text('Let me check that for you.')", timeout=5000)
        assert XSS in await page.eval_on_selector_all(".msg.customer .text", "els => els.map(e => e.textContent)")
        assert await page.query_selector(".messages img") is None

        # A canned reply (the queue's list, loaded at login), a private note (never reaches the customer), then close.
        await page.wait_for_selector("select[name=canned] option[value=thanks]", state="attached", timeout=5000)
        await page.select_option("select[name=canned]", "thanks")
        await cin1.next(body_has("Thank you for waiting"))
        await page.fill("input[name=note]", "customer called twice")
        await page.click("form.note button")
        await page.wait_for_selector(".msg.note .text:text('customer called twice')", timeout=5000)
        await page.click("button.close")
        await cin1.next(body_has("closed"))
        await page.wait_for_selector(".conv-head .state:text('closed')", timeout=5000)
        await cin1.quiet(body_has("called twice"), wait=0.3)

        # Available again: the next customer is offered while the first stays listed; a transfer sends them
        # to another queue.
        await page.select_option("select[name=status]", "chat")
        await harness.until(lambda: any(a.status == "available" for a in reports.snapshot(["help"]).agents),
                            what="agent1 available")
        c2.send_message(mto=HELP, mbody="I need to buy in bulk", mtype="chat")
        await page.click(".offer .accept", timeout=10000)
        await cin2.next(body_has("agent1"))
        await page.wait_for_function("document.querySelectorAll('ul.convs li').length === 2", timeout=5000)
        await page.wait_for_selector(".msg.customer .text:text('I need to buy in bulk')", timeout=5000)
        await page.fill("input[name=transfer]", "sales")
        await page.click("form.transfer button")
        await harness.until(lambda: [t for t in support.open_tickets("sales") if t.customer == jid("cust2")],
                            what="the ticket in the sales queue")
        await page.wait_for_selector(".conv-head .state:text('transferred')", timeout=5000)


async def test_dashboard_subscribes_again_after_the_service_restarts(component, prosody, tmp_path):
    first = await harness.start_app(prosody.ports.component, config(), tmp_path)
    try:
        async with site(prosody, tmp_path) as url, browser() as chromium, \
                harness.slix_client(prosody.ports.c2s, "cust1") as c1:
            page = await chromium.new_page(locale="en-US")
            await login(page, f"{url}/dashboard.html?check=1", "super")
            await page.wait_for_selector("[data-kpi='waiting'][data-value='0']", timeout=10000)
            await first.stop()
            first = None
            await component(config())  # the same database, a fresh process state: no subscriptions
            c1.send_message(mto=HELP, mbody="hello after the restart", mtype="chat")
            await page.wait_for_selector("[data-kpi='waiting'][data-value='1']", timeout=10000)
    finally:
        if first is not None:
            await first.stop()


def cancel_notice(app: Any, to: str, node: str) -> None:
    """XEP-0060's notice that the service ended ``to``'s subscription, as the feed's publisher sends it."""
    service = app.services[DOMAIN]
    msg = service.xmpp.make_message(mto=to, mfrom=DOMAIN)
    SubElement(SubElement(msg.xml, f"{{{EVENT}}}event"), f"{{{EVENT}}}subscription",
               {"node": node, "jid": to, "subscription": "none"})
    service.send(msg)


async def test_dashboard_subscribes_again_at_once_when_the_service_ends_its_feed(component, prosody, tmp_path):
    first = await harness.start_app(prosody.ports.component, config(), tmp_path)
    try:
        feed = first.services[DOMAIN].plugins["support_reports"].feed
        async with site(prosody, tmp_path) as url, browser() as chromium, \
                harness.slix_client(prosody.ports.c2s, "cust1") as c1:
            page = await chromium.new_page(locale="zh-CN")
            # check=600: within this test the periodic check never runs; only the notice can bring the feed back.
            await login(page, f"{url}/dashboard.html?check=600", "super")
            await page.wait_for_selector("[data-kpi='waiting'][data-value='0']", timeout=10000)
            (dashboard, subid), = feed.subs["help"].items()
            await page.evaluate(WATCH_STATUS)
            # The service domain's slot moved to another process: the publisher ends its subscriptions and
            # tells each subscriber (here nothing moved, so the dashboard's new subscription lands here again).
            feed.publisher._resign()
            assert not feed.subs.get("help")
            await harness.until(lambda: feed.subs.get("help"), 5, "the dashboard subscribing again")
            assert feed.subs["help"][dashboard] != subid
            c1.send_message(mto=HELP, mbody="hello after the move", mtype="chat")
            await page.wait_for_selector("[data-kpi='waiting'][data-value='1']", timeout=5000)
            assert "实时数据中断，正在重新连接…" in await page.evaluate("window.feedStatus")
            assert await page.query_selector("#feed-status p") is None  # the feed is back: the status is gone

            # Where the domain is now, the supervisor is one no longer: the service refuses, and the page
            # says so and stops there (no loop of subscriptions against the service).
            await first.stop()
            first = None
            refusing = copy.deepcopy(config())
            refusing[DOMAIN]["support"]["queues"][0]["supervisors"] = [jid("dave")]
            second = await component(refusing)
            reports = second.services[DOMAIN].plugins["support_reports"].feed
            asked: list[str] = []
            subscribe = reports.subscribe

            async def counted(iq: Any, action: Any) -> Any:
                asked.append(iq["from"].full)
                return await subscribe(iq, action)

            reports.subscribe = counted
            cancel_notice(second, dashboard, "monitor/help")
            refused = await page.wait_for_selector("#feed-status p[data-feed='refused']", timeout=5000)
            assert (await refused.text_content()).startswith("服务拒绝了 help 的实时数据：")
            assert asked == [dashboard]
            await asyncio.sleep(2.5)  # past the next tries' waits (0.25 s, then 1 s): none may come
            assert asked == [dashboard] and not reports.subs.get("help")
    finally:
        if first is not None:
            await first.stop()
