"""The live monitor feed (XEP-0060 notifications) with real clients against the real Prosody.

A supervisor subscribes to ``monitor/help`` and is told when a customer joins, is answered or
leaves, without asking again; agents, plain users and supervisors of other queues are refused;
every payload is valid against the XSD. How soon (the issue's 2 s) is measured by
``python -m bench.monitor_feed`` (bench/results/monitor_feed.md), not asserted here.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import SubElement

import pytest
from slixmpp.exceptions import IqError

from .. import harness
from ..harness import until
from ..schema import assert_valid
from .test_live import DOMAIN, HELP, agent_presence, body_has, config, jid

pytestmark = pytest.mark.integration

PUBSUB = "http://jabber.org/protocol/pubsub"
EVENT = "http://jabber.org/protocol/pubsub#event"
ERRORS = "http://jabber.org/protocol/pubsub#errors"
NS = "urn:switchboard:support:monitor:0"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"


async def pubsub(client: Any, kind: str, action: str, **attrs: str) -> Any:
    iq = client.make_iq_set(ito=DOMAIN) if kind == "set" else client.make_iq_get(ito=DOMAIN)
    SubElement(SubElement(iq.xml, f"{{{PUBSUB}}}pubsub"), f"{{{PUBSUB}}}{action}", attrs)
    return await iq.send(timeout=10)


async def refused(coro: Any, condition: str, app: str | None = None) -> None:
    with pytest.raises(IqError) as err:
        await coro
    error = err.value.iq["error"]
    assert error["condition"] == condition, error
    if app:
        assert error.xml.find(f"{{{ERRORS}}}{app}") is not None, error


def monitor_of(msg: Any) -> Any:
    item = msg.xml.find(f"{{{EVENT}}}event/{{{EVENT}}}items/{{{EVENT}}}item")
    return None if item is None else item.find(f"{{{NS}}}monitor")


def waiting(count: int):
    def match(msg: Any) -> bool:
        m = monitor_of(msg)
        return m is not None and m.find(f"{{{NS}}}waiting").get("count") == str(count)
    return match


async def test_dashboard_is_told_of_changes_and_only_supervisors_may_watch(component, prosody):
    app = await component(config())
    reports = app.services[DOMAIN].hooks.service("support_reports")
    port = prosody.ports.c2s
    async with harness.slix_client(port, "agent1") as a1, harness.slix_client(port, "super") as sup, \
            harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "alice") as alice, \
            harness.slix_client(port, "dave") as dave, harness.slix_client(port, "admin") as admin:
        feed, cin1, in1 = harness.Inbox(sup), harness.Inbox(c1), harness.Inbox(a1)
        # Refusals first: not a supervisor of this queue (whitelist node), someone else's JID, no such node.
        for client in (alice, a1, dave):
            await refused(pubsub(client, "set", "subscribe", node="monitor/help", jid=client.boundjid.full),
                          "not-allowed", "closed-node")
            await refused(pubsub(client, "get", "items", node="monitor/help"), "not-allowed", "closed-node")
        await refused(pubsub(sup, "set", "subscribe", node="monitor/help", jid=jid("alice")), "bad-request",
                      "invalid-jid")
        await refused(pubsub(sup, "set", "subscribe", node="monitor/nowhere"), "item-not-found")
        await refused(pubsub(sup, "set", "publish", node="monitor/help"), "feature-not-implemented", "unsupported")
        await refused(pubsub(sup, "set", "unsubscribe", node="monitor/help"), "unexpected-request", "not-subscribed")
        await feed.quiet(lambda m: monitor_of(m) is not None, wait=0.3)

        # Discovery: the nodes a requester may watch.
        for client, nodes in ((sup, ["monitor/help"]), (admin, ["monitor/help", "monitor/sales"]), (alice, [])):
            items = await client.plugin["xep_0030"].get_items(jid=DOMAIN, node="monitor", timeout=10)
            assert sorted(i[1] for i in items["disco_items"]["items"]) == nodes

        # Subscribe: the current item follows at once.
        result = await pubsub(sup, "set", "subscribe", node="monitor/help", jid=sup.boundjid.full)
        sub = result.xml.find(f"{{{PUBSUB}}}pubsub/{{{PUBSUB}}}subscription")
        assert (sub.get("subscription"), sub.get("jid")) == ("subscribed", sup.boundjid.full)
        first = await feed.next(waiting(0))
        assert first["type"] == "headline" and first["from"].full == DOMAIN
        assert_valid(monitor_of(first))

        # An agent comes online: the agents' counts move without anyone asking.
        agent_presence(a1, HELP, max_chats=1)
        online = await feed.next(lambda m: monitor_of(m) is not None and monitor_of(m).find(
            f"{{{NS}}}agents").get("available") == "1")
        assert_valid(monitor_of(online))

        # A customer joins: waiting 1, with the figures the monitor command reports.
        c1.send_message(mto=HELP, mbody="where is my parcel?", mtype="chat")
        joined = monitor_of(await feed.next(waiting(1)))
        assert_valid(joined)
        snap = reports.snapshot(["help"])
        (row,) = [w for w in snap.waiting]
        customer = joined.find(f"{{{NS}}}waiting/{{{NS}}}customer")
        assert (customer.get("ticket"), customer.get("jid")) == (row.ticket, row.customer)
        # Today's figures are recomputed from the records at most once a second: they follow.
        await feed.next(lambda m: monitor_of(m) is not None and monitor_of(m).find(
            f"{{{NS}}}today").get("conversations") == "1", timeout=5)

        # The agent accepts: waiting 0, one conversation held by agent1.
        offer = await in1.next(body_has("accept"))
        a1.send_message(mto=offer["from"].bare, mbody="accept", mtype="chat")
        await cin1.next(body_has("agent1"))
        served = monitor_of(await feed.next(lambda m: waiting(0)(m) and monitor_of(m).find(
            f"{{{NS}}}conversations").get("count") == "1"))
        conv = served.find(f"{{{NS}}}conversations/{{{NS}}}conversation")
        assert (conv.get("customer"), conv.get("agent")) == (row.customer, jid("agent1"))
        agent = served.find(f"{{{NS}}}agents/{{{NS}}}agent[@jid='{jid('agent1')}']")
        assert (agent.get("load"), [t.get("id") for t in agent]) == ("1", [row.ticket])
        assert served.find(f"{{{NS}}}agents").get("busy") == "1"  # full: one chat at most

        # The items request answers the same state.
        items = await pubsub(sup, "get", "items", node="monitor/help")
        current = items.xml.find(f"{{{PUBSUB}}}pubsub/{{{PUBSUB}}}items/{{{PUBSUB}}}item/{{{NS}}}monitor")
        assert_valid(current)
        assert current.find(f"{{{NS}}}conversations").get("count") == "1"

        # Unsubscribed: nothing more arrives.
        await pubsub(sup, "set", "unsubscribe", node="monitor/help", jid=sup.boundjid.full)
        a1.send_message(mto=offer["from"].bare, mbody="/close", mtype="chat")
        await cin1.next(body_has("closed"))
        await feed.quiet(lambda m: monitor_of(m) is not None, wait=1.0)


async def test_a_customer_leaving_moves_the_feed_and_going_offline_ends_the_subscription(component, prosody):
    app = await component(config())
    feed_state = app.services[DOMAIN].plugins["support_reports"].feed
    port = prosody.ports.c2s
    async with harness.slix_client(port, "super", resource="dash") as sup, \
            harness.slix_client(port, "cust2") as c2:
        feed, cin2 = harness.Inbox(sup), harness.Inbox(c2)
        sup.send_presence(pto=DOMAIN)
        await pubsub(sup, "set", "subscribe", node="monitor/help")
        await feed.next(waiting(0))
        c2.send_message(mto=HELP, mbody="hello?", mtype="chat")
        await feed.next(waiting(1))
        c2.send_message(mto=HELP, mbody="bye", mtype="chat")
        await cin2.next(body_has("left the queue"))
        await feed.next(waiting(0))
        subs = await pubsub(sup, "get", "subscriptions")
        assert [s.get("node") for s in subs.xml.iter(f"{{{PUBSUB}}}subscription")] == ["monitor/help"]
        sup.send_presence(pto=DOMAIN, ptype="unavailable")
        await until(lambda: not feed_state.subs.get("help"), what="subscription ended with the presence")

        # Stopping leaves nothing running and starts nothing later (a late read of today's figures would
        # wait on a closed database for ever).
        await pubsub(sup, "set", "subscribe", node="monitor/help")
        await feed.next(waiting(0))
        feed_state._refresh_today("help")
        await feed_state.stop()
        assert all(t.done() for t in feed_state._tasks) and feed_state._checker.done()
        feed_state.mark("help", today=True)
        feed_state._refresh_today("help")
        assert feed_state._flush_handle is None and not feed_state._today_tasks
