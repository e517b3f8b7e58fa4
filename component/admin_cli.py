"""``switchboard admin``: the room operations of the admin commands, for scripts and cron.

It opens the database of a configuration file and sets the plugins up without
connecting to the XMPP server, then works through the same public services
the ad-hoc commands use (``hooks.service("muc")``, ``hooks.service("archive")``).
Archive operations (export, purge) are safe while the component runs; room
changes made here would not reach a running process, so there are none.

Exit codes: 0 done, 1 the operation was refused or failed, 2 configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .config import load

EXIT_FAILED = 1


class CliError(Exception):
    """An operation that cannot be done; the message says why."""


class Progress:
    """A one-line progress bar on standard error (redrawn at most ten times a second)."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.label = label
        self.total = max(total, 0)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self._drawn = 0.0

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and now - self._drawn >= 0.1:
            self._drawn = now
            self._draw()

    def _draw(self) -> None:
        total = max(self.total, self.done, 1)
        filled = int(self.WIDTH * self.done / total)
        percent = int(100 * self.done / total)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                          f"{percent:3d}% {self.done}/{max(self.total, self.done)}")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


# -- running against the database -------------------------------------------
async def _open(config_path: str, domain: str | None, need: str = "muc") -> tuple[Any, Any]:
    """Start the app without connecting; return (app, the service running ``need``)."""
    from .app import App

    config = load(config_path)
    candidates = [s for s in config.services if need in s.plugins and (domain is None or s.domain == domain)]
    if domain is not None and not any(s.domain == domain for s in config.services):
        raise CliError(f"no service {domain} in {config.source}")
    if not candidates:
        where = domain or "any service"
        raise CliError(f"the {need} plugin does not run on {where} in {config.source}")
    app = App(config)
    await app.start(connect=False)
    return app, app.services[candidates[0].domain]


async def _room(service: Any, text: str, archive_only: bool = False) -> str:
    """The room named on the command line; ``archive_only``: a room gone but whose archive is left."""
    room = text if "@" in text else f"{text}@{service.domain}"
    if service.hooks.service("muc").room_exists(room):
        return room
    archive = service.hooks.service("archive", None)
    if archive_only and archive is not None and await archive.count(room):
        return room
    raise CliError(f"no room {room}")


def _archive(service: Any) -> Any:
    archive = service.hooks.service("archive", None)
    if archive is None:
        raise CliError(f"no archive (mam plugin) runs on {service.domain}")
    return archive


def _time(text: str | None, what: str) -> float | None:
    from plugins.admin.service import parse_time

    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise CliError(f"{what}: {exc}") from exc


