"""The customer widget in a real Chromium against the real Prosody (guest host, WebSocket) and component.

One browser and one component for the module; each test opens fresh browser profiles. Agents are
plain slixmpp clients.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import time
from typing import Any
from xml.etree.ElementTree import Element

import pytest
import pytest_asyncio
from playwright.async_api import async_playwright, expect

from plugins.support_web import identity
from tests import harness
from tests.harness import Inbox, until
from tests.support import kit
from tests.support_bot.kit import load_samples

from . import shop

# One Chromium and one component for the module: its tests share one event loop and one xdist worker.
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module"), pytest.mark.xdist_group("web-widget")]

SHOP = f"shop@{kit.DOMAIN}"
STATES = "http://jabber.org/protocol/chatstates"
RECEIPTS = "urn:xmpp:receipts"
KEY = "shop-key"
XSS = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
STORE = f"switchboard-widget:{kit.HELP}"
expect.set_options(timeout=10_000)


def services() -> dict[str, dict[str, dict]]:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    closed = f"{today - datetime.timedelta(days=1)}..{today + datetime.timedelta(days=1)}"
    help_queue = kit.queue(default_lang="zh", offer_timeout=10.0, grace_period=30.0)
    shop_queue = kit.queue("shop", join_form=["name", "email"], holidays=[closed], offline_messages=True)
    config = kit.config(help_queue, shop_queue)
    config[kit.DOMAIN].update({"support_bot": {"queues": ["help"]}, "support_reports": {},
                               "support_web": {"identity_secret": KEY}})
    return config


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(prosody, tmp_path_factory) -> Any:
    started = await harness.start_app(prosody.ports.component, services(), tmp_path_factory.mktemp("widget"))
    await load_samples(started)
    yield started
    await started.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> Any:
    assert (shop.DIST / "switchboard-widget.js").exists(), "web/dist is missing: run `make web` (make test does)"
    async with async_playwright() as p:
        b = await shop.launch(p)
        yield b
        await b.close()


@pytest.fixture(scope="module")
def site() -> Any:
    server = shop.ShopServer()
    yield server
    server.close()


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def no_open_tickets(app: Any) -> Any:
    """Tests share the component: whatever a test leaves open (it failed half-way) is closed after it."""
    yield
    for t in support(app).open_tickets():
        try:
            await support(app).close(t.id, "admin@localhost", "test")
        except Exception:  # noqa: BLE001 - best effort; the next test's own checks will tell
            pass


def support(app: Any) -> Any:
    return app.services[kit.DOMAIN].hooks.service("support")


def open_ticket(app: Any, queue: str = "help", state: str | None = None) -> list[Any]:
    return [t for t in support(app).open_tickets(queue) if state is None or t.state == state]


def chat_state(client: Any, to: str, state: str) -> None:
    msg = client.make_message(mto=to, mtype="chat")
    msg.xml.append(Element(f"{{{STATES}}}{state}"))
    msg.send()


async def stored(fetch: Any, ok: Any, timeout: float = 10.0) -> Any:
    """Poll an awaitable read (the database) until ``ok(value)``; return the value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await fetch()
        if ok(value):
            return value
        assert time.monotonic() < deadline, "timed out waiting for the stored value"
        await asyncio.sleep(0.05)


async def write(page: Any, text: str) -> None:
    box = page.locator("#switchboard-widget textarea").last
    await box.fill(text)
    await box.press("Enter")


async def accept_offer(agent: Any, inbox: Inbox) -> str:
    offer = await inbox.next(kit.body_has("accept"), timeout=15)
    agent.send_message(mto=offer["from"], mbody="accept", mtype="chat")
    return offer["from"].bare


