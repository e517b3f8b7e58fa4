"""Which queues' routing state this engine owns, when several processes share the service domain.

With ejabberd's ``bare_destination`` balancing, every stanza to a queue's JID reaches the one
process whose connection holds the slot that JID hashes to; that process owns the queue: its
waiting list, offers and their clocks, its agents' presence and its open tickets live there and
nowhere else. A process learns that it owns a queue when the queue's stanzas reach it (the
plugin sends each queue a probe from the service domain once its connections are up, so a
restarted process takes its queues back at once) and then loads the queue's open tickets from
the database and resumes them: offers pending are sent again, waiting customers keep their order.

One process alone (no balancing) owns every queue from the start, as before.

Two processes never own a queue at once: when every connection comes back at once (an ejabberd
restart) a queue's slot may reach another process while its old owner is still letting it go. An
owner holds the queue's lock in PostgreSQL (``fence``: the advisory lock of
``component.claims.SlotClaims.hold``) from its adoption until it has let the queue go, after
the work it was doing under the engine's lock; an adoption refused meanwhile is tried again
(peering.py) and the queue's stanzas are refused until then (``recipient-unavailable``). The lock
lives on the process's claims session: when that session is lost (a database restart) the process
lets every queue go as on a lost server connection, adopts none while it is away (the lock cannot
be taken: fail closed), and adopts each again, taking its lock, once it is back.

The lock is free from the loss of that session until the queues are let go: every write of a
queue's tickets carries the owner's fencing token (``_tokens``: the generation of the queue's
owner record, component/owners.py), and a write under a token another process's adoption made
stale is refused whole; the queue is let go at once (``_owner_changed``). After such a loss, and
after a lost server connection, a queue whose generation is still this process's is kept
(``release_all(park=True)``, then ``adopt``): nobody is told again what they were told.

What crosses processes goes through the database: a ticket transferred to a queue owned
elsewhere is stored, forgotten here and taken up by the owner when it hears of the change
(lookup.CHANNEL); an agent serving queues of several processes has their conversations and
offers counted everywhere (``_foreign``, read from the stored open tickets of the queues not
owned here).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any, Protocol

from component.balancing import slot_of
from component.ids import new_id

from .model import OPEN_STATES, Ticket

log = logging.getLogger("switchboard.plugins.support")


class Fence(Protocol):
    """A queue's lock and fencing token (peering.QueueFence over component/owners.py)."""

    async def hold(self, queue: str) -> bool: ...
    async def keep(self, queue: str, generation: int) -> bool: ...
    async def let_go(self, queue: str) -> None: ...
    def token(self, queue: str) -> int | None: ...
    def drop(self, queue: str) -> None: ...
    async def check(self, session: Any, tokens: set[tuple[str, int]]) -> None: ...


