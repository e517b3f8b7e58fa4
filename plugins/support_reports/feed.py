"""The live monitor feed's payload: one queue's state and today's figures as XML (no I/O here).

``<monitor xmlns='urn:switchboard:support:monitor:0'/>`` is the item a supervisor's
dashboard receives in XEP-0060 notifications (``pubsub.py``); the schema is
``schemas/support-monitor.xsd``. Times are absolute (XEP-0082), so the payload
only changes when something happens: a dashboard ticks waits on its own clock.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence
from xml.etree.ElementTree import Element, SubElement

from .monitor import Snapshot

NS = "urn:switchboard:support:monitor:0"
NODE_PREFIX = "monitor/"


def node_of(queue: str) -> str:
    return NODE_PREFIX + queue


def queue_of(node: str) -> str | None:
    return node[len(NODE_PREFIX):] or None if node.startswith(NODE_PREFIX) else None


def stamp(at: float) -> str:
    """XEP-0082 date-time in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(at, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _num(value: float) -> str:
    return f"{value:.1f}"


def agent_counts(agents: Sequence[Any]) -> dict[str, int]:
    """online / available (free capacity) / busy (full, or do-not-disturb) / away (away, xa)."""
    online = [a for a in agents if a.status != "offline"]
    away = sum(1 for a in online if a.status in ("away", "xa"))
    busy = sum(1 for a in online if a.status == "dnd" or (a.status == "available" and a.load >= a.capacity))
    return {"online": len(online), "available": len(online) - away - busy, "busy": busy, "away": away}


def service_level(convs: Sequence[Any], target: float) -> tuple[int, int]:
    """(answered within ``target`` seconds, answered or abandoned in the queue): the service level is
    their ratio. Only settled conversations count, so the figure does not move while someone waits."""
    within = sum(1 for c in convs if c.wait is not None and c.wait <= target)
    settled = sum(1 for c in convs if c.wait is not None or (c.queued_at is not None and c.abandoned))
    return within, settled


def today_element(parent: Element, figures: dict[str, Any], within: int, settled: int, target: float,
                  day: str) -> Element:
    today = SubElement(parent, f"{{{NS}}}today", {
        "day": day, "conversations": str(figures.get("conversations", 0)),
        "answered": str(figures.get("answered", 0)), "abandoned": str(figures.get("abandoned", 0)),
        "bot-resolved": str(figures.get("bot_resolved", 0)), "transfers": str(figures.get("transfers", 0)),
        "service-target": _num(target), "within-target": str(within), "settled": str(settled)})
    if settled:
        today.set("service-level", f"{within / settled:.3f}")
    for key, attr in (("wait_avg", "wait-avg"), ("first_response_avg", "first-response-avg"),
                      ("handle_avg", "handle-avg")):
        if figures.get(key) is not None:
            today.set(attr, _num(float(figures[key])))
    csat = SubElement(today, f"{{{NS}}}csat", {"count": str(figures.get("csat_count", 0))})
    if figures.get("csat_avg") is not None:
        csat.set("average", f"{float(figures['csat_avg']):.2f}")
    for score in range(1, 6):
        SubElement(csat, f"{{{NS}}}score", {"value": str(score), "count": str(figures.get(f"csat_{score}", 0))})
    return today


def monitor_element(snap: Snapshot, queue: str, rows: int = 50, today: Element | None = None) -> Element:
    """The payload for ``queue`` (which ``snap`` holds); at most ``rows`` customers, agents, conversations."""
    q = next(row for row in snap.queues if row.queue == queue)
    root = Element(f"{{{NS}}}monitor", {"queue": q.queue, "title": q.title, "open": "true" if q.open else "false"})
    waiting = [w for w in snap.waiting if w.queue == queue]
    oldest = [snap.at - w.waited for w in waiting]
    wait_el = SubElement(root, f"{{{NS}}}waiting", {"count": str(q.waiting)})
    if oldest:
        wait_el.set("oldest", stamp(min(oldest)))
    for w in waiting[:rows]:
        customer = SubElement(wait_el, f"{{{NS}}}customer", {
            "ticket": w.ticket, "jid": w.customer, "position": str(w.position), "state": w.state,
            "since": stamp(snap.at - w.waited), "priority": str(w.priority)})
        for agent in w.offered_to:
            SubElement(customer, f"{{{NS}}}offered", {"agent": agent})
    SubElement(root, f"{{{NS}}}counts", {"bot": str(q.with_bot), "active": str(q.active),
                                         "pending": str(q.pending), "messages": str(q.messages)})
    agents = [a for a in snap.agents if a.queue == queue]
    counts = agent_counts(agents)
    agents_el = SubElement(root, f"{{{NS}}}agents", {**{k: str(v) for k, v in counts.items()},
                                                     "load": str(q.load), "capacity": str(q.capacity)})
    for a in agents[:rows]:
        agent = SubElement(agents_el, f"{{{NS}}}agent", {"jid": a.agent, "status": a.status, "load": str(a.load),
                                                         "capacity": str(a.capacity)})
        for ticket in a.tickets:
            SubElement(agent, f"{{{NS}}}ticket", {"id": ticket})
    convs_el = SubElement(root, f"{{{NS}}}conversations", {"count": str(q.active)})
    for c in [c for c in snap.conversations if c.queue == queue][:rows]:
        conv = SubElement(convs_el, f"{{{NS}}}conversation", {
            "ticket": c.ticket, "customer": c.customer, "agent": c.agent, "since": stamp(snap.at - c.duration)})
        if c.first_response is not None:
            conv.set("first-response", _num(c.first_response))
    if today is not None:
        root.append(today)
    return root
