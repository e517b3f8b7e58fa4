"""Conversations once an agent holds them: first response, transfer, notes, pending, close, tags and
priority, closing for good, ratings, the periodic sweep, and supervisors watching or joining."""

from __future__ import annotations

import logging
from typing import Any, Sequence

from component.errors import StanzaError

from . import tickets
from .model import RESOLVED, WAITING_STATES, Ticket
from .texts import text

log = logging.getLogger("switchboard.plugins.support")


class Conversations:
    async def first_response(self, t: Ticket) -> None:
        if t.first_response_at is None and t.state == "active":
            async with self._lock:
                if t.first_response_at is None:
                    t.first_response_at = self.now()
                    await self._record(t, "first_response", t.agent, release=True)

    async def close(self, ticket_id: str, actor: str, reason: str = "resolved") -> Ticket:
        """End the conversation: the ticket is resolved (reopenable for a while) and the customer may be
        asked for a rating (``rating_requested_at``; the outbox sends the question with the notice)."""
        async with self._lock:
            t = self._open(ticket_id)
            staff = self._staff(t)
            self._revoke_all(t, "revoke_closed")
            was = t.state
            now = self.now()
            t.state = RESOLVED if self.entry_options(t).reopen_days > 0 else "closed"
            t.closed_at = t.resolved_at = now
            t.close_reason = reason
            t.pending_at = None
            data: dict[str, Any] = {"reason": reason}
            if self._wants_rating(t, was, reason):
                t.rating_requested_at = now
                t.rating, t.rating_comment, t.rated_at = None, "", None
                data["rating_requested"] = True
            closed = self._change(t, "closed", actor, **data)
            # The agent is free in memory already: the next customer's offer joins the close's batch
            # (an offer leaves once stored, so never before the close is; refused with it, it is
            # tried again later). Other changes run during the writes; the closing ticket is no
            # longer open to them (_open).
            await self._route(t.queue)
            await self._lent(closed)
            await self._announce(closed)
            if self.tickets.get(t.id) is t:
                self._forget(t)
            self.outbox.customer_closed(t, text("ticket_closed", t.lang), actor)
            notice = text("closed_for_agent", self.agent_lang(t), ticket=t.id)
            for jid in staff:
                self.outbox.session_notice(t, jid, notice, marker="closed")
            for jid in list(self.watchers.pop(t.id, {})):
                await self.store.set_watcher(t.id, jid, None)
            self._refresh(t.queue)
            return t

    def _staff(self, t: Ticket) -> list[str]:
        """Who hears about the ticket on the agents' side: its agent (the last one while pending) and its watchers."""
        agent = t.agent or (t.agents_seen[-1] if t.state == "pending" and t.agents_seen else "")
        found = [agent] if agent else []
        return found + [jid for jid in self.watchers.get(t.id, {}) if jid not in found]

    def _wants_rating(self, t: Ticket, was: str, reason: str) -> bool:
        q = self.entry_options(t)
        if not q.ratings or reason == "no_reply":
            return False
        return bool(t.agents_seen) or (q.rate_bot_conversations and was == "bot")

    def resolve_target(self, t: Ticket, target: str) -> tuple[str, str]:
        """A transfer target -> (queue name, agent bare or "")."""
        target = target.strip()
        if not target:
            raise StanzaError("bad-request", "name a queue or an agent to transfer to")
        local, _, host = target.partition("@")
        if not host or host == self.domain:
            if local in self.queues:
                return local, ""
            raise StanzaError("item-not-found", f"there is no queue {target}")
        bare = target.split("/", 1)[0]
        queues = [name for name, q in self.queues.items() if bare in q.agents]
        if not queues:
            raise StanzaError("item-not-found", f"{bare} is not an agent here")
        queue = t.queue if t.queue in queues else queues[0]
        agent = self.agents[queue].get(bare)
        if queue not in self.owned:
            return queue, bare  # its owner's routing offers it to them, or to the queue when it cannot
        if agent is None or agent.tier() is None:
            raise StanzaError("recipient-unavailable", f"{bare} is not available now")
        return queue, bare

    async def transfer(self, ticket_id: str, actor: str, target: str) -> Ticket:
        async with self._lock:
            t = self._open(ticket_id)
            queue, agent = self.resolve_target(t, target)
            if agent and agent == t.agent:
                raise StanzaError("bad-request", "the ticket is already yours")
            if t.state in ("new", "bot", "prechat"):
                raise StanzaError("unexpected-request", "the ticket is not queued yet")
            old_queue, old_agent = t.queue, t.agent
            self._revoke_all(t, "revoke_taken")
            t.queue, t.state, t.agent, t.agent_jid = queue, "queued", "", ""
            t.pending_at = None
            t.target_agent = agent
            t.declined = [old_agent] if old_agent and not agent else []
            t.queued_at = t.queued_at or self.now()
            # Lent during the write unless another process owns the new queue (it takes the ticket up
            # once stored: nothing here may act on it meanwhile).
            await self._record(t, "transferred", actor, release=queue in self.owned, from_queue=old_queue,
                               to_queue=queue, to_agent=agent, from_agent=old_agent)
            shown = agent.split("@", 1)[0] if agent else self.queue_title(queue)
            if self.live(t.id) is t and t.queue == queue:  # not left, nor transferred again, meanwhile
                self.outbox.customer_notice(t, text("transferring", t.lang, target=shown))
            if old_agent:
                self.outbox.session_notice(t, old_agent, text("transferred_away", self.agent_lang(t), ticket=t.id,
                                                                target=agent or self.queue_jid(queue)),
                                           marker=("transferred", agent or self.queue_jid(queue)))
            # A queue owned by another process: it takes the stored ticket up when it hears of it.
            self._let_go(t)
            if queue in self.owned:
                await self._route(queue)
                self._refresh(queue)
            if old_queue != queue:
                await self._route(old_queue)
                self._refresh(old_queue)
            return t

    async def customer_unreachable(self, customer_jid: str) -> None:
        """The server returned what we sent a customer who is talking with an agent (their server
        unreachable, their account gone): the agent is told, once until the customer is seen again,
        and decides whether to close; the conversation is not ended for them."""
        customer = customer_jid.split("/", 1)[0]
        async with self._lock:
            for t in self.customer_tickets(customer):
                if t.state == "active" and t.agent_jid and t.offline_since is None:
                    t.offline_since = self.now()
                    self.outbox.session_notice(t, t.agent_jid, text("customer_unreachable", self.agent_lang(t),
                                                                    customer=customer))

    async def note(self, ticket_id: str, actor: str, body: str, open_only: bool = False) -> None:
        """A note on any ticket, held here or not (then only its event is written: the row is its holder's);
        ``open_only``: in a conversation, which must still be open (one being closed is refused as a
        closed one is)."""
        t = await self.lookup.get(ticket_id)
        if t is None or (open_only and not t.is_open):
            raise StanzaError("item-not-found", "no open ticket with this id" if open_only else "no such ticket")
        if not body.strip():
            raise StanzaError("bad-request", "a note needs a text")
        await self.store.add_note(t.id, actor, body.strip(), self.now())
        async with self._lock:
            held = self.tickets.get(t.id)
            if held is not None:
                await self._record(held, "note", actor, release=True)
            else:
                await self._record_event(t, "note", actor)

    # -- ticket operations (agents) -----------------------------------------------------
    async def set_pending(self, ticket_id: str, actor: str) -> Ticket:
        """The agent waits for the customer: capacity is freed; the customer's next message queues it again."""
        async with self._lock:
            t = self._open(ticket_id)
            if t.state != "active":
                raise StanzaError("unexpected-request", "only a conversation with an agent can wait for the customer")
            agent = t.agent
            t.state = "pending"
            t.pending_at = self.now()
            t.agent = t.agent_jid = ""
            await self._record(t, "pending", actor, release=True, agent=agent)
            if self.live(t.id) is t and t.state == "pending":  # the customer may have answered meanwhile
                self.outbox.customer_notice(t, text("pending_customer", t.lang))
                notice = text("pending_agent", self.agent_lang(t), ticket=t.id)
                for jid in self._staff(t):
                    self.outbox.session_notice(t, jid, notice)
            await self._route(t.queue)
            self._refresh(t.queue)
            return t

    async def update(self, ticket_id: str, actor: str, add_tags: Sequence[str] = (), remove_tags: Sequence[str] = (),
                     priority: int | None = None) -> Ticket:
        """Tags and priority, on open and finished tickets alike; each change is an event."""
        async with self._lock:
            t = await self._any_ticket(ticket_id)
            tags = tickets.apply_tags(t.tags, add_tags, remove_tags)
            if tags != t.tags:
                added = [tag for tag in tags if tag not in t.tags]
                removed = [tag for tag in t.tags if tag not in tags]
                t.tags = tags
                await self._record(t, "tagged", actor, added=added, removed=removed)
            if priority is not None and priority != t.priority:
                previous, t.priority = t.priority, priority
                await self._record(t, "priority", actor, priority=priority, previous=previous)
                if t.id in self.tickets and t.state in WAITING_STATES:
                    await self._route(t.queue)
                    self._refresh(t.queue)
            return t

    async def finish(self, ticket_id: str, actor: str) -> Ticket:
        """Close a resolved ticket for good (it no longer reopens)."""
        async with self._lock:
            t = await self._any_ticket(ticket_id)
            if t.state != RESOLVED:
                raise StanzaError("unexpected-request", "only a resolved ticket can be closed for good")
            t.state = "closed"
            await self._record(t, "finalized", actor)
            return t

    async def rate(self, ticket_id: str, rating: int, comment: str, actor: str) -> Ticket:
        """The customer's answer to the rating question (once per question)."""
        if rating not in (1, 2, 3, 4, 5):
            raise StanzaError("bad-request", "a rating is a whole number from 1 to 5")
        async with self._lock:
            t = await self._any_ticket(ticket_id)
            if t.rating_requested_at is None:
                raise StanzaError("not-allowed", "this conversation was not offered a rating")
            if t.rating is not None:
                raise StanzaError("conflict", "this conversation is rated already")
            t.rating, t.rating_comment, t.rated_at = rating, comment.strip(), self.now()
            data: dict[str, Any] = {"rating": rating}
            if t.rating_comment:
                data["comment"] = t.rating_comment
            await self._record(t, "rated", actor, **data)
            return t

    async def sweep(self) -> int:
        """Close resolved tickets past their reopen window; resolve pending tickets past ``pending_days``."""
        now = self.now()
        done = 0
        windows = [q.reopen_days for q in self.queues.values() if q.reopen_days > 0]
        if windows:
            for t in await self.store.in_state_before(RESOLVED, "resolved_at", now - min(windows) * 86400):
                q = self.queues.get(t.entry) or self.queues.get(t.queue)
                if q is None or (t.resolved_at or now) > now - q.reopen_days * 86400:
                    continue
                if self.shared and t.queue not in self.owned:
                    continue  # its queue's owner closes it (once)
                async with self._lock:
                    fresh = None if t.id in self.tickets else await self.store.ticket(t.id)
                    if fresh is None or fresh.state != RESOLVED:
                        continue  # reopened (or closed) meanwhile
                    fresh.state = "closed"
                    await self._record(fresh, "finalized")
                    done += 1
        for t in [t for t in self.tickets.values() if t.state == "pending" and t.pending_at is not None]:
            days = self.queues[t.queue].pending_days if t.queue in self.queues else 0
            if days > 0 and now - t.pending_at >= days * 86400:
                try:
                    await self.close(t.id, "", "no_reply")
                    done += 1
                except StanzaError:
                    pass  # the customer answered meanwhile
        return done

    async def whisper(self, ticket_id: str, supervisor: str, body: str) -> str:
        """A supervisor's word to the conversation's agent only (never to the customer), kept in the
        ticket's history as a ``whisper`` event; returns the agent's bare JID."""
        async with self._lock:
            t = self._open(ticket_id)
            if not self.is_supervisor(t.queue, supervisor) and not self.is_supervisor(t.entry, supervisor):
                raise StanzaError("forbidden", "only supervisors of this queue whisper to its agents")
            body = body.strip()
            if not body:
                raise StanzaError("bad-request", "a whisper needs a text")
            agent = t.agent or (t.agents_seen[-1] if t.state == "pending" and t.agents_seen else "")
            if not agent or agent == supervisor:
                raise StanzaError("unexpected-request", "no agent holds this conversation now")
            await self._record(t, "whisper", supervisor, to=agent, text=body[:2000])
            self.outbox.session_notice(t, t.agent_jid if t.agent == agent and t.agent_jid else agent,
                                       text("whispered", self.agent_lang(t), name=supervisor.split("@", 1)[0],
                                            body=body))
            return agent

    async def watch(self, ticket_id: str, supervisor: str, mode: str | None) -> Ticket:
        """Follow a conversation silently (``silent``), openly (``open``), or stop (None)."""
        async with self._lock:
            t = self._open(ticket_id)
            if not self.is_supervisor(t.queue, supervisor) and not self.is_supervisor(t.entry, supervisor):
                raise StanzaError("forbidden", "only supervisors of this queue watch its conversations")
            if mode is None:
                self.watchers.get(t.id, {}).pop(supervisor, None)
            else:
                self.watchers.setdefault(t.id, {})[supervisor] = mode
            await self.store.set_watcher(t.id, supervisor, mode)
            await self._record(t, {"silent": "watch", "open": "join", None: "unwatch"}[mode], supervisor)
            if mode == "open":
                self.outbox.customer_notice(t, text("supervisor_joined", t.lang, name=supervisor.split("@", 1)[0]))
            return t