def _print_table(rows: list[dict[str, Any]], columns: list[str], out: TextIO) -> None:
    cells = [[str("" if row.get(c) is None else row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")


async def rooms_list(service: Any, args: argparse.Namespace, out: TextIO) -> int:
    from plugins.admin.rooms import room_row

    muc = service.hooks.service("muc")
    archive = service.hooks.service("archive", None)
    rows = [await room_row(muc, archive, room) for room in sorted(muc.rooms())]
    if args.json:
        out.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    else:
        _print_table(rows, ["room", "name", "occupants", "persistent", "public", "archiving", "archive"], out)
    return 0


async def rooms_info(service: Any, args: argparse.Namespace, out: TextIO) -> int:
    from plugins.admin.rooms import message_counts, room_row
    from plugins.admin.service import format_time

    room = await _room(service, args.room)
    muc = service.hooks.service("muc")
    archive = service.hooks.service("archive", None)
    info: dict[str, Any] = await room_row(muc, archive, room)
    info["config"] = {k.removeprefix("muc#roomconfig_"): v for k, v in muc.room_config(room).items()
                      if "password" not in k and "secret" not in k}
    if archive is not None:
        info["messages"] = await message_counts(archive, room, time.time())
        first, last = await archive.bounds(room)
        info["first_message"] = format_time(first.timestamp) if first else None
        info["last_message"] = format_time(last.timestamp) if last else None
    if args.json:
        out.write(json.dumps(info, ensure_ascii=False, indent=1) + "\n")
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


async def rooms_purge(service: Any, args: argparse.Namespace, out: TextIO) -> int:
    from plugins.admin.export import count

    room = await _room(service, args.room, archive_only=True)
    archive = _archive(service)
    before = _time(args.before, "--before")
    author = args.author
    if not (args.all or before is not None or author):
        raise CliError("say what to delete: --all, --before DATE and/or --author JID")
    if args.all and (before is not None or author):
        raise CliError("--all cannot be combined with --before or --author")
    total = await count(archive, room, end=None if before is None else before - 0.001, author=author)
    what = f"{total} message(s) of {room}" + (f" by {author}" if author else "") + \
        (f" before {args.before}" if before is not None else "")
    if total == 0:
        out.write(f"nothing to delete ({what})\n")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"would delete {what}; add --yes to confirm")
        sys.stderr.write(f"Delete {what} for good? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            out.write("nothing deleted\n")
            return EXIT_FAILED
    progress = Progress(f"purging {room}", total, enabled=not args.quiet)
    removed = await purge(archive, room, before=before, author=author, progress=progress)
    progress.finish()
    out.write(f"deleted {removed} message(s) from {room}\n")
    return 0


async def rooms_export(service: Any, args: argparse.Namespace, out: TextIO) -> int:
    from plugins.admin import export

    room = await _room(service, args.room, archive_only=True)
    archive = _archive(service)
    start, end = _time(args.start, "--start"), _time(args.end, "--end")
    total = await export.count(archive, room, start=start, end=end)
    progress = Progress(f"exporting {room}", total, enabled=not args.quiet)
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
        sys.stderr.write(f"exported {n} message(s) of {room} to {target}\n")
    return 0


async def execute(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run one parsed ``switchboard admin`` command; errors are reported on standard error."""
    app = None
    try:
        app, service = await _open(args.config, args.service)
        return await args.admin_action(service, args, out or sys.stdout)
    except CliError as error:
        print(f"switchboard admin: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if app is not None:
            await app.stop()


def run(args: argparse.Namespace) -> int:
    from . import logs

    logs.setup("debug" if args.verbose else "warning")
    return asyncio.run(execute(args))


def register(sub: Any) -> None:
    """Add ``switchboard admin …`` to the command line's sub-commands."""
    admin = sub.add_parser("admin", help="administer rooms and archives from scripts and cron",
                           description="Room and archive administration against the database of a "
                                       "configuration file (the same operations as the ad-hoc commands).")
    admin.add_argument("--config", "-c", required=True, help="the TOML configuration file")
    admin.add_argument("--service", help="the service domain (default: the first one running muc)")
    admin.add_argument("--verbose", "-v", action="store_true", help="log everything (debug)")
    admin.set_defaults(func=run)
    areas = admin.add_subparsers(dest="area", metavar="AREA", required=True)
    rooms = areas.add_parser("rooms", help="rooms and their archives")
    actions = rooms.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="every room: name, occupants, persistent, public, archive size")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(admin_action=rooms_list)

    info = actions.add_parser("info", help="one room's configuration and archive figures")
    info.add_argument("room", help="room JID, or its name before @service")
    info.add_argument("--json", action="store_true", help="JSON instead of lines")
    info.set_defaults(admin_action=rooms_info)

    purge_parser = actions.add_parser("purge", help="delete archived messages of a room")
    purge_parser.add_argument("room", help="room JID, or its name before @service")
    purge_parser.add_argument("--all", action="store_true", help="every archived message")
    purge_parser.add_argument("--before", metavar="DATE", help="messages before YYYY-MM-DD[THH:MM:SSZ] (UTC)")
    purge_parser.add_argument("--author", metavar="JID", help="messages by this real bare JID")
    purge_parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    purge_parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    purge_parser.set_defaults(admin_action=rooms_purge)

    export_parser = actions.add_parser("export", help="write a room's archive as XEP-0313 XML or JSON")
    export_parser.add_argument("room", help="room JID, or its name before @service")
    export_parser.add_argument("--format", "-f", choices=["xml", "json"], default="xml")
    export_parser.add_argument("--output", "-o", metavar="FILE", help="file to write (default: standard output)")
    export_parser.add_argument("--start", metavar="DATE", help="messages from this date")
    export_parser.add_argument("--end", metavar="DATE", help="messages until this date")
    export_parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    export_parser.set_defaults(admin_action=rooms_export)