async def test_chinese_conversation_with_reload_close_and_rating(app, browser, site, prosody):
    claims = {"name": "李雷", "order": "A-1042", "ts": str(int(time.time()))}
    signature = identity.sign(KEY.encode(), claims)
    context, page = await shop.shop(browser, site, prosody.ports.http, kit.HELP, locale="zh-CN", title="我的订单",
                                    **claims, signature=signature)
    try:
        await page.locator("#switchboard-widget .sb-bubble").click()
        await write(page, "退款多久到账？")
        await expect(page.locator(".sb-msg[data-from=bot]").filter(has_text="5到7个工作日")).to_be_visible()
        await write(page, "转人工")
        # Nobody is available yet: the customer sees the queue position.
        await expect(page.locator(".sb-status")).to_contain_text("您前面还有")
        t = (await until(lambda: open_ticket(app, state="queued"), what="ticket queued"))[0]
        assert (await until_saved(page))["ticket"] == t.id

        async with harness.slix_client(prosody.ports.c2s, "agent1") as agent:
            inbox = Inbox(agent)
            kit.agent_presence(agent, kit.HELP)
            session = await accept_offer(agent, inbox)
            await expect(page.locator(".sb-agent")).to_have_text("agent1")
            # The agent learns where the customer is.
            ctx = await inbox.next(lambda m: m.xml.find("{urn:switchboard:web:0}context") is not None)
            assert "我的订单" in ctx["body"] and "/p/" in ctx["body"] and "李雷" in ctx["body"]
            assert ctx.xml.find("{urn:switchboard:web:0}context/{urn:switchboard:web:0}identity").get("verified") == "true"

            chat_state(agent, session, "composing")
            await expect(page.locator(".sb-typing")).to_have_text("正在输入…")
            agent.send_message(mto=session, mbody="您好，请问订单号是多少？", mtype="chat")
            await expect(page.locator(".sb-msg[data-from=agent]").filter(has_text="订单号")).to_be_visible()
            await expect(page.locator(".sb-typing")).to_have_text("")

            await page.locator("#switchboard-widget textarea").press_sequentially("A-10")
            await inbox.next(lambda m: m.xml.find(f"{{{STATES}}}composing") is not None and m["from"].bare == session)
            await write(page, "订单 A-1042")
            mine = await inbox.next(kit.body_has("订单 A-1042"))
            # The agent's client acknowledges it (XEP-0184): the customer sees it delivered.
            ack = agent.make_message(mto=session, mtype="chat")
            ack.xml.append(Element(f"{{{RECEIPTS}}}received", {"id": mine["id"]}))
            ack.send()
            await expect(page.locator(".sb-msg[data-from=me]").last.locator(".sb-mark")).to_have_text("已送达")

            # A reload continues the same conversation, history shown.
            await page.reload()
            await expect(page.locator(".sb-sep")).to_be_visible()
            await expect(page.locator(".sb-agent")).to_have_text("agent1")
            log = page.locator(".sb-log")
            for text in ("5到7个工作日", "订单号是多少", "订单 A-1042"):
                await expect(log).to_contain_text(text)
            await expect(page.locator(".sb-msg[data-from=me]").filter(has_text="订单 A-1042")).to_be_visible()
            await write(page, "还在吗？")
            got = await inbox.next(kit.body_has("还在吗"))
            assert got["from"].bare == session
            agent.send_message(mto=session, mbody="在的", mtype="chat")
            await expect(page.locator(".sb-msg[data-from=agent]").filter(has_text="在的")).to_be_visible()
            assert support(app).open_tickets("help")[0].id == t.id

            agent.send_message(mto=session, mbody="/close", mtype="chat")
            rating = page.locator(".sb-form[data-form=rating]")
            await expect(rating).to_be_visible()
            await rating.locator(".sb-star[data-value='5']").click()
            await rating.locator("textarea").fill("很好")
            await rating.locator(".sb-submit").click()
            rated = await stored(lambda: support(app).ticket(t.id), lambda r: r is not None and r.rating)
            assert (rated.rating, rated.rating_comment) == (5, "很好")
            rows = await app.services[kit.DOMAIN].hooks.service("support_reports").report(
                time.time() - 3600, time.time() + 60, "help")
            assert any(r.get("csat_count") == 1 and r.get("csat_avg") == 5 for r in rows), rows
            # The conversation is over: nothing left to resume.
            assert await page.evaluate(f"localStorage.getItem({json.dumps(STORE)})") in (None, "{}")
    finally:
        await context.close()


