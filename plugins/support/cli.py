"""``switchboard queues …`` and ``switchboard tickets …``: the support desk from a shell.

They read through the plugin's public service (``hooks.service("support")``: queues,
summary, agents, search, ticket, events, notes) on the database of a configuration
file, with the rights of the queue commands: global admins (the operator by
default) see every queue, ``--as JID`` only the queues that account serves as agent
or supervisor. The declared command registry (``commands.REGISTRY``) holds the
conversation commands (accept, close, transfer…), which act on a running
conversation and so belong to the running component, not to a shell.

Queue state shown here is what the database holds (open tickets as last saved).
``queues open|close|hours`` is the ``support-queue-state`` command (supervisors of the
queue and admins): stored, and seen by the running component within seconds (overrides.py).
"""

from __future__ import annotations

import argparse
import calendar
import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

from component.cli_kit import CliCommand, CliContext, CliError, CliRefused

from . import overrides, tickets
from .stanza import xep0082

PLUGIN = "support"
EXPORT_MAX = 100_000


def _plugin(ctx: CliContext) -> Any:
    return ctx.service.plugins[PLUGIN]


def _mine(ctx: CliContext) -> list[str]:
    """The queues the actor may look at: all for admins, else those they serve."""
    support = ctx.public("support")
    every = list(support.queues())
    if ctx.is_admin():
        return every
    engine = _plugin(ctx).engine
    bare = ctx.actor.jid or ""
    return [q for q in every if engine.is_agent(q, bare) or engine.is_supervisor(q, bare)]


def _queue(ctx: CliContext, name: str) -> str:
    every = list(ctx.public("support").queues())
    if name not in every:
        raise CliError(f"no queue {name} on {ctx.service.domain} (queues: {', '.join(every) or 'none'})")
    if name not in _mine(ctx):
        raise CliRefused(f"{ctx.actor} is neither an agent nor a supervisor of the queue {name}")
    return name


def _when(ts: float | None) -> str:
    return xep0082(ts) if ts else ""


def _queue_row(ctx: CliContext, name: str) -> dict[str, Any]:
    support = ctx.public("support")
    summary = support.summary(name)
    states = [t.state for t in support.open_tickets(name)]
    agents = support.agents(name)
    return {"queue": name, "title": support.queue_title(name), "jid": support.queue_jid(name),
            "status": summary["status"], "queued": states.count("queued"), "offered": states.count("offered"),
            "active": states.count("active"), "pending": states.count("pending"),
            "agents": len(agents), "available": sum(1 for a in agents if a["routable"]),
            "oldest_wait": _when(summary["oldest"])}


async def queues_list(ctx: CliContext, args: argparse.Namespace) -> int:
    names = _mine(ctx)
    if not names and not ctx.is_admin():
        raise CliRefused(f"{ctx.actor} serves no queue on {ctx.service.domain}")
    rows = [_queue_row(ctx, name) for name in names]
    if args.json:
        ctx.json(rows)
    else:
        ctx.table(rows, ["queue", "status", "queued", "offered", "active", "pending", "available", "agents"])
    return 0


async def queues_show(ctx: CliContext, args: argparse.Namespace) -> int:
    name = _queue(ctx, args.queue)
    support = ctx.public("support")
    info = _queue_row(ctx, name)
    info["agents"] = [{k: a[k] for k in ("jid", "online", "show", "routable", "load", "capacity")}
                      for a in support.agents(name)]
    waiting = sorted((t for t in support.open_tickets(name) if t.state in ("queued", "offered")),
                     key=lambda t: t.sort_key())
    info["waiting"] = [{"ticket": t.id, "state": t.state, "customer": t.customer, "since": _when(t.queued_at),
                        "priority": t.priority} for t in waiting]
    if args.json:
        ctx.json(info)
        return 0
    for key, value in info.items():
        if key not in ("agents", "waiting"):
            ctx.out.write(f"{key}: {value}\n")
    ctx.out.write("agents:\n")
    ctx.table(info["agents"], ["jid", "online", "show", "routable", "load", "capacity"])
    ctx.out.write("waiting:\n")
    ctx.table(info["waiting"], ["ticket", "state", "customer", "since", "priority"])
    return 0


