"""The live monitor: what supervisors see right now (pure functions over the support service's state).

:func:`snapshot` turns the support service's read-only views (queue summary,
open tickets, agents) into rows; :func:`as_text` writes them for plain chat
clients and :func:`table_rows` for data-form tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Iterable, Sequence

from .texts import duration, text

VIEWS = ("queues", "waiting", "agents", "conversations")
WAITING_STATES = ("queued", "offered")


@dataclass
class QueueInput:
    """What the support service tells about one queue (see its public service)."""

    name: str
    title: str
    summary: dict[str, Any]
    tickets: Sequence[Any]          #: open tickets of the queue (support's Ticket objects)
    agents: Sequence[dict[str, Any]]


@dataclass
class QueueRow:
    queue: str
    title: str
    open: bool
    waiting: int
    oldest_wait: float | None
    with_bot: int
    active: int
    pending: int                    #: the agent waits for the customer's reply
    messages: int                   #: messages left out of hours, waiting for an agent to take them
    agents: int
    available: int
    load: int
    capacity: int


@dataclass
class WaitingRow:
    queue: str
    position: int
    ticket: str
    customer: str
    state: str
    waited: float
    priority: int
    offered_to: list[str]


@dataclass
class AgentRow:
    queue: str
    agent: str
    status: str                     #: available | away | dnd | xa | offline
    load: int
    capacity: int
    tickets: list[str]


@dataclass
class ConversationRow:
    queue: str
    ticket: str
    customer: str
    agent: str
    duration: float
    first_response: float | None    #: seconds from reaching the queue to the agent's first message


@dataclass
class Snapshot:
    at: float
    queues: list[QueueRow] = field(default_factory=list)
    waiting: list[WaitingRow] = field(default_factory=list)
    agents: list[AgentRow] = field(default_factory=list)
    conversations: list[ConversationRow] = field(default_factory=list)


def agent_status(agent: dict[str, Any]) -> str:
    if not agent.get("online"):
        return "offline"
    show = agent.get("show") or ""
    if show in ("", "chat"):
        return "available"
    return show if show in ("away", "dnd", "xa") else "available"


def _wait_key(t: Any) -> tuple[int, float, str]:
    return (-int(t.priority or 0), t.queued_at or t.created_at, t.id)


def snapshot(queues: Iterable[QueueInput], now: float) -> Snapshot:
    snap = Snapshot(at=now)
    for q in queues:
        tickets = list(q.tickets)
        waiting = sorted((t for t in tickets if t.state in WAITING_STATES), key=_wait_key)
        active = [t for t in tickets if t.state == "active"]
        oldest = min((t.queued_at or t.created_at for t in waiting), default=None)
        snap.queues.append(QueueRow(
            queue=q.name, title=q.title, open=q.summary.get("status", "open") == "open", waiting=len(waiting),
            oldest_wait=None if oldest is None else max(0.0, now - oldest),
            with_bot=sum(1 for t in tickets if t.state in ("new", "bot")), active=len(active),
            pending=sum(1 for t in tickets if t.state == "pending"),
            messages=sum(1 for t in tickets if t.state == "offline"),
            agents=sum(1 for a in q.agents if a.get("online")),
            available=sum(1 for a in q.agents if a.get("routable")),
            load=sum(int(a.get("load") or 0) for a in q.agents if a.get("online")),
            capacity=sum(int(a.get("capacity") or 0) for a in q.agents if a.get("routable"))))
        for position, t in enumerate(waiting, 1):
            snap.waiting.append(WaitingRow(
                queue=q.name, position=position, ticket=t.id, customer=t.customer, state=t.state,
                waited=max(0.0, now - (t.queued_at or t.created_at)), priority=int(t.priority or 0),
                offered_to=sorted({full.split("/", 1)[0] for full in (t.offers or {})})))
        held: dict[str, list[str]] = {}
        for t in active:
            held.setdefault(t.agent, []).append(t.id)
        for a in q.agents:
            snap.agents.append(AgentRow(queue=q.name, agent=a["jid"], status=agent_status(a),
                                        load=int(a.get("load") or 0), capacity=int(a.get("capacity") or 0),
                                        tickets=held.get(a["jid"], [])))
        for t in sorted(active, key=lambda x: (x.accepted_at or 0.0, x.id)):
            reached = t.queued_at or t.created_at
            snap.conversations.append(ConversationRow(
                queue=q.name, ticket=t.id, customer=t.customer, agent=t.agent,
                duration=max(0.0, now - (t.accepted_at or reached)),
                first_response=None if t.first_response_at is None else max(0.0, t.first_response_at - reached)))
    return snap


# -- rendering --------------------------------------------------------------------------------

def _status_text(status: str, lang: str) -> str:
    return text(f"status_{status}", lang)


def _clock(at: float, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M:%S")


def as_text(snap: Snapshot, lang: str, tz: tzinfo | None = None, limit: int = 50) -> str:
    """The snapshot as a chat message (at most ``limit`` lines per section)."""
    lines = [text("monitor_header", lang, time=_clock(snap.at, tz))]
    for q in snap.queues:
        oldest = text("oldest", lang, wait=duration(q.oldest_wait, lang)) if q.oldest_wait is not None else ""
        lines.append(text("queue_line", lang, title=q.title, queue=q.queue,
                          status=text("open" if q.open else "closed", lang), waiting=q.waiting, oldest=oldest,
                          bot=q.with_bot, active=q.active, available=q.available, agents=len(
                              [a for a in snap.agents if a.queue == q.queue]), load=q.load, capacity=q.capacity)
                     + (text("queue_later", lang, pending=q.pending, messages=q.messages)
                        if q.pending or q.messages else ""))
    lines.append(text("waiting_header", lang))
    for w in snap.waiting[:limit]:
        offered = text("offered_to", lang, agents=", ".join(w.offered_to)) if w.offered_to else ""
        lines.append(text("waiting_line", lang, position=w.position, customer=w.customer,
                          wait=duration(w.waited, lang), offered=offered, ticket=w.ticket)
                     + (f" · {w.queue}" if len(snap.queues) > 1 else ""))
    lines += _more(len(snap.waiting), limit, lang)
    if not snap.waiting:
        lines.append(text("none", lang))
    lines.append(text("agents_header", lang))
    for a in snap.agents[:limit]:
        tickets = f" · {', '.join(a.tickets)}" if a.tickets else ""
        lines.append(text("agent_line", lang, agent=a.agent, status=_status_text(a.status, lang), load=a.load,
                          capacity=a.capacity, tickets=tickets) + (f" · {a.queue}" if len(snap.queues) > 1 else ""))
    lines += _more(len(snap.agents), limit, lang)
    if not snap.agents:
        lines.append(text("none", lang))
    lines.append(text("conversations_header", lang))
    for c in snap.conversations[:limit]:
        first = (text("first_reply", lang, wait=duration(c.first_response, lang)) if c.first_response is not None
                 else text("no_reply_yet", lang))
        lines.append(text("conversation_line", lang, ticket=c.ticket, customer=c.customer, agent=c.agent,
                          duration=duration(c.duration, lang), first=first))
    lines += _more(len(snap.conversations), limit, lang)
    if not snap.conversations:
        lines.append(text("none", lang))
    return "\n".join(lines)


def _more(count: int, limit: int, lang: str) -> list[str]:
    return [text("more", lang, count=count - limit)] if count > limit else []


def table_columns(view: str, lang: str) -> list[tuple[str, str]]:
    keys = {
        "queues": ("queue", "title", "status", "waiting", "oldest", "bot", "active", "pending", "messages", "agents",
                   "load"),
        "waiting": ("position", "queue", "customer", "wait", "state", "priority", "offered", "ticket"),
        "agents": ("queue", "agent", "status", "load", "tickets"),
        "conversations": ("ticket", "queue", "customer", "agent", "duration", "first"),
    }[view]
    return [(key, text(f"col_{key}", lang)) for key in keys]


def table_rows(snap: Snapshot, view: str, lang: str, limit: int = 200) -> list[dict[str, Any]]:
    """Rows of one view for a ``<reported/>`` table (values already formatted for people)."""
    if view == "queues":
        staff = {q.queue: sum(1 for a in snap.agents if a.queue == q.queue) for q in snap.queues}
        return [{"queue": q.queue, "title": q.title, "status": text("open" if q.open else "closed", lang),
                 "waiting": q.waiting, "oldest": duration(q.oldest_wait, lang), "bot": q.with_bot,
                 "active": q.active, "pending": q.pending, "messages": q.messages,
                 "agents": f"{q.available}/{staff[q.queue]}", "load": f"{q.load}/{q.capacity}"}
                for q in snap.queues[:limit]]
    if view == "waiting":
        return [{"position": w.position, "queue": w.queue, "customer": w.customer,
                 "wait": duration(w.waited, lang), "state": text(f"state_{w.state}", lang),
                 "priority": w.priority, "offered": ", ".join(w.offered_to), "ticket": w.ticket}
                for w in snap.waiting[:limit]]
    if view == "agents":
        return [{"queue": a.queue, "agent": a.agent, "status": _status_text(a.status, lang),
                 "load": f"{a.load}/{a.capacity}", "tickets": ", ".join(a.tickets)} for a in snap.agents[:limit]]
    if view == "conversations":
        return [{"ticket": c.ticket, "queue": c.queue, "customer": c.customer, "agent": c.agent,
                 "duration": duration(c.duration, lang), "first": duration(c.first_response, lang)}
                for c in snap.conversations[:limit]]
    raise ValueError(f"unknown view {view!r}")