async def test_english_prechat_form_outside_business_hours(app, browser, site, prosody):
    context, page = await shop.shop(browser, site, prosody.ports.http, SHOP, locale="en-GB")
    try:
        await page.locator("#switchboard-widget .sb-bubble").click()
        # Closed today (a holiday): said before the customer writes.
        await expect(page.locator(".sb-status")).to_contain_text("We are closed now")
        await write(page, "Where is my parcel?")
        form = page.locator(".sb-form[data-form=prechat]")
        await expect(form).to_be_visible()
        await form.locator("input[name=name]").fill("Ada Lovelace")
        await form.locator("input[name=email]").fill("not-an-address")
        await form.locator(".sb-submit").click()
        await expect(form.locator(".sb-form-error")).to_contain_text("Please check")
        await form.locator("input[name=email]").fill("ada@example.com")
        await form.locator(".sb-submit").click()
        # The message is left for the agents, with the answers.
        t = (await until(lambda: open_ticket(app, "shop", "offline"), what="message left"))[0]
        assert t.form.get("name") == "Ada Lovelace" and t.form.get("email") == "ada@example.com"
        assert "parcel" in t.form.get("message", "")
        await expect(page.locator(".sb-msg[data-from=system]").last).to_contain_text(t.id)
    finally:
        await context.close()


async def test_xss_both_ways_and_a_network_drop(app, browser, site, prosody):
    context, page = await shop.shop(browser, site, prosody.ports.http, kit.HELP, locale="en-US")
    try:
        async with harness.slix_client(prosody.ports.c2s, "agent2") as agent:
            inbox = Inbox(agent)
            kit.agent_presence(agent, kit.HELP)
            await kit.agent_ready(app, "agent2")
            await page.locator("#switchboard-widget .sb-bubble").click()
            await write(page, "human")
            session = await accept_offer(agent, inbox)
            await write(page, XSS)
            got = await inbox.next(kit.body_has("onerror"))
            assert got["body"] == XSS
            agent.send_message(mto=session, mbody=XSS, mtype="chat")
            shown = page.locator(".sb-msg[data-from=agent] .sb-body").last
            await expect(shown).to_have_text(XSS)
            await expect(page.locator(".sb-msg[data-from=me] .sb-body").last).to_have_text(XSS)
            assert await page.locator("#switchboard-widget img").count() == 0
            assert await page.evaluate("window.__xss") is None

            # The network drops: the widget logs in again (a new anonymous JID), resumes, and what the
            # agent wrote meanwhile is there.
            await page.evaluate("window.SwitchboardWidget.xmpp.socket.socket.close()")
            agent.send_message(mto=session, mbody="Are you still there?", mtype="chat")
            await expect(page.locator(".sb-sep")).to_be_visible()
            await expect(page.locator(".sb-msg[data-from=agent]").filter(has_text="still there")).to_be_visible()
            await write(page, "Yes, back again")
            back = await inbox.next(kit.body_has("back again"))
            assert back["from"].bare == session
            agent.send_message(mto=session, mbody="/close", mtype="chat")
            await until(lambda: not open_ticket(app), what="closed")
    finally:
        await context.close()


def preset(token: str, ticket: str) -> str:
    """An init script giving a fresh browser a stored conversation token."""
    value = json.dumps({"token": token, "ticket": ticket})
    return f"localStorage.setItem({json.dumps(STORE)}, {json.dumps(value)});"