async def queues_set(ctx: CliContext, args: argparse.Namespace) -> int:
    every = list(ctx.public("support").queues())
    name = args.queue
    if name not in every:
        raise CliError(f"no queue {name} on {ctx.service.domain} (queues: {', '.join(every) or 'none'})")
    plugin = _plugin(ctx)
    if not (ctx.is_admin() or plugin.engine.is_supervisor(name, ctx.actor.jid or "")):
        raise CliRefused(f"{ctx.actor} is not a supervisor of the queue {name}")
    await overrides.store(plugin, name, args.state, ctx.actor.jid or "operator")
    ctx.say({"open": f"{name}: open now, whatever its hours say",
             "closed": f"{name}: closed now; customers are answered as out of hours",
             "hours": f"{name}: open and closed by its business hours again"}[args.state])
    return 0


def _search(args: argparse.Namespace, limit: int) -> tickets.Search:
    unknown = [s for s in args.status or [] if s not in tickets.STATUSES]
    if unknown:
        raise CliError(f"unknown status {', '.join(unknown)} (one of {', '.join(tickets.STATUSES)})")
    tags = [tickets.normalise_tag(w) for w in (args.tag or [])]
    if any(tag is None for tag in tags):
        raise CliError("tags are letters, digits, '.', '_' or '-'")
    return tickets.Search(statuses=list(args.status or []), tags=[t for t in tags if t],
                          customer=args.customer or "", agent=args.agent or "", text=args.text or "", limit=limit)


def _ticket_row(support: Any, t: Any) -> dict[str, Any]:
    return {"ticket": t.id, "queue": t.queue, "status": support.status_of(t), "customer": t.customer,
            "agent": t.agent or (t.agents_seen[-1] if t.agents_seen else ""), "priority": t.priority,
            "tags": " ".join(t.tags), "created": _when(t.created_at), "closed": _when(t.closed_at),
            "rating": "" if t.rating is None else t.rating}


async def _found(ctx: CliContext, args: argparse.Namespace, limit: int) -> list[Any]:
    queues = [_queue(ctx, args.queue)] if args.queue else _mine(ctx)
    if not queues:
        raise CliRefused(f"{ctx.actor} serves no queue on {ctx.service.domain}")
    return await ctx.public("support").search(queues, _search(args, limit))


