"""``switchboard rooms …``: the room operations of the admin commands, for scripts and cron.

It works against the database of a configuration file, with the plugins set up
but no stream connected, through the same public services the ad-hoc commands
use (``hooks.service("muc")``, ``hooks.service("archive")``) and with their rights
(``--as JID``: only the rooms that account owns). Archive operations (export,
purge) are safe while the component runs; room changes made here would not
reach a running process, so there are none.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from component.cli_kit import CliCommand, CliContext, CliError, CliRefused, Progress, confirm

from . import export
from .room_command import message_counts, room_row
from .service import format_time, parse_time


# -- running against the database -------------------------------------------
async def _room(ctx: CliContext, text: str, archive_only: bool = False) -> str:
    """The room named on the command line, in the actor's scope; ``archive_only``: a room gone
    but whose archive is left (global admins only, as in the ad-hoc commands)."""
    service = ctx.service
    room = text if "@" in text else f"{text}@{service.domain}"
    scope = await ctx.scope("room")
    if not scope.allows(room):
        raise CliRefused(f"{ctx.actor} may not administer {room}")
    if service.hooks.service("muc").room_exists(room):
        return room
    archive = service.hooks.service("archive", None)
    if archive_only and scope.everything and archive is not None and await archive.count(room):
        return room
    raise CliError(f"no room {room}")


def _archive(service: Any) -> Any:
    archive = service.hooks.service("archive", None)
    if archive is None:
        raise CliError(f"no archive (mam plugin) runs on {service.domain}")
    return archive


def _time(text: str | None, what: str) -> float | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise CliError(f"{what}: {exc}") from exc


async def rooms_list(ctx: CliContext, args: argparse.Namespace) -> int:
    muc = ctx.public("muc")
    archive = ctx.hooks.service("archive", None)
    scope = await ctx.scope("room")
    rows = [await room_row(muc, archive, room) for room in sorted(scope.filter(muc.rooms()))]
    if args.json:
        ctx.json(rows)
    else:
        ctx.table(rows, ["room", "name", "occupants", "persistent", "public", "archiving", "archive"])
    return 0


async def rooms_info(ctx: CliContext, args: argparse.Namespace) -> int:
    out = ctx.out
    room = await _room(ctx, args.room)
    muc = ctx.public("muc")
    archive = ctx.hooks.service("archive", None)
    info: dict[str, Any] = await room_row(muc, archive, room)
    info["config"] = {k.removeprefix("muc#roomconfig_"): v for k, v in muc.room_config(room).items()
                      if "password" not in k and "secret" not in k}
    if archive is not None:
        info["messages"] = await message_counts(archive, room, time.time())
        first, last = await archive.bounds(room)
        info["first_message"] = format_time(first.timestamp) if first else None
        info["last_message"] = format_time(last.timestamp) if last else None
    if args.json:
        ctx.json(info)
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                out.write(f"{key}.{sub}: {v}\n")
        else:
            out.write(f"{key}: {'' if value is None else value}\n")
    return 0


async def purge(archive: Any, room: str, *, before: float | None, author: str | None,
                progress: Progress | None = None, slices: int = 20) -> int:
    """Purge in time slices, oldest first, so a long purge shows progress and never holds one
    long transaction; returns how many messages were deleted."""
    first, last = await archive.bounds(room)
    if first is None:
        return 0
    upper = before if before is not None else last.timestamp + 0.001
    removed = 0
    lower = first.timestamp
    if upper > lower:
        for i in range(1, slices + 1):
            cut = upper if i == slices else lower + (upper - lower) * i / slices
            removed += await archive.purge(room, before=cut, author=author)
            if progress:
                progress.update(removed)
    if before is None:  # everything: also what arrived meanwhile
        removed += await archive.purge(room, before=None, author=author)
    return removed


async def rooms_purge(ctx: CliContext, args: argparse.Namespace) -> int:
    out = ctx.out
    room = await _room(ctx, args.room, archive_only=True)
    archive = _archive(ctx.service)
    before = _time(args.before, "--before")
    author = args.author
    if not (args.all or before is not None or author):
        raise CliError("say what to delete: --all, --before DATE and/or --author JID")
    if args.all and (before is not None or author):
        raise CliError("--all cannot be combined with --before or --author")
    total = await export.count(archive, room, end=None if before is None else before - 0.001, author=author)
    what = f"{total} message(s) of {room}" + (f" by {author}" if author else "") + \
        (f" before {args.before}" if before is not None else "")
    if total == 0:
        out.write(f"nothing to delete ({what})\n")
        return 0
    if not confirm(f"Delete {what} for good?", f"would delete {what}", args.yes):
        out.write("nothing deleted\n")
        return 1
    progress = Progress(f"purging {room}", total, ctx.err, enabled=not args.quiet)
    removed = await purge(archive, room, before=before, author=author, progress=progress)
    progress.finish()
    out.write(f"deleted {removed} message(s) from {room}\n")
    return 0


async def rooms_export(ctx: CliContext, args: argparse.Namespace) -> int:
    out = ctx.out
    room = await _room(ctx, args.room, archive_only=True)
    archive = _archive(ctx.service)
    start, end = _time(args.start, "--start"), _time(args.end, "--end")
    total = await export.count(archive, room, start=start, end=end)
    progress = Progress(f"exporting {room}", total, ctx.err, enabled=not args.quiet)
    target = args.output
    if target in (None, "-"):
        n = await export.export(archive, room, args.format, out.write, real_jids=True, start=start, end=end,
                                progress=progress.update)
    else:
        path = Path(target)
        partial = path.with_name(path.name + ".part")
        with partial.open("w", encoding="utf-8") as handle:
            n = await export.export(archive, room, args.format, handle.write, real_jids=True, start=start,
                                    end=end, progress=progress.update)
        os.replace(partial, path)  # a reader never sees half a file
    progress.finish()
    if target not in (None, "-"):
        ctx.say(f"exported {n} message(s) of {room} to {target}")
    return 0


def build(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="verb", metavar="ACTION", required=True)

    listing = actions.add_parser("list", parents=[common],
                                 help="every room: name, occupants, persistent, public, archive size")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(action=rooms_list)

    info = actions.add_parser("info", parents=[common], help="one room's configuration and archive figures")
    info.add_argument("room", help="room JID, or its name before @service")
    info.add_argument("--json", action="store_true", help="JSON instead of lines")
    info.set_defaults(action=rooms_info)

    purge_parser = actions.add_parser("purge", parents=[common], help="delete archived messages of a room")
    purge_parser.add_argument("room", help="room JID, or its name before @service")
    purge_parser.add_argument("--all", action="store_true", help="every archived message")
    purge_parser.add_argument("--before", metavar="DATE", help="messages before YYYY-MM-DD[THH:MM:SSZ] (UTC)")
    purge_parser.add_argument("--author", metavar="JID", help="messages by this real bare JID")
    purge_parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    purge_parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    purge_parser.set_defaults(action=rooms_purge)

    export_parser = actions.add_parser("export", parents=[common],
                                       help="write a room's archive as XEP-0313 XML or JSON")
    export_parser.add_argument("room", help="room JID, or its name before @service")
    export_parser.add_argument("--format", "-f", choices=["xml", "json"], default="xml")
    export_parser.add_argument("--output", "-o", metavar="FILE", help="file to write (default: standard output)")
    export_parser.add_argument("--start", metavar="DATE", help="messages from this date")
    export_parser.add_argument("--end", metavar="DATE", help="messages until this date")
    export_parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    export_parser.set_defaults(action=rooms_export)


COMMANDS = (
    CliCommand("rooms", "rooms and their archives: list, info, purge, export",
               build, needs=("muc",), description="Room and archive administration against the database of a configuration "
                                  "file (the same operations and rights as the ad-hoc commands)."),
)
