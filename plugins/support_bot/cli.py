"""``switchboard kb …``: a queue's knowledge base from a shell (list, search, export, import).

The same operations as the knowledge-base ad-hoc commands, on the database of a
configuration file: global admins (the operator by default) reach every queue,
``--as JID`` only the queues that account serves as agent or supervisor. An
import is all or nothing and checks every row first; a running component reloads
the queue's index when it sees the change the import records (component/peers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from component.cli_kit import CliCommand, CliContext, CliError, CliRefused, confirm

from .commands import _matching
from .kb_import import parse, to_csv, to_json
from .service import KnowledgeBaseError

PLUGIN = "support_bot"
PREVIEW = 5


def _plugin(ctx: CliContext) -> Any:
    return ctx.service.plugins[PLUGIN]


def _queue(ctx: CliContext, name: str | None) -> str:
    """The queue named with --queue, if it exists and the actor may manage it (the only one, if unnamed)."""
    plugin = _plugin(ctx)
    every = list(plugin.support.queues())
    mine = every if ctx.actor.is_operator else plugin.staff.queues(ctx.actor.jid)
    if name is None:
        if len(mine) == 1:
            return mine[0]
        raise CliError("name the queue with --queue (one of: " + ", ".join(mine or every) + ")")
    if name not in every:
        raise CliError(f"no queue {name} on {ctx.service.domain} (queues: {', '.join(every) or 'none'})")
    if name not in mine:
        raise CliRefused(f"{ctx.actor} is neither an agent nor a supervisor of the queue {name}")
    return name


def _row(entry: Any) -> dict[str, Any]:
    return {"id": entry.id, "question": entry.question, "alternatives": list(entry.alternatives),
            "answer": entry.answer, "keywords": list(entry.keywords), "lang": entry.lang}


async def kb_list(ctx: CliContext, args: argparse.Namespace) -> int:
    queue = _queue(ctx, args.queue)
    entries = await asyncio.to_thread(_matching, _plugin(ctx).kb.entries(queue), args.contains or "")
    if args.json:
        ctx.json([_row(e) for e in entries])
        return 0
    rows = [{"id": e.id, "lang": e.lang or "-", "question": e.question,
             "answer": e.answer if len(e.answer) <= 60 else e.answer[:59] + "…"} for e in entries]
    ctx.table(rows, ["id", "lang", "question", "answer"])
    ctx.say(f"{len(entries)} entries in {queue}")
    return 0


async def kb_search(ctx: CliContext, args: argparse.Namespace) -> int:
    queue = _queue(ctx, args.queue)
    question = args.question.strip()
    if not question:
        raise CliError("the question is empty")
    if not 1 <= args.limit <= 50:
        raise CliError("--limit is between 1 and 50")
    hits = _plugin(ctx).kb.search(queue, question, args.limit)
    if args.json:
        ctx.json([{**_row(h.entry), "confidence": round(h.confidence, 3), "matched": h.phrasing} for h in hits])
        return 0
    ctx.table([{"confidence": f"{h.confidence:.2f}", "id": h.entry.id, "question": h.entry.question,
                "matched": h.phrasing} for h in hits], ["confidence", "id", "question", "matched"])
    return 0


async def kb_export(ctx: CliContext, args: argparse.Namespace) -> int:
    queue = _queue(ctx, args.queue)
    entries = await asyncio.to_thread(_matching, _plugin(ctx).kb.entries(queue), args.contains or "")
    data = await asyncio.to_thread(to_csv if args.format == "csv" else to_json, entries)
    if args.output in (None, "-"):
        ctx.out.write(data if data.endswith("\n") else data + "\n")
        return 0
    path = Path(args.output)
    partial = path.with_name(path.name + ".part")
    partial.write_text(data if data.endswith("\n") else data + "\n", encoding="utf-8")
    os.replace(partial, path)
    ctx.say(f"exported {len(entries)} entries of {queue} to {path}")
    return 0


async def kb_import(ctx: CliContext, args: argparse.Namespace) -> int:
    queue = _queue(ctx, args.queue)
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {args.file}: {exc}") from exc
    parsed = await asyncio.to_thread(parse, text, args.format)
    if parsed.errors:
        for error in parsed.errors[:20]:
            ctx.say(f"  {error}")
        raise CliError(f"{len(parsed.errors)} problem(s) in {args.file}, nothing imported")
    if not parsed.drafts:
        raise CliError(f"{args.file} holds no entries")
    plugin = _plugin(ctx)
    if args.replace and not confirm(
            f"Replace the {plugin.kb.size(queue)} entries of {queue} with {len(parsed.drafts)}?",
            f"would replace the {plugin.kb.size(queue)} entries of {queue}", args.yes):
        ctx.out.write("nothing imported\n")
        return 1
    author = ctx.actor.jid or "operator"
    try:
        summary = await plugin.kb.import_(queue, parsed.drafts, author, replace=args.replace)
    except KnowledgeBaseError as exc:
        raise CliError(str(exc)) from exc
    ctx.out.write(f"imported into {queue}: {summary.added} added, {summary.updated} updated, "
                  f"{summary.removed} replaced; {summary.total} entries now\n")
    return 0


def build(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="verb", metavar="ACTION", required=True)

    listing = actions.add_parser("list", parents=[common], help="a queue's entries")
    listing.add_argument("--queue", "-q", help="the queue (needed when there are several)")
    listing.add_argument("--contains", help="only entries containing this text")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(action=kb_list)

    search = actions.add_parser("search", parents=[common], help="the entries the bot would find for a question")
    search.add_argument("question", help="the customer's question (zh or en)")
    search.add_argument("--queue", "-q", help="the queue (needed when there are several)")
    search.add_argument("--limit", type=int, default=5, help="most entries shown (1-50, default 5)")
    search.add_argument("--json", action="store_true", help="JSON instead of a table")
    search.set_defaults(action=kb_search)

    export = actions.add_parser("export", parents=[common], help="a queue's entries as JSON or CSV (import reads both)")
    export.add_argument("--queue", "-q", help="the queue (needed when there are several)")
    export.add_argument("--format", "-f", choices=("json", "csv"), default="json")
    export.add_argument("--contains", help="only entries containing this text")
    export.add_argument("--output", "-o", metavar="FILE", help="file to write (default: standard output)")
    export.set_defaults(action=kb_export)

    load = actions.add_parser("import", parents=[common], help="entries from a CSV or JSON file (merge or replace)")
    load.add_argument("file", help="the file, or - for standard input")
    load.add_argument("--queue", "-q", help="the queue (needed when there are several)")
    load.add_argument("--format", "-f", choices=("auto", "csv", "json"), default="auto")
    load.add_argument("--replace", action="store_true",
                      help="replace the queue's whole knowledge base (default: merge; same id or question updates)")
    load.add_argument("--yes", "-y", action="store_true", help="do not ask before replacing")
    load.set_defaults(action=kb_import)


COMMANDS = (
    CliCommand("kb", "the support bot's knowledge base: list, search, export, import (CSV/JSON, zh/en)", build,
               needs=("support",)),
)
