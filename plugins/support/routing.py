"""Routing: which agents a waiting ticket is offered to (pure functions, no I/O).

Tiers follow XEP-0142's meaning of ``show``: chat (or plain available) is free,
away is busy (offered only when nobody free can take it), dnd gets urgent
tickets only, xa is never routed. Capacity is the agent's ``max-chats`` bounded
by the queue's limit; a pending offer counts as a conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import SHOW_TIERS, Agent, Ticket


@dataclass
class Candidate:
    agent: Agent
    resource: str       #: full JID the offer goes to
    load: int           #: conversations held + offers pending
    capacity: int
    tier: int


@dataclass(slots=True)
class Seat:
    """An agent as a routing pass sees it: where an offer would go, its tier, its capacity. Fixed for
    the pass (only a presence changes them, and none is handled during a pass), so each is worked
    out once per pass rather than for every customer tried."""

    agent: Agent
    resource: str       #: the agent's best resource: where an offer goes
    tier: int
    capacity: int


def seats(agents: list[Agent], default_max: int) -> list[Seat]:
    """The routable agents among ``agents`` (a resource with a routable show), in their order."""
    found: list[Seat] = []
    for agent in agents:
        best = agent.best()
        if best is None:
            continue
        found.append(Seat(agent, best.jid, SHOW_TIERS[best.show], agent.capacity(default_max, best)))
    return found


def free_tiers(seats: list[Seat], loads: dict[str, int], busy: set[str]) -> set[int]:
    """The tiers in which some agent could take a customer now (no offer pending, room left)."""
    return {s.tier for s in seats if s.agent.jid not in busy and loads.get(s.agent.jid, 0) < s.capacity}


def candidates(ticket: Ticket, seated: list[Seat], loads: dict[str, int], offered: set[str],
               urgent: bool) -> list[Candidate]:
    """The agents among the pass's :func:`seats` that may be offered ``ticket`` now, best tier only."""
    found: list[Candidate] = []
    for s in seated:
        agent = s.agent
        if agent.jid in ticket.declined or agent.jid in offered:
            continue
        if ticket.target_agent and agent.jid != ticket.target_agent:
            continue
        if s.tier == 2 and not urgent:
            continue
        load = loads.get(agent.jid, 0)
        if load >= s.capacity:
            continue
        found.append(Candidate(agent, s.resource, load, s.capacity, s.tier))
    if not found:
        return []
    top = min(c.tier for c in found)
    return [c for c in found if c.tier == top]


def choose(strategy: str, found: list[Candidate], order: list[str], last: str) -> list[Candidate]:
    """Pick among candidates: all (broadcast), the next after ``last`` in ``order`` (round-robin),
    or the least loaded relative to capacity, then the longest idle (least-busy)."""
    if not found:
        return []
    if strategy == "broadcast":
        return found
    if strategy == "least-busy":
        return [min(found, key=lambda c: (c.load / c.capacity, c.load, c.agent.last_assigned,
                                          order.index(c.agent.jid) if c.agent.jid in order else len(order)))]
    position = {jid: i for i, jid in enumerate(order)}
    start = position.get(last, -1)

    def distance(c: Candidate) -> int:
        index = position.get(c.agent.jid, len(order))
        return (index - start - 1) % max(1, len(order) + 1)

    return [min(found, key=distance)]


def estimate_wait(ahead: int, per_customer: float, agents_online: int) -> int:
    """Seconds until a customer with ``ahead`` entries before them is routed (rough, never negative)."""
    return int(round((ahead + 1) * per_customer / max(1, agents_online)))
