"""``switchboard report``: support figures of a time range as CSV, JSON or a self-contained HTML page.

It runs on the database of a configuration file without connecting to the XMPP
server (safe while the component runs). The recorded ticket events come from the
support plugin's public service (``ticket_events``), the figures from the same
code as the ad-hoc report; ``--as JID`` limits it to the queues that account
supervises, as the ad-hoc command does.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from component.cli_kit import CliCommand, CliContext, CliError, CliRefused

from .render import render
from .service import Reports, default_range, parse_when

PLUGIN = "support_reports"


async def make_report(ctx: CliContext, args: argparse.Namespace, now: float | None = None) -> tuple[str, int]:
    """The report text and how many conversations it covers."""
    options = ctx.service.plugins[PLUGIN].options
    support = ctx.public("support")
    tz_name = args.tz or options.timezone
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CliError(f"unknown time zone {tz_name!r}") from exc
    lang = args.lang or options.lang
    now = time.time() if now is None else now
    since, until = default_range(tz, now, options.default_days)
    try:
        if args.since:
            since = parse_when(args.since, tz, now=now)
        if args.until:
            until = parse_when(args.until, tz, end=True, now=now)
    except ValueError as exc:
        raise CliError(f"invalid date: {exc} (use YYYY-MM-DD or an ISO 8601 time)") from exc
    if until <= since:
        raise CliError("--until must be after --since")
    scope = await ctx.scope("queue")
    allowed = scope.filter(support.queues())
    if args.queue is not None and args.queue not in support.queues():
        raise CliError(f"no queue {args.queue} on {ctx.service.domain}")
    if args.queue is not None and not scope.allows(args.queue):
        raise CliRefused(f"{ctx.actor} does not supervise the queue {args.queue}")
    if not scope.everything and not allowed:
        raise CliRefused(f"{ctx.actor} supervises no queue on {ctx.service.domain}")
    queues = None if scope.everything or args.queue else allowed
    reports = Reports(support.ticket_events, tz, tz_name, now=lambda: now)
    data = await reports.data(since, until, args.queue, queues=queues, lang=lang, period=args.period,
                              group=args.group)
    return render(data, args.format), len(data.convs)


async def report(ctx: CliContext, args: argparse.Namespace) -> int:
    document, count = await make_report(ctx, args)
    if args.output:
        Path(args.output).write_text(document, encoding="utf-8")
        ctx.say(f"switchboard report: wrote {args.output} ({count} conversation(s))")
    else:
        ctx.out.write(document)
    return 0


def build(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="first day (YYYY-MM-DD) or time (ISO 8601); default: a week ago")
    parser.add_argument("--until", help="last day, included (YYYY-MM-DD), or an exclusive end time; default: today")
    parser.add_argument("--queue", help="only this queue (its name, e.g. help)")
    parser.add_argument("--format", choices=("csv", "json", "html"), default="csv", help="default csv")
    parser.add_argument("--output", "-o", help="write to this file instead of standard output")
    parser.add_argument("--group", choices=("queue", "agent", "total"), default="queue",
                        help="rows per queue, agent or in total (CSV and JSON; default queue)")
    parser.add_argument("--period", choices=("day", "week", "all"), default="day",
                        help="rows per day, ISO week or over the whole range (default day)")
    parser.add_argument("--tz", help="time zone of days and weeks (default: the plugin's option, else UTC)")
    parser.set_defaults(action=report)


COMMANDS = (
    CliCommand("report", "support figures (conversations, wait, first response, CSAT...) as CSV, JSON or an "
                         "HTML page with charts", build, leaf=True, needs=("support",)),
)
