"""Dispatch: agents' availability, routing waiting tickets to agents, and the answers to offers.

Agents come and go by presence (``agent_presence``; those read in one turn of the loop share one
pass); every change that may free an agent or bring a customer runs one routing pass over the
queue (``_route``); an offer is answered by ``accept`` or ``reject``, or runs out (offers.py) and
the ticket is offered again to someone else.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Iterator

from component.errors import StanzaError

from . import prechat, routing
from .model import Agent, Resource, Ticket
from .texts import text
from .waiting import WaitingList

log = logging.getLogger("switchboard.plugins.support")

#: Waiting tickets a routing pass reads at a time.
PASS_SLICE = 32


def _in_order(waiting: WaitingList) -> Iterator[str]:
    """The waiting list's ticket ids in routing order, read a slice at a time: a pass looks at the
    customers offered already (up to one per agent, at the head) and the first few queued, rarely more."""
    start = 0
    while ids := waiting.ids(start, start + PASS_SLICE):
        yield from ids
        start += len(ids)


class Dispatch:
    async def agent_presence(self, queue: str, agent_jid: str, show: str | None,
                             max_chats: int | None = None) -> None:
        """An agent's presence to a queue; ``show`` None means unavailable."""
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            if not self.is_agent(queue, bare):
                return
            # Stored in line now, written with other agents' changes while routing goes on (memory
            # decides routing; the stored copy is for a restart and for the other processes).
            if show is None:
                self._set_resource(queue, bare, agent_jid, None)
                stored = self.store.presence_changed(queue, None, agent_jid)
                for t in [t for t in self.pending_offers(bare) if agent_jid in t.offers]:
                    await self._drop_offer(t, agent_jid, "offer_revoked", "revoke_offline")
            else:
                resource = Resource(agent_jid, show, max_chats, self.now())
                self._set_resource(queue, bare, agent_jid, resource)
                stored = self.store.presence_changed(queue, resource, agent_jid)
        await self._route_soon(queue)
        await stored

    def _route_soon(self, queue: str) -> asyncio.Future:
        """A routing pass of ``queue`` in a task of its own, shared by every change made before it
        starts. Fifty agents online at once are read in one turn of the loop: one pass over the
        agents for all of them, not one each (each pass works out every agent's seats)."""
        due = self._passes_due.get(queue)
        if due is None:
            due = self._passes_due[queue] = asyncio.get_running_loop().create_future()
            task = self._spawn(self._route_due(queue, due))
            task.add_done_callback(lambda _task, queue=queue, due=due: self._pass_ended(queue, due))
        return due

    async def _route_due(self, queue: str, due: asyncio.Future) -> None:
        try:
            async with self._lock:
                if self._passes_due.get(queue) is due:
                    del self._passes_due[queue]  # a change from now on needs a pass after this one
                await self._route(queue)
                self._refresh(queue)
        except Exception as exc:
            due.set_exception(exc)  # each change waiting for the pass fails as its own pass would have
            raise
        due.set_result(None)

    def _pass_ended(self, queue: str, due: asyncio.Future) -> None:
        """The pass's task is over, perhaps cancelled (the engine stopping) before it ever ran:
        nobody may wait for it for ever, nor find it due."""
        if self._passes_due.get(queue) is due:
            del self._passes_due[queue]
        due.cancel()  # nothing when it is settled already

    async def _verify_agents(self) -> None:
        """After a restart, agents may have left while we were away: ask their clients."""
        for queue, agents in list(self.agents.items()):
            for agent in list(agents.values()):
                for jid in list(agent.resources):
                    if not await self.outbox.probe(jid):
                        await self.agent_presence(queue, jid, None)

    # -- routing ---------------------------------------------------------
    async def _route(self, queue: str) -> None:
        """Route ``queue``, then each other queue that shares an agent with it: what frees an agent
        here (an offer answered, withdrawn or timed out, a conversation ended) frees them there too."""
        await self._route_queue(queue)
        q = self.queues.get(queue)
        if q is None:
            return
        mine = set(q.agents)
        for name, other in self.queues.items():
            if name != queue and mine.intersection(other.agents):
                await self._route_queue(name)

    async def _route_queue(self, queue: str) -> None:
        """One routing pass: offer waiting customers, in order, to agents with room, until nobody
        free is left. It costs nothing while every agent is busy, however long the queue."""
        q = self.queues.get(queue)
        waiting = self.waiting.get(queue)
        if q is None or not waiting or queue not in self.owned:
            return
        await self._refresh_foreign()
        loads = self._loads()
        busy = self._busy()
        seated = self._seats(queue)
        free = routing.free_tiers(seated, loads, busy)
        made: list[tuple[Any, list[str]]] = []
        try:
            await self._route_pass(q, waiting, seated, loads, busy, free, made)
        finally:
            if made:
                # Each offer leaves as soon as its write is committed, if still pending then: not
                # after this task has the lock back and the whole pass's events are announced.
                for entry, resources in made:
                    entry.done.add_done_callback(
                        lambda _done, entry=entry, resources=resources: self._send_stored(entry, resources,
                                                                                         q.offer_timeout))
                # Lent while the offers are written: other changes (another pass too: the indexes
                # count these offers already) go on.
                await self._lent_all([entry for entry, _ in made])
                for entry, _resources in made:
                    await self._offer_stored(entry)

    async def _route_pass(self, q: Any, waiting: Any, seated: list[routing.Seat], loads: dict[str, int],
                          busy: set[str], free: set[int], made: list[tuple[Any, list[str]]]) -> None:
        queue = q.name
        for ticket_id in _in_order(waiting):
            if not free:
                break
            t = self.tickets[ticket_id]
            if t.state != "queued":
                continue
            urgent = t.priority >= q.urgent_priority
            if free == {2} and not urgent:
                break  # only agents on dnd are free: they take urgent customers, who all come first
            found = routing.candidates(t, seated, loads, busy, urgent)
            if not found and t.target_agent:
                t.target_agent = ""  # the named agent cannot take it: back to the queue
                found = routing.candidates(t, seated, loads, busy, urgent)
            if not found:
                if t.declined and ("retry", t.id) not in self._timers:
                    saved = list(t.declined)
                    t.declined = []
                    if routing.candidates(t, seated, loads, busy, urgent):
                        # Everyone free let it go once: ask again after a pause, not in a loop.
                        self._later(("retry", t.id), q.offer_timeout, lambda tid=t.id: self._retry(tid))
                    t.declined = saved
                continue
            chosen = routing.choose(q.strategy, found, q.agents, self._rr_last.get(queue, ""))
            self._rr_last[queue] = chosen[-1].agent.jid
            t.state = "offered"
            # The form of the offer, when known now, is stored with it: no second write once sent.
            t.offers = {c.resource: self.outbox.known_offer_form(c.resource) or "pending" for c in chosen}
            t.offer_deadline = self.now() + q.offer_timeout
            for c in chosen:
                loads[c.agent.jid] = loads.get(c.agent.jid, 0) + 1
                busy.add(c.agent.jid)
            # The pass goes on at once; its offers are written in one batch and leave once stored.
            entry = self._change(t, "offered", agents=[c.agent.jid for c in chosen])
            self._schedule_offer_timeout(t)
            made.append((entry, [c.resource for c in chosen]))
            free = routing.free_tiers(seated, loads, busy)

    async def accept(self, ticket_id: str, agent_jid: str) -> Ticket:
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            t = self._open(ticket_id)
            if not (self.is_agent(t.queue, bare) or t.offered_to(bare)):
                raise StanzaError("forbidden", "only the queue's agents accept offers")
            if t.state != "offered" or not t.offered_to(bare):
                raise StanzaError("item-not-found", "there is no pending offer of this ticket to you")
            self._revoke_all(t, "revoke_taken", keep=bare)
            now = self.now()
            if t.queued_at:
                samples = self._wait_samples.setdefault(t.queue, [])
                samples.append(now - t.queued_at)
                del samples[:-20]
            t.state = "active"
            t.agent, t.agent_jid, t.accepted_at = bare, agent_jid, now
            t.target_agent, t.declined = "", []
            if bare not in t.agents_seen:
                t.agents_seen.append(bare)
            self.agents[t.queue].setdefault(bare, Agent(bare)).last_assigned = now
            accepted = self._change(t, "accepted", bare)
            # The agent's next offer (the answer freed them for one) joins the acceptance's batch: an
            # offer leaves once stored, so never before the acceptance is. Other changes run during
            # the writes; then the conversation starts unless it has moved on meanwhile.
            await self._route(t.queue)
            await self._lent(accepted)
            await self._announce(accepted)
            self._refresh(t.queue)
            if self.tickets.get(t.id) is not t or t.state != "active" or t.agent != bare:
                return t
            self.outbox.customer_notice(t, text("agent_joined", t.lang, agent=bare.split("@", 1)[0]))
            intro = self._intro(t)
        # Opened without the lock, and after the next offers: fifty agents answering at once get
        # theirs in turn, and nobody's next offer waits for them.
        await self.outbox.connect_agent(t, agent_jid, intro)
        return t

    def _intro(self, t: Ticket) -> str:
        """What the agent reads when the conversation starts: who, which ticket, and what we know."""
        lang = self.agent_lang(t)
        lines = [text("connected", lang, customer=t.customer, ticket=t.id)]
        details = prechat.summary(self.queues[t.queue].join_form if t.queue in self.queues else [], t.form, lang)
        if details:
            lines.append(details)
        if t.reopened:
            lines.append(text("intro_reopened", lang, count=t.reopened))
        if t.tags or t.priority:
            lines.append(text("intro_tags", lang, tags=" ".join("#" + tag for tag in t.tags) or "-",
                              priority=t.priority))
        return "\n".join(lines)

    async def reject(self, ticket_id: str, agent_jid: str) -> Ticket:
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            t = self._open(ticket_id)
            if not (self.is_agent(t.queue, bare) or t.offered_to(bare)):
                raise StanzaError("forbidden", "only the queue's agents answer offers")
            if t.state != "offered" or not t.offered_to(bare):
                raise StanzaError("item-not-found", "there is no pending offer of this ticket to you")
            for full in t.offered_to(bare):
                if self.live(t.id) is not t or full not in t.offers:
                    break  # moved on while the last refusal was written
                await self._drop_offer(t, full, "offer_rejected", None, release=True)
            await self._route(t.queue)
            self._refresh(t.queue)
            return t

    async def take_next(self, queue: str, agent_jid: str) -> Ticket | None:
        """An agent asks for the next waiting customer (ad-hoc 'accept next')."""
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            if not self.is_agent(queue, bare):
                raise StanzaError("forbidden", "only the queue's agents take customers")
            waiting = self.waiting.get(queue)
            found = None
            for index in range(len(waiting) if waiting else 0):
                candidate = self.tickets.get(waiting.at(index) or "")
                if candidate is not None and not candidate.target_agent:
                    found = candidate
                    break
            if found is None:
                return None
            t = found
            self._revoke_all(t, "revoke_taken")
            t.state = "offered"
            t.offers = {agent_jid: "command"}
        return await self.accept(t.id, agent_jid)

    async def take(self, ticket_id: str, agent_jid: str) -> Ticket:
        """An agent takes a waiting ticket directly: queued, a message left out of hours, or pending."""
        bare = agent_jid.split("/", 1)[0]
        async with self._lock:
            t = self._open(ticket_id)
            if not self.is_agent(t.queue, bare):
                raise StanzaError("forbidden", "only the queue's agents take its tickets")
            if t.state not in ("queued", "offered", "offline", "pending"):
                raise StanzaError("unexpected-request", "this ticket does not wait for an agent")
            self._revoke_all(t, "revoke_taken")
            t.state = "offered"
            t.offers = {agent_jid: "command"}
            t.pending_at = None
        return await self.accept(t.id, agent_jid)