async def test_takeover_needs_the_token_and_a_revoked_token_is_refused(app, browser, site, prosody):
    owner, page = await shop.shop(browser, site, prosody.ports.http, kit.HELP, locale="en-US")
    others = []
    try:
        await page.locator("#switchboard-widget .sb-bubble").click()
        await write(page, "human please")
        t = (await until(lambda: open_ticket(app), what="ticket"))[0]
        saved = await until_saved(page)
        customer = t.customer

        # A second browser with a made-up token: refused, forgotten, and the ticket stays the owner's.
        bogus = "A" * 43
        other, page2 = await shop.shop(browser, site, prosody.ports.http, kit.HELP, init_script=preset(bogus, t.id))
        others.append(other)
        await expect(page2.locator(".sb-panel")).to_be_visible()
        await until_storage(page2, lambda v: v in (None, "{}"))
        assert await page2.locator(".sb-sep").count() == 0
        assert (await support(app).ticket(t.id)).customer == customer

        # The owner forgets the conversation (e.g. logs out): the token is revoked at the desk.
        await page.evaluate("window.SwitchboardWidget.forget()")
        third, page3 = await shop.shop(browser, site, prosody.ports.http, kit.HELP,
                                       init_script=preset(saved["token"], t.id))
        others.append(third)
        await until_storage(page3, lambda v: v in (None, "{}"))
        assert await page3.locator(".sb-sep").count() == 0
        assert (await support(app).ticket(t.id)).customer == customer
        await write(page, "bye")
        await until(lambda: not open_ticket(app), what="left")
    finally:
        for c in (*others, owner):
            await c.close()


async def until_saved(page: Any) -> dict:
    deadline = time.monotonic() + 10
    while True:
        raw = await page.evaluate(f"localStorage.getItem({json.dumps(STORE)})")
        if raw and json.loads(raw).get("token"):
            return json.loads(raw)
        assert time.monotonic() < deadline, "no conversation token stored"
        await asyncio.sleep(0.05)


async def until_storage(page: Any, ok: Any) -> None:
    deadline = time.monotonic() + 10
    while not ok(await page.evaluate(f"localStorage.getItem({json.dumps(STORE)})")):
        assert time.monotonic() < deadline, "storage never changed"
        await asyncio.sleep(0.05)


async def test_bot_suggestions_are_buttons(app, browser, site, prosody):
    context, page = await shop.shop(browser, site, prosody.ports.http, kit.HELP, locale="en-US")
    try:
        await page.locator("#switchboard-widget .sb-bubble").click()
        await write(page, "I want to change my order's delivery address")
        buttons = page.locator(".sb-suggest button")
        await expect(buttons.nth(1)).to_be_visible()
        chosen = (await buttons.nth(1).text_content()).strip()
        await buttons.nth(1).click()
        entry = next(e for e in app.services[kit.DOMAIN].plugins["support_bot"].kb.entries("help")
                     if e.question == chosen)
        await expect(page.locator(".sb-msg[data-from=bot]").filter(has_text=entry.answer[:30])).to_be_visible()
        assert await page.locator(".sb-suggest").count() == 0
    finally:
        await context.close()


async def test_an_unreachable_service_is_said_plainly(browser, site):
    closed_port = shop.free_port()
    context, page = await shop.shop(browser, site, closed_port, kit.HELP, locale="zh-CN")
    try:
        await page.locator("#switchboard-widget .sb-bubble").click()
        await expect(page.locator(".sb-banner")).to_have_text("暂时无法连接客服，正在重试…")
        await write(page, "有人吗？")  # kept, and shown, until the connection is back
        await expect(page.locator(".sb-msg[data-from=me]")).to_have_text("我有人吗？")
    finally:
        await context.close()


async def test_two_tabs_share_one_conversation(app, browser, site, prosody):
    context, first = await shop.shop(browser, site, prosody.ports.http, kit.HELP, locale="en-US")
    try:
        async with harness.slix_client(prosody.ports.c2s, "agent2") as agent:
            inbox = Inbox(agent)
            kit.agent_presence(agent, kit.HELP)
            await kit.agent_ready(app, "agent2")
            await first.locator("#switchboard-widget .sb-bubble").click()
            await write(first, "human")
            session = await accept_offer(agent, inbox)
            await until_saved(first)
            # A second tab of the same site continues the conversation, with its history.
            second = await context.new_page()
            await second.goto(first.url)
            await expect(second.locator(".sb-sep")).to_be_visible()
            agent.send_message(mto=session, mbody="Hello from the desk", mtype="chat")
            await expect(second.locator(".sb-msg[data-from=agent]").filter(has_text="from the desk")).to_be_visible()
            # Writing in the first tab takes the conversation back: same ticket, same agent window.
            await write(first, "Writing from the first tab")
            got = await inbox.next(kit.body_has("first tab"))
            assert got["from"].bare == session
            await expect(first.locator(".sb-msg[data-from=agent]").filter(has_text="from the desk")).to_be_visible()
            assert len(open_ticket(app)) == 1
            agent.send_message(mto=session, mbody="/close", mtype="chat")
            await until(lambda: not open_ticket(app), what="closed")
    finally:
        await context.close()


