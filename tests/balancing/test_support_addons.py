"""The support desk's add-ons with two processes sharing 4 slots of its domain.

Each queue is owned by the process its JID's stanzas reach (plugins/support/ownership.py):
- the bot answers a customer in the owner of their queue, from a knowledge base edited in the
  other process (the edit is announced); its conversation is read from the database at each turn,
  and every process counts the stored ones;
- the web widget's IQs reach the owner of the queue they are sent to; a conversation token resumes
  a ticket another process holds (transferred to its queue) by handing the request to it; a token
  is refused at another queue, and to a customer who has another conversation in the queue;
- the supervisors' live feed has one publisher (the process the service domain's stanzas reach);
  it shows a queue another process owns, as stored, as soon as it hears of the change (not at its
  next check: ``feed_check`` is long here), and refuses who does not supervise it; when the service
  domain's slot moves to the other process, the first stops publishing at once, ends its
  subscriptions (telling the dashboard), and the dashboard gets each item once from the second
  (the test moves the slot in an order ejabberd must follow: kit.hand_over).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator
from xml.etree.ElementTree import SubElement

import pytest
from slixmpp.exceptions import IqError

from component.app import App
from component.balancing import slot_of
from plugins.support_bot.kb_import import parse as parse_kb

from .. import harness
from ..support.kit import body_has, jid
from ..support_bot.kbdata import read
from ..support_bot.kit import live
from .conftest import SLOTS, SUPPORT, pytestmark  # noqa: F401 - the module's skip condition
from .kit import hand_over

CANDIDATES = [f"q{i}" for i in range(8)]


def services() -> dict[str, dict]:
    queues = [{"name": name, "agents": [jid("agent1")], "supervisors": [jid("super")], "offer_timeout": 60.0,
               "ratings": False} for name in CANDIDATES]
    return {SUPPORT: {"mam": {}, "support": {"queues": queues, "status_interval": 0.2, "liveness_interval": 0.0},
                      "support_bot": {}, "support_web": {}, "support_reports": {"feed_check": 30.0}}}


async def start(server: Any, database: str, tmp: Path, mine: list[int]) -> App:
    tmp.mkdir(parents=True, exist_ok=True)
    text = harness.make_config_text(server.ports.component, services(), tmp / "state", database,
                                    service_ports={SUPPORT: server.component_ports[SUPPORT]})
    text += f"[balancing]\nslots = {SLOTS}\nprocess_slots = {harness.toml_value(mine)}\n"
    return await harness.start_configured(text, tmp)


def plugin(app: App, name: str) -> Any:
    return app.services[SUPPORT].plugins[name]


@contextlib.asynccontextmanager
async def two_processes(server: Any, database: str, tmp_path: Path) -> AsyncIterator[list[App]]:
    """Two processes over the 4 slots, once every queue is adopted by one of them."""
    apps: list[App] = []
    try:
        for folder, mine in (("a", [0, 1]), ("b", [2, 3])):
            apps.append(await start(server, database, tmp_path / folder, mine))
        engines = [plugin(app, "support").engine for app in apps]
        await harness.until(lambda: len(engines[0].owned | engines[1].owned) == len(CANDIDATES), 20,
                            "every queue adopted")
        assert engines[0].owned and engines[1].owned and not engines[0].owned & engines[1].owned
        yield apps
    finally:
        for app in reversed(apps):
            await app.stop()


async def test_the_bot_answers_in_the_owner_of_the_queue(balanced: Any, database: str, tmp_path: Path) -> None:
    async with two_processes(balanced, database, tmp_path) as apps:
        engines = [plugin(app, "support").engine for app in apps]
        theirs = sorted(engines[1].owned)[0]  # a queue of the second process
        bots = [plugin(app, "support_bot") for app in apps]
        # The knowledge base is edited in the first process; the second hears of it.
        await bots[0].kb.import_(theirs, parse_kb(read("kb_en.csv")).drafts, "admin@localhost")
        await harness.until(lambda: bots[1].kb.size(theirs) > 0, 10, "the edit announced")
        queue_jid = f"{theirs}@{SUPPORT}"
        async with contextlib.AsyncExitStack() as stack:
            cust = await stack.enter_async_context(harness.slix_client(balanced.ports.c2s, "cust1"))
            inbox = harness.Inbox(cust)
            cust.send_message(mto=queue_jid, mbody="How long until I get my refund?", mtype="chat")
            answer = await inbox.next(live(body_has("5 to 7 business days")), 15)
            assert answer["from"].bare == queue_jid
            held = [[t.state for t in e.tickets.values() if t.customer == jid("cust1")] for e in engines]
            assert held == [[], ["bot"]], held
            # The turn is stored: both processes count the conversation (admin statistics).
            for bot in bots:
                stats = {s.var: s.value for s in await bot.stats(None)}
                assert stats["bot_conversations"] == 1, stats
            cust.send_message(mto=queue_jid, mbody="talk to a human", mtype="chat")
            await inbox.next(live(body_has("We will connect you")), 15)
            conv = await bots[0].engine.conversation(engines[1].open_ticket(theirs, jid("cust1")).id)
            assert conv is not None and (conv.state, conv.reason) == ("handed_off", "asked")
            assert [t.text for t in conv.transcript if t.role == "customer"] == \
                ["How long until I get my refund?", "talk to a human"]


def web_iq(client: Any, queue: str, name: str, **attrs: str) -> Any:
    req = client.make_iq_set(ito=f"{queue}@{SUPPORT}")
    SubElement(req.xml, f"{{urn:switchboard:web:0}}{name}", attrs)
    return req


async def test_a_web_conversation_resumes_where_its_ticket_is_held(balanced: Any, database: str,
                                                                   tmp_path: Path) -> None:
    async with two_processes(balanced, database, tmp_path) as apps:
        engines = [plugin(app, "support").engine for app in apps]
        ours, theirs = sorted(engines[0].owned)[0], sorted(engines[1].owned)[0]
        port = balanced.ports.c2s
        async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "cust2") as other, \
                harness.slix_client(port, "cust3") as later:
            for client in (cust, other):
                inbox = harness.Inbox(client)
                client.send_message(mto=f"{ours}@{SUPPORT}", mbody="my parcel is late", mtype="chat")
                await inbox.next(live(body_has("We will connect you")), 15)
            token = (await web_iq(cust, ours, "token").send(timeout=10)).xml.find("{urn:switchboard:web:0}token").text
            ticket_id = engines[0].open_ticket(ours, jid("cust1")).id
            # Refused: at another queue (served by the other process), and to a customer who has
            # another conversation in this queue.
            with pytest.raises(IqError) as refused:
                await web_iq(later, theirs, "resume", token=token).send(timeout=10)
            assert refused.value.condition == "not-authorized"
            with pytest.raises(IqError) as refused:
                await web_iq(other, ours, "resume", token=token).send(timeout=10)
            assert refused.value.condition == "conflict"
            # The ticket moves to the other process's queue; the token still names the first queue.
            await plugin(apps[0], "support").engine.transfer(ticket_id, f"admin@{harness.HOST}", theirs)
            await harness.until(lambda: ticket_id in engines[1].tickets, 10, "the transfer taken up")
            assert ticket_id not in engines[0].tickets
            result = await web_iq(later, ours, "resume", token=token).send(timeout=10)
            resumed = result.xml.find("{urn:switchboard:web:0}resume")
            assert resumed is not None and resumed.get("ticket") == ticket_id
            assert result["from"].bare == f"{ours}@{SUPPORT}"
            assert engines[1].tickets[ticket_id].customer_jid == str(later.boundjid)


PUBSUB = "http://jabber.org/protocol/pubsub"
EVENT = "http://jabber.org/protocol/pubsub#event"
MONITOR = "urn:switchboard:support:monitor:0"


async def subscribe(client: Any, queue: str) -> Any:
    iq = client.make_iq_set(ito=SUPPORT)
    SubElement(SubElement(iq.xml, f"{{{PUBSUB}}}pubsub"), f"{{{PUBSUB}}}subscribe", {"node": f"monitor/{queue}"})
    return await iq.send(timeout=10)


def monitor_of(msg: Any, queue: str) -> Any:
    item = msg.xml.find(f"{{{EVENT}}}event/{{{EVENT}}}items/{{{EVENT}}}item")
    found = None if item is None else item.find(f"{{{MONITOR}}}monitor")
    return found if found is not None and found.get("queue") == queue else None


async def test_the_live_feed_shows_a_queue_another_process_owns(balanced: Any, database: str,
                                                               tmp_path: Path) -> None:
    async with two_processes(balanced, database, tmp_path) as apps:
        engines = [plugin(app, "support").engine for app in apps]
        feeds = [plugin(app, "support_reports").feed for app in apps]
        port = balanced.ports.c2s
        async with harness.slix_client(port, "super") as sup, harness.slix_client(port, "cust1") as cust, \
                harness.slix_client(port, "agent1") as agent:
            dashboard = harness.Inbox(sup)
            await subscribe(sup, CANDIDATES[0])
            publisher = next(i for i, feed in enumerate(feeds) if any(feed.subs.values()))
            elsewhere = sorted(engines[1 - publisher].owned)[0]
            with pytest.raises(IqError) as refused:  # not a supervisor, wherever the queue is owned
                await subscribe(agent, elsewhere)
            assert refused.value.condition == "not-allowed"
            await subscribe(sup, elsewhere)
            first = await dashboard.next(lambda m: monitor_of(m, elsewhere) is not None, 10)
            assert monitor_of(first, elsewhere).find(f"{{{MONITOR}}}waiting").get("count") == "0"
            cust.send_message(mto=f"{elsewhere}@{SUPPORT}", mbody="is anyone there?", mtype="chat")
            seen = await dashboard.next(lambda m: (found := monitor_of(m, elsewhere)) is not None
                                        and found.find(f"{{{MONITOR}}}waiting").get("count") == "1", 10)
            customer = monitor_of(seen, elsewhere).find(f"{{{MONITOR}}}waiting/{{{MONITOR}}}customer")
            assert customer.get("jid") == jid("cust1")
            assert not any(feeds[1 - publisher].subs.values())  # one publisher: nothing sent twice
            ids = [m["id"] for m in dashboard.items if monitor_of(m, elsewhere) is not None]
            assert len(ids) == len(set(ids))


def cancelled(msg: Any, queue: str) -> bool:
    # XEP-0060 "Notification of Subscription State Changes"
    found = msg.xml.find(f"{{{PUBSUB}#event}}event/{{{PUBSUB}#event}}subscription")
    return found is not None and found.get("node") == f"monitor/{queue}" and found.get("subscription") == "none"


def waiting(msg: Any, queue: str) -> str | None:
    found = monitor_of(msg, queue)
    return None if found is None else found.find(f"{{{MONITOR}}}waiting").get("count")


async def test_the_live_feed_moves_with_the_service_domain(balanced: Any, database: str, tmp_path: Path) -> None:
    async with two_processes(balanced, database, tmp_path) as apps:
        feeds = [plugin(app, "support_reports").feed for app in apps]
        for feed in feeds:
            feed.publisher.wait = 2.0
        queue = CANDIDATES[0]
        port = balanced.ports.c2s
        async with harness.slix_client(port, "super") as sup, harness.slix_client(port, "cust1") as cust:
            dashboard, record = harness.Inbox(sup), harness.Inbox(sup)  # record: everything, kept
            await subscribe(sup, queue)
            await dashboard.next(lambda m: waiting(m, queue) == "0", 10)
            old = next(i for i, feed in enumerate(feeds) if feed.subs.get(queue))
            new = 1 - old
            seen = len(record.items)
            # Every connection of both processes drops and comes back, the new one's first, so that
            # ejabberd gives it the old one's slots, the service domain's among them.
            given = await hand_over(balanced, [app.services[SUPPORT] for app in apps], old, new, tmp_path)
            assert slot_of(SUPPORT, SLOTS) in given, (slot_of(SUPPORT, SLOTS), given)
            await dashboard.next(lambda m: cancelled(m, queue), 20)
            assert feeds[old].publisher.resigned == 1 and not feeds[old].subs
            await harness.until(lambda: feeds[new].publisher.holding, 10, "the other process's probe back")
            # The dashboard subscribes again: the other process holds the subscription now.
            await subscribe(sup, queue)
            assert feeds[new].subs.get(queue) and not feeds[old].subs
            await dashboard.next(lambda m: waiting(m, queue) == "0", 10)
            cust.send_message(mto=f"{queue}@{SUPPORT}", mbody="is anyone there?", mtype="chat")
            await dashboard.next(lambda m: waiting(m, queue) == "1", 15)
            moved = [m for m in record.items[seen:] if monitor_of(m, queue) is not None]
            # Nothing from the first process since the connections dropped; no item twice.
            assert all(m["id"].startswith(f"monitor-{feeds[new]._origin}-") for m in moved), \
                [m["id"] for m in moved]
            counts = [waiting(m, queue) for m in moved]
            assert counts[-1] == "1" and len({m["id"] for m in moved}) == len(moved)
