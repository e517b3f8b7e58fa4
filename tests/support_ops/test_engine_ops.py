"""The ticket life cycle in the engine, without a network: pending, resolve, reopen, sweep, pre-chat and
business-hours holds, ratings, tags and priorities, taking a waiting ticket. Real SQLite/PostgreSQL storage."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from component.errors import StanzaError
from plugins.support import hooks as events
from plugins.support.engine import JoinRefused

from .. import harness
from .kit import A, B, Clock, migrated, new_engine, settle

DAY = 86400.0
# Monday 2025-09-29 10:00 and Sunday 2025-09-28 10:00 in Shanghai.
MONDAY = datetime(2025, 9, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
SUNDAY = MONDAY - DAY
HOURS = {"hours": ["mon-fri 09:00-18:00"], "timezone": "Asia/Shanghai"}


@pytest.fixture
async def db(tmp_path):
    database = await migrated(harness.database_url(tmp_path))
    yield database
    await database.close()


@pytest.fixture
async def make(db):
    engines = []

    async def build(clock=None, **queue):
        engine, rec = await new_engine(db, clock, **queue)
        engines.append(engine)
        return engine, rec

    yield build
    for engine in engines:
        await engine.stop()


async def online(engine, *agents):
    for agent in agents:
        await engine.agent_presence("help", f"{agent}/r", "chat")


async def served(engine, rec, customer="c@y/r", agent=None):
    """A ticket taken by the agent it was offered to; returns (ticket, agent full JID)."""
    t = await engine.join("help", customer, "en")
    await settle()
    offered = rec.of("offer")[-1][1]
    await engine.accept(t.id, agent or offered)
    await engine.first_response(t)
    return t, agent or offered


async def kinds(engine, ticket_id):
    return [kind for kind, *_ in await engine.store.events(ticket_id)]


async def test_pending_goes_back_to_the_queue_on_the_reply_first_to_the_last_agent(make):
    engine, rec = await make(strategy="round-robin")
    await online(engine, A, B)
    t, agent = await served(engine, rec)
    assert agent == f"{A}/r"
    await engine.set_pending(t.id, A)
    assert (t.state, t.agent, engine.load_of(A)) == ("pending", "", 0)
    assert engine.role(t, A) == "agent" and engine.role(t, B) is None  # the last agent may still write
    assert any("waiting for your reply" in body for body in rec.of("customer"))
    with pytest.raises(StanzaError) as err:
        await engine.set_pending(t.id, A)
    assert err.value.condition == "unexpected-request"
    # The reply: round-robin would pick B next, but the ticket returns to A first.
    await engine.requeue(t.id, "c@y/phone")
    await settle()
    assert rec.of("offer")[-1] == (t.id, f"{A}/r") and t.customer_jid == "c@y/phone"
    await engine.reject(t.id, f"{A}/r")
    await settle()
    assert rec.of("offer")[-1] == (t.id, f"{B}/r")  # A let it go: normal routing
    assert await kinds(engine, t.id) == ["created", "queued", "offered", "accepted", "first_response", "pending",
                                         "queued", "offered", "offer_rejected", "offered"]
    stored = await engine.store.ticket(t.id)
    assert stored.state == "offered" and stored.pending_at is None


async def test_close_resolves_asks_a_rating_and_reopens_within_the_window(make):
    clock = Clock()
    engine, rec = await make(clock, reopen_days=7.0)
    await online(engine, A, B)
    t, agent = await served(engine, rec)
    clock.now += 600
    await engine.close(t.id, A)
    assert rec.of("closed")[-1] == (t.id, True)  # the outbox asks for the rating with the notice
    stored = await engine.store.ticket(t.id)
    assert (stored.state, stored.resolved_at, stored.rating_requested_at) == ("resolved", clock.now, clock.now)
    events_ = await engine.store.events(t.id)
    assert events_[-1][0] == "closed" and events_[-1][3] == {"reason": "resolved", "rating_requested": True}
    assert (await engine.reopenable("help", "c@y")).id == t.id
    clock.now += 6 * DAY
    again = await engine.reopen(t.id, "c@y/r2")
    await settle()
    assert again.id == t.id and again.reopened == 1 and again.rating_requested_at is None
    assert rec.of("offer")[-1] == (t.id, agent)  # back to the agent who held it
    assert any("reopened your ticket" in body for body in rec.of("customer"))
    assert (await kinds(engine, t.id))[-3:] == ["reopened", "queued", "offered"]
    with pytest.raises(StanzaError) as err:
        await engine.reopen(t.id, "c@y/r2")
    assert err.value.condition == "conflict"
    await engine.accept(t.id, agent)
    assert "reopened this ticket (1×)" in rec.of("connect")[-1][2]
    await engine.close(t.id, A)
    clock.now += 7 * DAY + 1
    assert await engine.reopenable("help", "c@y") is None  # past the window: a new ticket next time


async def test_bot_only_conversations_do_not_reopen_nor_ask_for_a_rating(make):
    engine, rec = await make()
    engine.hooks.on(events.BEFORE_QUEUE, lambda ev: True)
    t = await engine.join("help", "c@y/r", "en", body="hello")
    assert t.state == "bot"
    await engine.close(t.id, "", "bot")
    assert rec.of("closed")[-1] == (t.id, False)
    assert (await engine.store.ticket(t.id)).state == "resolved"
    assert await engine.reopenable("help", "c@y") is None  # the bot answers a new ticket instead


async def test_reopen_disabled_closes_for_good(make):
    engine, rec = await make(reopen_days=0.0)
    await online(engine, A)
    t, _agent = await served(engine, rec)
    await engine.close(t.id, A)
    assert (await engine.store.ticket(t.id)).state == "closed"
    assert await engine.reopenable("help", "c@y") is None


async def test_sweep_closes_old_resolved_tickets_and_resolves_stale_pending_ones(make):
    clock = Clock()
    engine, rec = await make(clock, reopen_days=2.0, pending_days=3.0)
    await online(engine, A)
    old, _ = await served(engine, rec, "old@y/r")
    await engine.close(old.id, A)
    waiting, _ = await served(engine, rec, "slow@y/r")
    await engine.set_pending(waiting.id, A)
    clock.now += 1 * DAY
    assert await engine.sweep() == 0
    clock.now += 1 * DAY + 1
    assert await engine.sweep() == 1
    assert (await engine.store.ticket(old.id)).state == "closed"
    assert (await kinds(engine, old.id))[-1] == "finalized"
    clock.now += 1 * DAY
    assert await engine.sweep() == 1
    stale = await engine.store.ticket(waiting.id)
    assert (stale.state, stale.close_reason, stale.rating_requested_at) == ("resolved", "no_reply", None)
    assert waiting.id not in engine.tickets


async def test_prechat_form_holds_the_ticket_until_complete(make):
    engine, rec = await make(join_form=["name", "email", "order"], join_form_optional=["order"])
    await online(engine, A)
    t = await engine.join("help", "c@y/r", "en", body="my order is late")
    assert t.state == "prechat" and rec.of("held")[-1] == (t.id, "prechat", "") and not rec.of("offer")
    await engine.prechat_answers(t.id, {"name": "Alice"})
    await engine.prechat_answers(t.id, {}, "prechat_bad_email")
    assert rec.of("held")[-1] == (t.id, "prechat", "prechat_bad_email") and t.state == "prechat"
    await engine.prechat_answers(t.id, {"email": "alice@example.com", "order": ""})
    await settle()
    assert t.state == "offered" and t.form == {"message": "my order is late", "name": "Alice",
                                               "email": "alice@example.com", "order": ""}
    await engine.accept(t.id, f"{A}/r")
    assert "Name: Alice · Email: alice@example.com" in rec.of("connect")[-1][2]
    assert (await kinds(engine, t.id))[:3] == ["created", "prechat", "queued"]
    # A join by IQ brings the answers along: no hold.
    t2 = await engine.join("help", "d@y/r", "en", via="iq", form={"name": "Bob", "email": "b@y.z", "order": ""})
    assert t2.state != "prechat"


async def test_out_of_hours_a_message_waits_and_queues_once_open(make):
    clock = Clock(SUNDAY)
    engine, rec = await make(clock, **HOURS)
    await online(engine, A)
    assert not engine.accepting("help") and engine.summary("help")["status"] == "closed"
    with pytest.raises(JoinRefused) as err:
        await engine.join("help", "iq@y/r", "en", via="iq")
    assert (err.value.reason, err.value.condition) == ("hours", "service-unavailable")
    t = await engine.join("help", "c@y/r", "en", body="are you there?")
    assert t.state == "offline" and rec.of("held")[-1] == (t.id, "offline", "") and not rec.of("offer")
    await engine.requeue(t.id, "c@y/r")  # still closed: it keeps waiting
    assert t.state == "offline"
    clock.now = MONDAY
    assert engine.accepting("help") and engine.summary("help")["status"] == "open"
    await engine.requeue(t.id, "c@y/r")
    await settle()
    assert t.state == "offered"
    assert await kinds(engine, t.id) == ["created", "offline", "queued", "offered"]


async def test_out_of_hours_without_messages_refuses_chat_and_ends_a_bot_hand_off(make):
    clock = Clock(SUNDAY)
    engine, rec = await make(clock, offline_messages=False, **HOURS)
    with pytest.raises(JoinRefused) as err:
        await engine.join("help", "c@y/r", "en", body="hello")
    assert err.value.reason == "hours"
    # The bot kept a customer while the queue was open; it hands off after closing time.
    clock.now = MONDAY
    engine.hooks.on(events.BEFORE_QUEUE, lambda ev: True)
    t = await engine.join("help", "d@y/r", "en", body="hello")
    clock.now = SUNDAY
    await engine.enqueue(t.id)
    assert t.state == "abandoned" and rec.of("held")[-1] == (t.id, "closed", "")
    assert t.id not in engine.tickets
    assert (await engine.store.events(t.id))[-1][3] == {"reason": "out_of_hours"}


async def test_take_a_message_left_out_of_hours(make):
    clock = Clock(SUNDAY)
    engine, rec = await make(clock, **HOURS)
    await online(engine, A)
    t = await engine.join("help", "c@y/r", "en", body="call me back")
    with pytest.raises(StanzaError) as err:
        await engine.take(t.id, "stranger@x/r")
    assert err.value.condition == "forbidden"
    taken = await engine.take(t.id, f"{A}/r")
    assert (taken.state, taken.agent) == ("active", A) and rec.of("connect")[-1][:2] == (t.id, f"{A}/r")
    with pytest.raises(StanzaError) as err:
        await engine.take(t.id, f"{B}/r")
    assert err.value.condition in ("forbidden", "unexpected-request")
    assert (await kinds(engine, t.id))[-2:] == ["offline", "accepted"]


async def test_ratings_once_per_question_tags_and_priority_events(make):
    engine, rec = await make()
    await online(engine, A)
    t, _ = await served(engine, rec)
    with pytest.raises(StanzaError) as err:
        await engine.rate(t.id, 5, "", "c@y")
    assert err.value.condition == "not-allowed"  # not asked yet
    await engine.update(t.id, A, ["vip", "billing"], [], 5)
    await engine.update(t.id, A, [], ["billing"], None)
    await engine.update(t.id, A, ["vip"], [], 5)  # no change: no event
    await engine.close(t.id, A)
    with pytest.raises(StanzaError) as err:
        await engine.rate(t.id, 6, "", "c@y")
    assert err.value.condition == "bad-request"
    rated = await engine.rate(t.id, 4, " quick ", "c@y")
    assert (rated.rating, rated.rating_comment) == (4, "quick")
    with pytest.raises(StanzaError) as err:
        await engine.rate(t.id, 1, "", "c@y")
    assert err.value.condition == "conflict"
    # Tags on a finished ticket too.
    await engine.update(t.id, A, ["followup"])
    stored = await engine.store.ticket(t.id)
    assert (stored.tags, stored.priority, stored.rating) == (["vip", "followup"], 5, 4)
    recorded = [(k, data) for k, _at, _actor, data in await engine.store.events(t.id)
                if k in ("tagged", "priority", "rated")]
    assert recorded == [("tagged", {"added": ["vip", "billing"], "removed": []}),
                        ("priority", {"priority": 5, "previous": 0}),
                        ("tagged", {"added": [], "removed": ["billing"]}),
                        ("rated", {"rating": 4, "comment": "quick"}),
                        ("tagged", {"added": ["followup"], "removed": []})]


async def test_priority_moves_a_waiting_customer_ahead(make):
    engine, rec = await make()
    first = await engine.join("help", "first@y/r", "en")
    second = await engine.join("help", "second@y/r", "en")
    assert engine.status(second)[0] == 1
    await engine.update(second.id, A, priority=5)
    assert engine.status(second)[0] == 0 and engine.status(first)[0] == 1


async def test_waiting_states_survive_a_restart(make):
    clock = Clock(SUNDAY)
    engine, rec = await make(clock, join_form=["name"], **HOURS)
    await online(engine, A)
    asked = await engine.join("help", "form@y/r", "en", body="hi")
    left = await engine.join("help", "left@y/r", "en", body="call me")
    await engine.prechat_answers(left.id, {"name": "Lee"})
    assert left.state == "offline"  # the form first, then the hours
    clock.now = MONDAY
    served_ticket = await engine.join("help", "served@y/r", "en", via="iq", form={"name": "Sam"})
    await settle()
    await engine.accept(served_ticket.id, f"{A}/r")
    await engine.set_pending(served_ticket.id, A)
    await engine.update(served_ticket.id, A, ["vip"], [], 3)
    await engine.stop()
    again, rec2 = await make(clock, join_form=["name"], **HOURS)
    states = {t.customer: (t.state, t.tags, t.priority) for t in again.tickets.values()}
    assert states == {"form@y": ("prechat", [], 0), "left@y": ("offline", [], 0), "served@y": ("pending", ["vip"], 3)}
    await online(again, A)
    await again.requeue(served_ticket.id, "served@y/r")
    await settle()
    assert rec2.of("offer") == [(served_ticket.id, f"{A}/r")]  # back to its agent
    await again.prechat_answers(asked.id, {"name": "Fay"})
    await again.requeue(left.id, "left@y/r")
    assert all(t.state in ("queued", "offered") for t in again.tickets.values())


async def test_search_by_status_tag_customer_and_words_in_any_language(make):
    from plugins.support.tickets import Search

    engine, rec = await make(join_form=["name", "order"])
    await online(engine, A)
    wang = await engine.join("help", "wang@y/r", "zh", via="iq", form={"name": "王小明", "order": "A-1001"})
    alice = await engine.join("help", "alice@y/r", "en", via="iq", form={"name": "Alice", "order": "B-7"})
    await engine.update(alice.id, A, ["vip"])
    await settle()
    store = engine.store

    async def ids(**criteria):
        return [t.id for t in await store.search(["help"], Search(**criteria))]

    assert await ids(text="小明") == [wang.id]
    assert await ids(text="b-7") == [alice.id]
    assert await ids(text="WANG@") == [wang.id]  # the customer's JID, any case
    # A prefix of the id finds it (tickets made in the same millisecond share a long prefix).
    assert alice.id in await ids(text=alice.id[:12]) and await ids(text=alice.id) == [alice.id]
    assert await ids(tags=["vip"]) == [alice.id]
    assert await ids(text="#vip") == [alice.id]
    assert set(await ids(statuses=["waiting"])) == {wang.id, alice.id}
    assert await ids(statuses=["resolved"]) == []
    assert await ids(customer="alice") == [alice.id]
    assert await ids(text="100%") == []  # LIKE wildcards are escaped
    assert await store.search(["other"], Search()) == []
