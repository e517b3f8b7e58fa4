"""The engine's indexes (waiting lists, agents' loads and offers, customers' tickets, routable agents) always say what a
scan of every open ticket says, whatever happens: seeded random days of joins, departures, offers,
answers, closes, transfers back to the queue, priorities and agents coming and going."""

from __future__ import annotations

import random

import pytest

from component.errors import StanzaError
from plugins.support.model import WAITING_STATES

from .test_engine import A, B, C, make, online, settle  # noqa: F401 - make is a fixture

AGENTS = (A, B, C)


def scanned(engine):
    tickets = list(engine.tickets.values())
    waiting = [t.id for t in sorted((t for t in tickets if t.queue == "help" and t.state in WAITING_STATES),
                                    key=lambda t: t.sort_key())]
    loads = {a: sum(1 for t in tickets if (t.state == "active" and t.agent == a)
                    or (t.state == "offered" and t.offered_to(a))) for a in AGENTS}
    offers = {a: sorted(t.id for t in tickets if t.state == "offered" and t.offered_to(a)) for a in AGENTS}
    return waiting, loads, offers


def check(engine):
    waiting, loads, offers = scanned(engine)
    assert engine.waiting["help"].ids() == waiting
    assert {a: engine.load_of(a) for a in AGENTS} == loads
    assert {a: engine._loads().get(a, 0) for a in AGENTS} == loads  # what a routing pass starts from
    # The routable agents as a routing pass sees them, kept between presences: as a walk of them says.
    present = engine.agents["help"]
    routable = [(a, present[a].best().jid) for a in AGENTS if a in present and present[a].best() is not None]
    assert [(s.agent.jid, s.resource) for s in engine._seats("help")] == routable
    assert {a: sorted(t.id for t in engine.pending_offers(a)) for a in AGENTS} == offers
    for t in engine.tickets.values():
        assert engine.open_ticket(t.entry, t.customer) is t
        if t.state in WAITING_STATES and t.state != "offered":
            assert engine.status(t)[0] == waiting.index(t.id)
    assert engine.summary("help")["count"] == len(waiting)
    # Nothing is left behind for tickets that closed (the indexes do not grow with the day's total).
    assert sum(len(ids) for ids in engine._by_customer.values()) == len(engine.tickets)
    assert len(engine._waiting_in) == len(waiting)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_indexes_follow_every_change(make, seed):
    engine, _rec = await make(max_chats=2)
    rng = random.Random(seed)
    customers = 0
    for _step in range(120):
        tickets = list(engine.tickets.values())
        op = rng.choice(["join", "join", "join", "leave", "accept", "reject", "close", "pending", "priority",
                         "presence", "requeue"])
        try:
            if op == "join":
                customers += 1
                await engine.join("help", f"c{customers}@y/r", "en", priority=rng.choice([0, 0, 5]))
            elif op == "leave" and (waiting := [t for t in tickets if t.state in ("queued", "offered")]):
                await engine.leave(rng.choice(waiting).id, "bye")
            elif op in ("accept", "reject") and (offered := [t for t in tickets if t.state == "offered"]):
                t = rng.choice(offered)
                agent = next(iter(t.offers))
                await (engine.accept if op == "accept" else engine.reject)(t.id, agent)
            elif op == "close" and (active := [t for t in tickets if t.state == "active"]):
                await engine.close(rng.choice(active).id, rng.choice(AGENTS))
            elif op == "pending" and (active := [t for t in tickets if t.state == "active"]):
                await engine.set_pending(rng.choice(active).id, rng.choice(AGENTS))
            elif op == "requeue" and (pending := [t for t in tickets if t.state == "pending"]):
                t = rng.choice(pending)
                await engine.requeue(t.id, t.customer_jid)
            elif op == "priority" and tickets:
                await engine.update(rng.choice(tickets).id, "", priority=rng.choice([-1, 0, 3, 10]))
            elif op == "presence":
                agent = rng.choice(AGENTS)
                show = rng.choice(["chat", "away", "dnd", None])
                await engine.agent_presence("help", f"{agent}/r", show)
        except StanzaError:
            pass  # a refused step changes nothing
        await settle()
        check(engine)
    # Everyone back: the queue drains in order as agents take customers.
    await online(engine, *AGENTS)
    check(engine)
