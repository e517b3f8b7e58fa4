"""Routing as pure functions: which agents a waiting customer may be offered, and to whom it goes."""

from __future__ import annotations

from plugins.support.model import Agent, Resource, Ticket
from plugins.support.routing import candidates, choose, estimate_wait, free_tiers, seats

A, B = "a@x", "b@x"


def test_routing_pure_functions():
    agents = [Agent(A, {f"{A}/r": Resource(f"{A}/r", "chat", None, 1.0)}),
              Agent(B, {f"{B}/r": Resource(f"{B}/r", "chat", 1, 1.0)})]
    t = Ticket("t1", "help", "c@y", "c@y/r", "en", 0.0)
    found = candidates(t, seats(agents, 3), {B: 1}, set(), False)
    assert [c.agent.jid for c in found] == [A]              # B is at its max-chats of 1
    found = candidates(t, seats(agents, 3), {}, set(), False)
    assert [c.agent.jid for c in choose("round-robin", found, [A, B], A)] == [B]
    assert [c.agent.jid for c in choose("round-robin", found, [A, B], B)] == [A]
    assert len(choose("broadcast", found, [A, B], "")) == 2
    t.declined = [A]
    assert [c.agent.jid for c in candidates(t, seats(agents, 3), {}, set(), False)] == [B]
    assert estimate_wait(0, 60, 2) == 30 and estimate_wait(2, 60, 0) == 180


def test_a_routing_pass_sees_each_agent_once_as_a_seat():
    """Where an offer goes, the tier and the capacity, worked out once per pass: the best resource
    (best show, then the most recent), max-chats bounded by the queue's, nobody on xa or offline."""
    C, D = "c@x", "d@x"
    agents = [Agent(A, {f"{A}/phone": Resource(f"{A}/phone", "away", 5, 2.0),
                        f"{A}/desk": Resource(f"{A}/desk", "chat", 2, 1.0)}),
              Agent(B, {f"{B}/r": Resource(f"{B}/r", "dnd", None, 1.0)}),
              Agent(C, {f"{C}/r": Resource(f"{C}/r", "xa", None, 1.0)}),
              Agent(D)]
    seated = seats(agents, 3)
    assert [(s.agent.jid, s.resource, s.tier, s.capacity) for s in seated] == [(A, f"{A}/desk", 0, 2),
                                                                             (B, f"{B}/r", 2, 3)]
    assert free_tiers(seated, {}, set()) == {0, 2}
    assert free_tiers(seated, {A: 2}, set()) == {2}        # A is full
    assert free_tiers(seated, {}, {A, B}) == set()         # both have an offer pending