async def tickets_list(ctx: CliContext, args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 500:
        raise CliError("--limit is between 1 and 500")
    support = ctx.public("support")
    rows = [_ticket_row(support, t) for t in await _found(ctx, args, args.limit)]
    if args.json:
        ctx.json(rows)
    else:
        ctx.table(rows, ["ticket", "queue", "status", "customer", "agent", "priority", "tags", "created"])
    return 0


async def _ticket_document(ctx: CliContext, support: Any, t: Any) -> dict[str, Any]:
    doc = _ticket_row(support, t)
    doc.update(entry=t.entry, jid=support.session_jid(t.id), language=t.lang, via=t.via,
               accepted=_when(t.accepted_at), first_response=_when(t.first_response_at),
               close_reason=t.close_reason, reopened=t.reopened, rating_comment=t.rating_comment,
               form=dict(t.form), agents_seen=list(t.agents_seen))
    doc["events"] = [{"kind": kind, "at": _when(at), "actor": actor, "data": data}
                     for kind, at, actor, data in await support.events(t.id)]
    doc["notes"] = [{"at": _when(at), "author": author, "text": text}
                    for at, author, text in await support.notes(t.id)]
    return doc


async def tickets_show(ctx: CliContext, args: argparse.Namespace) -> int:
    support = ctx.public("support")
    t = await support.ticket(args.ticket.strip().lower())
    mine = _mine(ctx)
    if t is None or not (t.queue in mine or t.entry in mine):
        # As the ad-hoc command does: a ticket of another queue does not exist for this account.
        raise CliError(f"no ticket {args.ticket} in the queues of {ctx.actor}")
    doc = await _ticket_document(ctx, support, t)
    if args.json:
        ctx.json(doc)
        return 0
    for key, value in doc.items():
        if key not in ("events", "notes", "form"):
            ctx.out.write(f"{key}: {value}\n")
    for key, value in doc["form"].items():
        ctx.out.write(f"form.{key}: {value}\n")
    ctx.out.write("events:\n")
    ctx.table(doc["events"], ["at", "kind", "actor"])
    ctx.out.write("notes:\n")
    ctx.table(doc["notes"], ["at", "author", "text"])
    return 0


def _day(text: str | None, what: str, end: bool = False) -> float | None:
    """A UTC day's start (``end``: the next day's start, so the day is included)."""
    if not text:
        return None
    try:
        stamp = calendar.timegm(time.strptime(text, "%Y-%m-%d"))
    except ValueError as exc:
        raise CliError(f"{what}: not a date (YYYY-MM-DD): {text!r}") from exc
    return stamp + (86400 if end else 0)


async def tickets_export(ctx: CliContext, args: argparse.Namespace) -> int:
    since, until = _day(args.since, "--since"), _day(args.until, "--until", end=True)
    if since is not None and until is not None and until <= since:
        raise CliError("--until must not be before --since")
    support = ctx.public("support")
    found = [t for t in await _found(ctx, args, EXPORT_MAX)
             if (since is None or t.created_at >= since) and (until is None or t.created_at < until)]
    if args.format == "json":
        docs = [await _ticket_document(ctx, support, t) for t in found]
        data = json.dumps({"tickets": docs}, ensure_ascii=False, indent=1) + "\n"
    else:
        out = io.StringIO()
        columns = ["ticket", "queue", "status", "customer", "agent", "priority", "tags", "created", "closed",
                   "rating"]
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        for t in found:
            writer.writerow(_ticket_row(support, t))
        data = out.getvalue()
    if args.output in (None, "-"):
        ctx.out.write(data)
        return 0
    path = Path(args.output)
    partial = path.with_name(path.name + ".part")
    partial.write_text(data, encoding="utf-8")
    os.replace(partial, path)
    ctx.say(f"exported {len(found)} ticket(s) to {path}")
    return 0


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", "-q", help="only this queue (default: every queue you serve)")
    parser.add_argument("--status", action="append", choices=tickets.STATUSES,
                        help="only tickets in this status (repeatable)")
    parser.add_argument("--tag", action="append", help="only tickets with this tag (repeatable)")
    parser.add_argument("--customer", help="customer JID contains")
    parser.add_argument("--agent", help="agent JID contains")
    parser.add_argument("--text", help="words (ticket id, name, email, order, first message)")


def build_queues(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="verb", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="every queue you serve: status, waiting, agents")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(action=queues_list)
    show = actions.add_parser("show", parents=[common], help="one queue: its agents and waiting customers")
    show.add_argument("queue", help="the queue's name (e.g. help)")
    show.add_argument("--json", action="store_true", help="JSON instead of lines")
    show.set_defaults(action=queues_show)
    for verb, state, text in (("open", "open", "open the queue now, whatever its hours say"),
                              ("close", "closed", "close the queue now (customers may leave a message)"),
                              ("hours", "hours", "give the queue back to its business hours")):
        setter = actions.add_parser(verb, parents=[common], help=f"{text} (supervisors, admins)")
        setter.add_argument("queue", help="the queue's name (e.g. help)")
        setter.set_defaults(action=queues_set, state=state)


def build_tickets(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="verb", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="tickets, newest first")
    _filters(listing)
    listing.add_argument("--limit", type=int, default=50, help="most tickets shown (1-500, default 50)")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(action=tickets_list)
    show = actions.add_parser("show", parents=[common], help="one ticket with its events and notes")
    show.add_argument("ticket", help="the ticket id")
    show.add_argument("--json", action="store_true", help="JSON instead of lines")
    show.set_defaults(action=tickets_show)
    export = actions.add_parser("export", parents=[common], help="tickets as CSV, or JSON with events and notes")
    _filters(export)
    export.add_argument("--since", metavar="DATE", help="created on or after this day (YYYY-MM-DD, UTC)")
    export.add_argument("--until", metavar="DATE", help="created on or before this day (YYYY-MM-DD, UTC)")
    export.add_argument("--format", "-f", choices=("json", "csv"), default="json")
    export.add_argument("--output", "-o", metavar="FILE", help="file to write (default: standard output)")
    export.set_defaults(action=tickets_export)


COMMANDS = (
    CliCommand("queues", "support queues: list, show (agents, waiting customers), open, close, hours",
               build_queues),
    CliCommand("tickets", "support tickets: list, show (events, notes), export (CSV/JSON)", build_tickets),
)
