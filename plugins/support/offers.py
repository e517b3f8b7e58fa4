"""Offers: written once their change is stored, sent again after a restart or a lost stream, run out
on their clock, revoked; each leaves the ticket to the next routing pass when it ends unanswered.
A part of the engine, as dispatch.py (which makes the offers) is."""

from __future__ import annotations

import logging
from typing import Any

from .model import Ticket
from .texts import text

log = logging.getLogger("switchboard.plugins.support")


class Offers:
    def _send_stored(self, entry: Any, resources: list[str], timeout: float) -> None:
        """The offer's write is committed: send it to each resource it is still pending for."""
        t = entry.ticket
        if entry.done.cancelled() or entry.done.exception() is not None:
            return  # refused: _offer_stored tries it again
        for resource in resources:
            form = t.offers.get(resource) if self.tickets.get(t.id) is t and t.state == "offered" else None
            if form not in ("pending", "chat"):
                continue
            body = self._offer_text(t, timeout)
            # Written here when it can be: the commit that stored it wakes the round's other work
            # too (fifty conversations just accepted, each with its transcript), and a task would
            # only start after all of it.
            try:
                sent = self.outbox.offer_now(t, resource, timeout, body)
            except Exception:  # noqa: BLE001 - a callback's failure would lose the offer: the task sends it
                log.exception("offer not written at its commit", extra={"ticket": t.id})
                sent = ""
            if sent and sent == form:
                self._was_told(t, resource, t.offer_deadline, sent)  # its form was stored with it
            else:  # the form to store (or, when the stored one could not be written here, to send in)
                self._spawn(self._send_offer(t, resource, timeout, body, via="" if form == "pending" else form,
                                             sent=sent))

    async def _offer_stored(self, entry: Any) -> None:
        """After an offer's write (sent already by _send_stored): its events told, or a refused one
        tried again."""
        t = entry.ticket
        if entry.done.cancelled() or entry.done.exception() is not None:
            # Refused: the journal put the ticket back in the queue; try it again after a pause.
            if self.tickets.get(t.id) is t and t.queue in self.queues:
                self._later(("retry", t.id), self.queues[t.queue].offer_timeout, lambda tid=t.id: self._retry(tid))
            return
        await self._announce(entry)

    def _offer_text(self, t: Ticket, timeout: float) -> str:
        return text("offer", self.agent_lang(t), customer=t.customer, queue=self.queue_title(t.queue), ticket=t.id,
                    timeout=int(round(timeout)), first=(f": “{t.opening()}”" if t.form.get("message") else ""))

    def _offer_again(self, t: Ticket) -> None:
        """After a restart, a lost stream or a queue adopted: send a pending offer again with the time it
        has left (its clock kept running), unless it left this process on a stream still up (``_told``).

        It goes the way it went the first time (``t.offers`` keeps "iq" or "chat"), without asking the
        client what it speaks: after a restart that question waits behind the server's backlog of the
        dead process's stanzas, for every offer. Only an offer whose form was never stored ("pending")
        is sent as a new one, learning the client's capability."""
        left = max(1.0, (t.offer_deadline or self.now()) - self.now())
        told = self._told.get(t.id, {})
        for resource, via in list(t.offers.items()):
            if told.get(resource, (None, ""))[0] == t.offer_deadline:
                continue
            self._spawn(self._send_offer(t, resource, left, self._offer_text(t, left),
                                         via if via in ("iq", "chat") else ""))

    def stream_back(self) -> None:
        """The stream to the server was opened again. XEP-0114 acknowledges nothing: a chat offer written
        on the lost stream may have died in its buffers, so it is no longer counted as told and the resume
        (or the adoption) sends it again. An IQ offer the agent's client answered did arrive. Losing only
        another slot's connection loses no offer (they leave on this stream while it is up), so the
        re-adoption that follows sends none twice."""
        self._told = {tid: kept for tid, told in self._told.items()
                      if (kept := {r: sent for r, sent in told.items() if sent[1] == "iq"})}

    def _connect_again(self, t: Ticket) -> None:
        """After a restart or a lost stream: a conversation accepted but not answered yet may never have
        reached its agent (the process died between storing the acceptance and telling anyone): send the
        agent the conversation again and tell the customer who is with them. Once the agent has
        answered, they had it."""
        if t.state != "active" or t.first_response_at is not None or not t.agent_jid:
            return
        self.outbox.customer_notice(t, text("agent_joined", t.lang, agent=t.agent.split("@", 1)[0]))
        self._spawn(self.outbox.connect_agent(t, t.agent_jid, self._intro(t)))

    async def _retry(self, ticket_id: str) -> None:
        async with self._lock:
            t = self.tickets.get(ticket_id)
            if t and t.state == "queued":
                t.declined = []
                await self._route(t.queue)
                self._refresh(t.queue)

    async def _send_offer(self, t: Ticket, agent_jid: str, timeout: float, body: str, via: str = "",
                          sent: str = "") -> None:
        """Send an offer (``via``: the form it took before, to send it the same way again) and store
        the form it took (``sent``: already sent, in that form)."""
        deadline = t.offer_deadline
        sent = sent or await self.outbox.offer(t, agent_jid, timeout, body, via)
        self._was_told(t, agent_jid, deadline, sent)
        stored = None
        async with self._lock:
            if t.state == "offered" and t.offers.get(agent_jid) in ("pending", via or "pending") \
                    and t.offers[agent_jid] != sent:
                t.offers[agent_jid] = sent
                stored = self._change(t, None)
        if stored is not None:
            # Awaited without the lock: the forms of fifty offers sent at once are one batch, and
            # the answers to those offers do not queue behind their writes.
            await stored.done

    def _was_told(self, t: Ticket, agent_jid: str, deadline: float | None, sent: str) -> None:
        if t.offer_deadline == deadline and agent_jid in t.offers:
            # Told on the stream up now: a re-adoption without a lost stream does not send it again.
            self._told.setdefault(t.id, {})[agent_jid] = (deadline, sent)

    def _schedule_offer_timeout(self, t: Ticket) -> None:
        deadline = t.offer_deadline or self.now()
        self._later(("offer", t.id), deadline - self.now(),
                    lambda tid=t.id, d=deadline: self._offer_expired(tid, d))

    async def _offer_expired(self, ticket_id: str, deadline: float) -> None:
        async with self._lock:
            t = self.tickets.get(ticket_id)
            if t is None or t.state != "offered" or t.offer_deadline != deadline:
                return
            declined = sorted({full.split("/", 1)[0] for full in t.offers})
            self._revoke_all(t, "revoke_timeout")
            t.declined = sorted(set(t.declined) | set(declined))
            t.target_agent = ""
            t.state = "queued"
            await self._record(t, "offer_timeout", release=True, agents=declined)
            await self._route(t.queue)
            self._refresh(t.queue)

    def _revoke_all(self, t: Ticket, reason_key: str, keep: str = "") -> None:
        for full, via in t.offers.items():
            if keep and full.split("/", 1)[0] == keep:
                continue
            self.outbox.revoke(t, full, via, text(reason_key, self.agent_lang(t)))
        t.offers = {}
        t.offer_deadline = None
        self._told.pop(t.id, None)
        self._cancel(("offer", t.id))

    async def _drop_offer(self, t: Ticket, agent_jid: str, kind: str, reason_key: str | None,
                          release: bool = False) -> None:
        via = t.offers.pop(agent_jid, "pending")
        self._told.get(t.id, {}).pop(agent_jid, None)
        if reason_key:
            self.outbox.revoke(t, agent_jid, via, text(reason_key, self.agent_lang(t)))
        bare = agent_jid.split("/", 1)[0]
        if bare not in t.declined:
            t.declined.append(bare)
        if not t.offers:
            t.state = "queued"
            t.offer_deadline = None
            t.target_agent = ""
            self._cancel(("offer", t.id))
        await self._record(t, kind, bare, release=release)
