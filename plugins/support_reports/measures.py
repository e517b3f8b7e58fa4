"""What the support desk looks like to Prometheus: queues now, and how fast offers are answered.

Read through the support plugin's public service at scrape time (waiting, offered,
active per queue; agents available) and from its ticket events (offer answers).
Labels: the service domain and the configured queue names, both bounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins.support import hooks as support_hooks

if TYPE_CHECKING:
    from .plugin import ReportsPlugin

#: Ticket states shown per queue (the support plugin's public model).
STATES = ("queued", "offered", "active")
#: Seconds an agent takes to answer an offer.
OFFER_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300)
ANSWERS = {"accepted": "accepted", "offer_rejected": "rejected", "offer_timeout": "timeout",
           "offer_revoked": "revoked"}


class SupportMeasures:
    def __init__(self, plugin: "ReportsPlugin") -> None:
        self.plugin = plugin
        self.domain = plugin.service.domain
        metrics = plugin.metrics
        metrics.read("support_tickets", "Open conversations by queue and state (queued: waiting, offered: "
                     "offered to an agent, active: with an agent).", ["domain", "queue", "state"], self._tickets)
        metrics.read("support_agents_available", "Agents who may receive offers now, by queue.",
                     ["domain", "queue"], self._agents)
        self.offer_seconds = metrics.histogram(
            "support_offer_answer_seconds", "From an offer to its answer, by outcome "
            "(accepted, rejected, timeout, revoked).", ["domain", "queue", "outcome"], buckets=OFFER_BUCKETS)
        self.events = metrics.counter("support_ticket_events", "Recorded ticket events by kind.",
                                      ["domain", "queue", "kind"])
        #: ticket -> when its current offer went out (dropped when answered; bounded by open offers).
        self._offered: dict[str, float] = {}
        plugin.hooks.on(support_hooks.TICKET_EVENT, self.on_ticket_event)

    def _tickets(self) -> list[tuple[tuple[str, ...], float]]:
        support = self.plugin.support
        counts = {(queue, state): 0 for queue in support.queues() for state in STATES}
        for ticket in support.open_tickets():
            key = (ticket.queue, ticket.state)
            if key in counts:
                counts[key] += 1
        return [((self.domain, queue, state), n) for (queue, state), n in counts.items()]

    def _agents(self) -> list[tuple[tuple[str, ...], float]]:
        support = self.plugin.support
        return [((self.domain, queue), sum(1 for a in support.agents(queue) if a["routable"]))
                for queue in support.queues()]

    def on_ticket_event(self, event: Any) -> None:
        if event.kind not in support_hooks.KINDS:
            return
        self.events.labels(self.domain, event.queue, event.kind).inc()
        if event.kind == "offered":
            self._offered[event.ticket_id] = event.at
            return
        outcome = ANSWERS.get(event.kind)
        if outcome is not None:
            sent = self._offered.pop(event.ticket_id, None)
            if sent is not None:
                self.offer_seconds.labels(self.domain, event.queue, outcome).observe(max(0.0, event.at - sent))
        elif event.kind in ("closed", "abandoned", "transferred", "pending"):
            self._offered.pop(event.ticket_id, None)
