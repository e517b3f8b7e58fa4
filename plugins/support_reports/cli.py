"""``switchboard report``: support figures of a time range as CSV, JSON or a self-contained HTML page.

The command line itself is declared in component/cli.py (``report``). It works on the
database of a configuration file without connecting to the XMPP server (safe while the
component runs): the support plugin's store reads the recorded ticket events and the same
metrics code as the ad-hoc command computes the figures.

Exit codes: 0 written, 1 the report could not be made (no database, bad dates), 2 configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from component.config import Config, load

from .render import render
from .service import Reports, default_range, parse_when

EXIT_FAILED = 1
PLUGIN = "support_reports"


class ReportError(Exception):
    """The report cannot be made; the message says why."""


def _plugin_options(config: Config) -> dict[str, Any]:
    for service in config.services:
        if PLUGIN in service.plugins:
            return dict(service.plugins[PLUGIN] or {})
    return {}


def _check_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).exists():
            raise ReportError(f"no database at {database} (has the component run with this configuration?)")


async def _events(url: str, since: float, until: float, queue: str | None, starts: tuple[str, ...]) -> Any:
    from component.storage import Database
    from plugins.support.store import SupportStore

    db = Database(url)
    try:
        return await SupportStore(db).ticket_events(since, until, queue, starts)
    except SQLAlchemyError as exc:
        raise ReportError(f"cannot read the support events: {exc.__class__.__name__} "
                          f"(does this database hold the support plugin's tables?)") from exc
    finally:
        await db.close()


def make_report(args: argparse.Namespace, now: float | None = None) -> tuple[str, int]:
    """The report text and how many conversations it covers."""
    config = load(args.config)
    options = _plugin_options(config)
    tz_name = args.tz or options.get("timezone") or "UTC"
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportError(f"unknown time zone {tz_name!r}") from exc
    lang = args.lang or options.get("lang") or "en"
    now = time.time() if now is None else now
    since, until = default_range(tz, now, int(options.get("default_days") or 7))
    try:
        if args.since:
            since = parse_when(args.since, tz, now=now)
        if args.until:
            until = parse_when(args.until, tz, end=True, now=now)
    except ValueError as exc:
        raise ReportError(f"invalid date: {exc} (use YYYY-MM-DD or an ISO 8601 time)") from exc
    if until <= since:
        raise ReportError("--until must be after --since")
    url = config.database_url
    _check_database(url)

    async def source(s: float, u: float, queue: str | None, starts: tuple[str, ...]) -> Any:
        return await _events(url, s, u, queue, starts)

    reports = Reports(source, tz, tz_name, now=lambda: now)
    data = asyncio.run(reports.data(since, until, args.queue, lang=lang, period=args.period, group=args.group))
    return render(data, args.format), len(data.convs)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        document, count = make_report(args)
    except ReportError as error:
        print(f"switchboard report: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.output:
        Path(args.output).write_text(document, encoding="utf-8")
        print(f"switchboard report: wrote {args.output} ({count} conversation(s))", file=sys.stderr)
    else:
        out.write(document)
    return 0