async def test_a_message_without_receipt_is_sent_again_kept_once_or_marked_not_delivered(app, browser, site,
                                                                                       prosody):
    """The widget resends what got no XEP-0184 receipt (same id and origin-id) after resend-seconds or a
    reconnect; the desk keeps it once. Losses are made at the component's door, as if it had died with
    the message in its socket (lost) or just after storing it (its receipt lost)."""
    plugin = app.services[kit.DOMAIN].plugins["support"]
    real_message, real_ack = plugin._queue_message, plugin.outbox.acknowledge
    seen: list[tuple[str, str]] = []  # (body, sender) of every copy that reached the desk

    async def lossy(msg: Any, queue: str) -> None:
        body = msg["body"] or ""
        seen.append((body, str(msg["from"])))
        if "[lost always]" in body or ("[lost once]" in body and [b for b, _ in seen].count(body) == 1):
            return
        await real_message(msg, queue)

    def ack_lossy(msg: Any) -> None:
        if "[no receipt]" not in (msg["body"] or "") or [b for b, _ in seen].count(msg["body"]) > 1:
            real_ack(msg)

    async def archived(body: str) -> int:
        t = open_ticket(app)[0]
        items = await app.services[kit.DOMAIN].hooks.service("archive").history(
            support(app).session_jid(t.id), maxstanzas=50, maxchars=None, since=None, seconds=None)
        return sum(1 for el, _ts in items if any(c.tag.endswith("}body") and c.text == body for c in el))

    def mark(page: Any, body: str) -> Any:
        return page.locator(".sb-msg[data-from=me]").filter(has_text=body).locator(".sb-mark")

    plugin._queue_message, plugin.outbox.acknowledge = lossy, ack_lossy
    context, page = await shop.shop(browser, site, prosody.ports.http, kit.HELP, **{"resend-seconds": "0.5"})
    try:
        await page.locator("#switchboard-widget .sb-bubble").click()
        await write(page, "where is my parcel [lost once]")
        await expect(mark(page, "[lost once]")).to_have_attribute("data-state", "delivered")
        assert await archived("where is my parcel [lost once]") == 1
        await write(page, "hello? [lost always]")
        await expect(mark(page, "[lost always]")).to_have_attribute("data-state", "failed", timeout=15_000)
        await expect(mark(page, "[lost always]")).to_have_text("not delivered")
        assert [b for b, _ in seen].count("hello? [lost always]") == 4  # sent, then three times again
        await context.close()
        for t in open_ticket(app):
            await support(app).close(t.id, "admin@localhost", "test")

        # Stored, its receipt lost, the connection drops: sent again from the new login (another JID),
        # acknowledged, and kept once (the default resend delay is 10 s: this is the reconnect's resend).
        context, page = await shop.shop(browser, site, prosody.ports.http, kit.HELP)
        await page.locator("#switchboard-widget .sb-bubble").click()
        await write(page, "human")
        await until_saved(page)  # queued, with the token that resumes the conversation after the drop
        await write(page, "my order A-7 [no receipt]")
        await stored(lambda: archived("my order A-7 [no receipt]"), lambda n: n == 1)
        await page.evaluate("window.SwitchboardWidget.xmpp.socket.socket.close()")
        await expect(mark(page, "[no receipt]")).to_have_attribute("data-state", "delivered", timeout=7_000)
        senders = {who for body, who in seen if body == "my order A-7 [no receipt]"}
        assert len(senders) == 2, senders
        assert await archived("my order A-7 [no receipt]") == 1
    finally:
        plugin._queue_message, plugin.outbox.acknowledge = real_message, real_ack
        await context.close()
