"""What the engine finds without scanning every open ticket: each queue's waiting list, who holds or
is offered what, each customer's open tickets, and each queue's routable agents.

The ledger calls :meth:`Indexes._reindex` after every recorded change (and after an undo, a
forget or a load), so the indexes follow the tickets as stored; nothing else writes them. Agents'
resources change only through :meth:`Indexes._set_resource` and :meth:`Indexes._drop_agents`, which
drop the queue's seats: a routing pass (one per acceptance, fifty in a round) works them out again
only after a presence changed them.
"""

from __future__ import annotations

from . import routing
from .model import WAITING_STATES, Agent, Resource, Ticket
from .waiting import WaitingList


class Indexes:
    def _init_indexes(self) -> None:
        #: queue name -> its waiting tickets (queued or offered) in routing order
        self.waiting: dict[str, WaitingList] = {name: WaitingList() for name in self.queues}
        self._waiting_in: dict[str, str] = {}            # ticket -> queue whose list holds it
        self._holding: dict[str, set[str]] = {}          # agent bare -> active tickets
        self._offering: dict[str, set[str]] = {}         # agent bare -> tickets offered to them
        self._held_by: dict[str, tuple[str, ...]] = {}   # ticket -> agents in _holding
        self._offered_to: dict[str, tuple[str, ...]] = {}  # ticket -> agents in _offering
        self._by_customer: dict[str, set[str]] = {}      # customer bare -> open tickets
        self._customer_of: dict[str, str] = {}           # ticket -> customer in _by_customer
        self._seated: dict[str, list[routing.Seat]] = {}  # queue -> its routable agents (_seats)

    def _reindex(self, t: Ticket) -> None:
        live = self.tickets.get(t.id) is t
        # Waiting lists.
        want = t.queue if live and t.state in WAITING_STATES and t.queue in self.waiting else None
        was = self._waiting_in.get(t.id)
        if was is not None and was != want:
            self.waiting[was].discard(t.id)
            del self._waiting_in[t.id]
        if want is not None:
            self.waiting[want].put(t.id, t.sort_key())
            self._waiting_in[t.id] = want
        # Agents' load.
        holding = (t.agent,) if live and t.state == "active" and t.agent else ()
        offering = tuple(sorted({full.split("/", 1)[0] for full in t.offers})) \
            if live and t.state == "offered" else ()
        self._move(t.id, holding, self._held_by, self._holding)
        self._move(t.id, offering, self._offered_to, self._offering)
        # Customers.
        customer = t.customer if live else None
        previous = self._customer_of.get(t.id)
        if previous is not None and previous != customer:
            self._by_customer.get(previous, set()).discard(t.id)
            if not self._by_customer.get(previous):
                self._by_customer.pop(previous, None)
            del self._customer_of[t.id]
        if customer is not None:
            self._by_customer.setdefault(customer, set()).add(t.id)
            self._customer_of[t.id] = customer

    @staticmethod
    def _move(ticket_id: str, agents: tuple[str, ...], by_ticket: dict[str, tuple[str, ...]],
              by_agent: dict[str, set[str]]) -> None:
        before = by_ticket.get(ticket_id, ())
        if before == agents:
            return
        for agent in before:
            held = by_agent.get(agent)
            if held is not None:
                held.discard(ticket_id)
                if not held:
                    del by_agent[agent]
        for agent in agents:
            by_agent.setdefault(agent, set()).add(ticket_id)
        if agents:
            by_ticket[ticket_id] = agents
        else:
            by_ticket.pop(ticket_id, None)

    def _seats(self, queue: str) -> list[routing.Seat]:
        """The queue's configured agents with a routable resource, in the queue's order, as a routing
        pass sees them (where an offer goes, tier, capacity)."""
        seated = self._seated.get(queue)
        if seated is None:
            q, present = self.queues[queue], self.agents.get(queue, {})
            seated = self._seated[queue] = routing.seats([present[jid] for jid in q.agents if jid in present],
                                                         q.max_chats)
        return seated

    def _routable_agents(self, queue: str) -> list[Agent]:
        return [s.agent for s in self._seats(queue)]

    def _set_resource(self, queue: str, bare: str, jid: str, resource: Resource | None) -> Agent:
        """An agent's resource online (``resource``) or gone (None) in ``queue``."""
        agent = self.agents[queue].setdefault(bare, Agent(bare))
        if resource is None:
            agent.resources.pop(jid, None)
        else:
            agent.resources[jid] = resource
        self._seated.pop(queue, None)
        return agent

    def _drop_agents(self, queue: str) -> None:
        """Forget every agent of a queue let go to another process."""
        self.agents[queue] = {}
        self._seated.pop(queue, None)

    def load_of(self, agent_bare: str) -> int:
        """Conversations an agent holds plus offers waiting for their answer (in queues owned by other
        processes too)."""
        foreign = sum(self._foreign.get(agent_bare, ()))
        return len(self._holding.get(agent_bare, ())) + len(self._offering.get(agent_bare, ())) + foreign

    def _loads(self) -> dict[str, int]:
        """:meth:`load_of` every agent with a load (a routing pass's start: one per acceptance)."""
        loads = {agent: len(held) for agent, held in self._holding.items()}
        for agent, offered in self._offering.items():
            loads[agent] = loads.get(agent, 0) + len(offered)
        for agent, counts in self._foreign.items():
            loads[agent] = loads.get(agent, 0) + sum(counts)
        return loads

    def _busy(self) -> set[str]:
        """Agents with an offer waiting for their answer (they get one at a time)."""
        return set(self._offering) | {agent for agent, (_, offered) in self._foreign.items() if offered}

    def waiting_count(self, queue: str | None = None) -> int:
        if queue is not None:
            return len(self.waiting.get(queue, ()))
        return sum(len(w) for w in self.waiting.values())