class Ownership:
    def _init_ownership(self, shared: bool, slots: int = 1) -> None:
        self.shared = shared
        #: N, the server's balancing slots of the domain (1: none).
        self.slots = slots
        #: Queues whose routing state is here (all of them without balancing).
        self.owned: set[str] = set() if shared else set(self.queues)
        #: Agent bare -> (conversations held, offers pending) in queues owned by other processes.
        self._foreign: dict[str, tuple[int, int]] = {}
        self._foreign_dirty = shared
        #: Queue -> set once its adoption under way has ended (owned, fenced or dropped).
        self._adopting: dict[str, asyncio.Event] = {}
        #: Guards each queue's ownership across processes (set by the plugin where slots are shared).
        self.fence: Fence | None = None
        #: Queues whose last adoption was refused: another process still owns them.
        self.fenced: set[str] = set()
        #: Times every queue was let go (an adoption begun before the last one is stale).
        self._releases = 0
        #: Queue -> (its token, its tickets as they were in memory), for queues let go with the claims
        #: session: taken back with the same token, the customers are not told again what they know.
        self._parked: dict[str, tuple[int, dict[str, Ticket]]] = {}
        #: Ticket -> {resource: (offer deadline, "iq"|"chat")}: offers that left this process on the stream
        #: up now. Kept when queues are let go, so a re-adoption does not send them twice (dispatch.py).
        self._told: dict[str, dict[str, tuple[float | None, str]]] = {}

    def owns(self, queue: str) -> bool:
        return queue in self.owned

    def new_ticket_id(self, queue: str) -> str:
        """A ticket id whose conversation JID the server routes to the same slot as the queue's JID
        (ejabberd's bare_destination hash, computed here), so the agents' side of a conversation
        reaches the process owning its queue, like the customers' side. About N tries."""
        ticket_id = new_id().lower()
        if self.slots <= 1:
            return ticket_id
        wanted = slot_of(self.queue_jid(queue), self.slots)
        while slot_of(self.session_jid(ticket_id), self.slots) != wanted:
            ticket_id = new_id().lower()
        return ticket_id

    def _take_in(self, t: Ticket) -> None:
        """Hold a ticket read from the database (its queue is owned here)."""
        self.tickets[t.id] = t
        self._stored[t.id] = copy.deepcopy(t)
        self._reindex(t)

    async def adopt(self, queue: str) -> bool:
        """The queue's stanzas reach this process: own it (load and resume its tickets). False when it
        was owned already or is not a queue of this service.

        While an adoption of the queue is under way (its lock asked for, or the engine busy), another
        one waits for its outcome: the stanza that asked is then served as owned or refused as fenced,
        never served before the queue is owned here (its old owner may still hold it)."""
        if queue in self._adopting:
            await self._adopting[queue].wait()
            return False
        if queue in self.owned or queue not in self.queues:
            return False
        self._adopting[queue] = ended = asyncio.Event()
        releases = self._releases
        parked = self._parked.get(queue)
        kept = False
        try:
            if self.fence is not None:
                # Its own again when no other process took it meanwhile (the generation is the same).
                kept = parked is not None and await self.fence.keep(queue, parked[0])
            if self.fence is not None and not kept and not await self.fence.hold(queue):
                self.fenced.add(queue)
                log.info("queue not adopted: another process holds its lock, or this process's claims session "
                         "is lost", extra={"queue": queue})
                return False
            async with self._lock:
                if releases != self._releases:
                    # Every queue was let go while this waited: the stanza that asked for it came on a
                    # connection since lost. Probed again, it is adopted where its stanzas arrive now.
                    if self.fence is not None:
                        await self.fence.let_go(queue)
                    self.fenced.add(queue)
                    return False
                self.fenced.discard(queue)
                was = self._parked.pop(queue, (0, {}))[1] if kept else {}
                self._parked.pop(queue, None)
                tickets = [t for t in await self.store.open_tickets(queue) if t.id not in self.tickets]
                told: set[str] = set()
                for t in tickets:
                    if t.id in was and unchanged(was[t.id], t):
                        # Nothing happened to it meanwhile: what its people were told still holds.
                        t.offline_since, t.last_status, t.last_status_at = (
                            was[t.id].offline_since, was[t.id].last_status, was[t.id].last_status_at)
                        told.add(t.id)
                    self._take_in(t)
                watchers = await self.store.watchers()
                for t in tickets:
                    if t.id in watchers:
                        self.watchers[t.id] = watchers[t.id]
                for q, resource in await self.store.presences():
                    bare = resource.jid.split("/", 1)[0]
                    if q == queue and self.is_agent(queue, bare):
                        self._set_resource(queue, bare, resource.jid, resource)
                self.owned.add(queue)
                self._foreign_dirty = True
                log.info("queue kept" if kept else "queue adopted",
                         extra={"queue": queue, "open_tickets": len(tickets), "unchanged": len(told)})
                for t in tickets:
                    if t.state == "offered" and t.offer_deadline is not None:
                        self._schedule_offer_timeout(t)
                        self._offer_again(t)
                    if t.id not in told:
                        self._connect_again(t)
            new = [t.id for t in tickets if t.state == "new"]
            keep = getattr(self.outbox, "keep_first_messages", None)
            if new and keep is not None:
                await keep(new)  # as at a start: the first message may not have reached the archive
            for ticket_id in new:
                await self.enqueue(ticket_id)
            async with self._lock:
                await self._route(queue)
                self._refresh(queue)
            self._spawn(self._verify_agents())  # as at a start: agents may have left meanwhile
            return True
        finally:
            del self._adopting[queue]
            ended.set()

    async def release_all(self, park: bool = False) -> None:
        """A connection of this process was lost: when it comes back the server may give it another
        slot (several connections reconnecting after a server restart take the free slots in any
        order), so the queues may belong to another process now. Let every queue go (their state is
        stored); the probes sent once the connections are back bring ours back. The same when the
        claims session is lost: the queues' locks are gone, so no queue may be acted on as owned.
        ``park``: each queue's token and tickets are kept aside, for its adoption to tell whether
        another process took it meanwhile, or nothing changed."""
        async with self._lock:
            released = sorted(self.owned)
            if park and self.fence is not None:
                for name in released:
                    generation = self.fence.token(name)
                    if generation is not None:
                        self._parked[name] = (generation, {t.id: t for t in self.tickets.values() if t.queue == name})
            self._drop(None, released)
            self.owned.clear()
            self.fenced.clear()
            self._releases += 1
            if self.fence is not None:  # still under the lock: nothing more is done for them here
                for name in self.queues:  # an adoption that failed midway may hold one it does not own
                    await self.fence.let_go(name)
        if released:
            log.info("queues released", extra={"queues": ",".join(released)})

    def _drop(self, tickets_of: set[str] | None, queues: list[str]) -> None:
        """Forget the routing state of queues let go (it is stored): the tickets of ``tickets_of``
        (None: every ticket held), the agents of ``queues``."""
        for t in list(self.tickets.values()):
            if tickets_of is None or t.queue in tickets_of:
                self.watchers.pop(t.id, None)
                self._forget(t)
        for name in queues:
            self._drop_agents(name)
        self._foreign = {}
        self._foreign_dirty = True

    def _tokens(self, t: Ticket) -> dict[str, int] | None:
        """The fencing tokens a change of ``t`` is written under, taken when the change is made
        (None: not fenced). A ticket held here is written under the token of its queue, and of the
        queue it leaves (a transfer to another process's queue): refused once either is another's. An
        open ticket no queue of which is owned here any more gets a token no generation has (0):
        refused. A finished ticket not held (a rating, a close for good) is anyone's, as before."""
        if self.fence is None:
            return None
        if self.tickets.get(t.id) is not t and not t.is_open:
            return None
        stored = self._stored.get(t.id)
        tokens: dict[str, int] = {}
        for queue in {t.queue, stored.queue if stored is not None else t.queue}:
            generation = self.fence.token(queue) if queue in self.owned else None
            if generation is not None:
                tokens[queue] = generation
        return tokens or {t.queue: 0}

    def _owner_changed(self, queues: list[str]) -> None:
        """A write under this process's token for ``queues`` was refused: another process took them
        (this one's claims session was lost meanwhile). Not owned here from this moment; their
        memory is dropped once the engine's lock is free (the refused write's waiter may hold it)."""
        gone = sorted(q for q in queues if q in self.owned)
        for queue in queues:
            self.owned.discard(queue)
            self._parked.pop(queue, None)
            if self.fence is not None:
                self.fence.drop(queue)
        self._foreign_dirty = True
        if gone:
            log.warning("queue let go: another process owns it now", extra={"queues": ",".join(gone)})
            self._spawn(self._let_go_queues(set(gone)))

    async def _let_go_queues(self, queues: set[str]) -> None:
        async with self._lock:
            queues -= self.owned  # adopted again meanwhile (after the other process let it go)
            self._drop(queues, sorted(queues))
            if self.fence is not None:
                for name in sorted(queues):
                    await self.fence.let_go(name)

    async def changed_elsewhere(self, ticket_ids: list[str], queues: dict[str, str] | None = None) -> None:
        """Another process stored these tickets (``queues``: the queue serving each now, when known):
        forget cached copies; take up those that now belong to a queue owned here (transferred here,
        reopened by the process of the customer's queue)."""
        self.lookup.changed(ticket_ids)
        self._foreign_dirty = True
        routed: set[str] = set()
        for ticket_id in ticket_ids:
            if ticket_id in self.tickets or (queues is not None and queues.get(ticket_id) not in self.owned):
                continue
            t = await self.store.ticket(ticket_id)
            if t is None or t.state not in OPEN_STATES or t.queue not in self.owned:
                continue
            async with self._lock:
                if t.id in self.tickets:
                    continue
                self._take_in(t)
                if t.id not in self.watchers:
                    watchers = await self.store.watchers_of(t.id)
                    if watchers:
                        self.watchers[t.id] = watchers
                if t.state == "offered" and t.offer_deadline is not None:
                    self._schedule_offer_timeout(t)
                    self._offer_again(t)
                log.info("ticket taken up", extra={"ticket": t.id, "queue": t.queue, "state": t.state})
                routed.add(t.queue)
        async with self._lock:
            # An agent freed (or taken) in another process's queue: the queues here they serve too.
            before = dict(self._foreign)
            await self._refresh_foreign()
            if self._foreign != before:
                freed = {agent for agent in set(before) | set(self._foreign)
                         if sum(self._foreign.get(agent, ())) < sum(before.get(agent, ()))}
                routed |= {name for name in self.owned if freed & set(self.queues[name].agents)}
            for queue in sorted(routed):
                await self._route_queue(queue)
                self._refresh(queue)

    def _let_go(self, t: Ticket) -> None:
        """The ticket now belongs to a queue owned by another process (stored already): forget it here."""
        if t.queue not in self.owned:
            self.watchers.pop(t.id, None)
            self._forget(t)
            self._foreign_dirty = True

    async def _refresh_foreign(self) -> None:
        """Agents' conversations and offers in the queues other processes own, as stored."""
        if not self._foreign_dirty:
            return
        self._foreign_dirty = False
        counts: dict[str, list[int]] = {}
        for t in await self.store.tickets_in(("active", "offered"), exclude_queues=sorted(self.owned)):
            if t.id in self.tickets:
                continue
            if t.state == "active" and t.agent:
                counts.setdefault(t.agent, [0, 0])[0] += 1
            elif t.state == "offered":
                for bare in {full.split("/", 1)[0] for full in t.offers}:
                    counts.setdefault(bare, [0, 0])[1] += 1
        self._foreign = {agent: (held, offered) for agent, (held, offered) in counts.items()}


#: What a ticket holds in memory only (never stored).
_TRANSIENT = ("offline_since", "last_status", "last_status_at")


def unchanged(before: Ticket, stored: Ticket) -> bool:
    """``before`` (memory) is what the database holds now (``stored``), transient fields aside."""
    return all(getattr(before, name) == getattr(stored, name)
               for name in Ticket.__dataclass_fields__ if name not in _TRANSIENT)
