"""Ad-hoc commands (XEP-0050) of the monitor and reports, for supervisors and global admins.

Both are offered to holders of the ``queue`` scope (the support plugin grants
supervisors their queues through ``admin.rights``); every stage checks the
requester's queues again, as rights may change between stages.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from component.adhoc import Command, Context, Done, FormError, FormStep
from component.errors import StanzaError
from component.forms import new_form, table

from .metrics import columns_for
from .monitor import VIEWS, as_text, table_columns, table_rows
from .render import range_text
from .service import default_range, parse_when
from .texts import cell, column_label, duration, percent, score, text

if TYPE_CHECKING:
    from .plugin import ReportsPlugin

ALL = "*"


class _ReportsCommand(Command):
    scope = "queue"

    def __init__(self, plugin: "ReportsPlugin") -> None:
        self.plugin = plugin

    async def queues(self, ctx: Context) -> list[str]:
        """The queues the requester supervises (all of them for global admins)."""
        scope = await ctx.scope("queue")
        return scope.filter(self.plugin.support.queues())

    async def chosen(self, ctx: Context, value: Any) -> list[str]:
        allowed = await self.queues(ctx)
        if not allowed:
            raise StanzaError("forbidden", text("not_supervisor", ctx.lang))
        choice = str(value or ALL)
        if choice == ALL:
            return allowed
        if choice not in allowed:
            raise StanzaError("forbidden", text("unknown_queue", ctx.lang, queue=choice))
        return [choice]

    def queue_field(self, ctx: Context, form: Any, queues: list[str]) -> None:
        field = form.add_field(var="queue", ftype="list-single", label=text("col_queue", ctx.lang), value=ALL,
                               required=True)
        field.add_option(label=text("all_queues", ctx.lang), value=ALL)
        for name in queues:
            field.add_option(label=f"{self.plugin.support.queue_title(name)} ({name})", value=name)


class MonitorCommand(_ReportsCommand):
    node = "support-reports-monitor"
    name = "Live monitor"
    name_zh = "实时监控"

    async def start(self, ctx: Context) -> FormStep:
        queues = await self.queues(ctx)
        if not queues:
            raise StanzaError("forbidden", text("not_supervisor", ctx.lang))
        form = new_form(text("monitor_title", ctx.lang))
        self.queue_field(ctx, form, queues)
        field = form.add_field(var="view", ftype="list-single", label=text("view", ctx.lang), value="queues",
                               required=True)
        for view in VIEWS:
            field.add_option(label=text(f"view_{view}", ctx.lang), value=view)
        return FormStep(form, self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        queues = await self.chosen(ctx, values.get("queue"))
        view = values.get("view") or "queues"
        if view not in VIEWS:
            raise FormError(text("view", ctx.lang) + ": " + " | ".join(VIEWS))
        snap = await self.plugin.current(queues)
        rows = table_rows(snap, view, ctx.lang, self.plugin.options.monitor_rows)
        title = f"{text('monitor_title', ctx.lang)} · {text(f'view_{view}', ctx.lang)}"
        note = text("monitor_header", ctx.lang, time=self.plugin.clock(snap.at))
        if not rows:
            note += "\n" + text("none", ctx.lang).strip()
        return Done(note, form=table(table_columns(view, ctx.lang), rows, title=title))


class ReportCommand(_ReportsCommand):
    node = "support-reports-report"
    name = "Support report"
    name_zh = "客服报表"

    async def start(self, ctx: Context) -> FormStep:
        queues = await self.queues(ctx)
        if not queues:
            raise StanzaError("forbidden", text("not_supervisor", ctx.lang))
        options = self.plugin.options
        since, until = default_range(options.tz, self.plugin.now(), options.default_days)
        form = new_form(text("report_title", ctx.lang), text("report_instructions", ctx.lang, tz=options.timezone))
        self.queue_field(ctx, form, queues)
        group = form.add_field(var="group", ftype="list-single", label=text("group", ctx.lang), value="queue",
                               required=True)
        for value in ("queue", "agent", "total"):
            group.add_option(label=text(f"group_{value}", ctx.lang), value=value)
        period = form.add_field(var="period", ftype="list-single", label=text("period", ctx.lang), value="day",
                                required=True)
        for value in ("day", "week", "all"):
            period.add_option(label=text(f"period_{value}", ctx.lang), value=value)
        form.add_field(var="since", ftype="text-single", label=text("since", ctx.lang), required=True,
                       value=self.plugin.day_of(since))
        form.add_field(var="until", ftype="text-single", label=text("until", ctx.lang), required=True,
                       value=self.plugin.day_of(until - 1))
        return FormStep(form, self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        queues = await self.chosen(ctx, values.get("queue"))
        group = values.get("group") or "queue"
        period = values.get("period") or "day"
        if group not in ("queue", "agent", "total"):
            raise FormError(text("group", ctx.lang) + ": queue | agent | total")
        if period not in ("day", "week", "all"):
            raise FormError(text("period", ctx.lang) + ": day | week | all")
        tz = self.plugin.options.tz
        try:
            since = parse_when(str(values.get("since") or ""), tz, now=self.plugin.now())
        except ValueError as exc:
            raise FormError(text("bad_date", ctx.lang, field=text("since", ctx.lang))) from exc
        try:
            until = parse_when(str(values.get("until") or ""), tz, end=True, now=self.plugin.now())
        except ValueError as exc:
            raise FormError(text("bad_date", ctx.lang, field=text("until", ctx.lang))) from exc
        max_days = self.plugin.options.max_days
        if until <= since or until - since > max_days * 86400 + 3600:  # an hour of slack for a DST change
            raise FormError(text("bad_range", ctx.lang, days=max_days))
        data = await self.plugin.reports.data(since, until, queues=queues, lang=ctx.lang, period=period,
                                              group=group)
        keys = columns_for(group)
        rows = [{k: cell(k, row.get(k), ctx.lang) for k in keys} for row in data.rows]
        form = table([(k, column_label(k, ctx.lang)) for k in keys], rows,
                     title=f"{text('report_title', ctx.lang)} · {range_text(data)}")
        note = summary_line(data.totals, text("report_title", ctx.lang), range_text(data), ctx.lang)
        if not data.convs:
            note = text("no_data", ctx.lang)
        return Done(note, form=form)


def summary_line(totals: dict[str, Any], title: str, range_label: str, lang: str) -> str:
    """A report's totals in one paragraph (chat commands, command notes)."""
    return text("report_chat", lang, title=title, range=range_label, conversations=totals["conversations"],
                bot_share=percent(totals["bot_resolved_share"]), handoff=percent(totals["handoff_rate"]),
                wait_avg=duration(totals["wait_avg"], lang), wait_p90=duration(totals["wait_p90"], lang),
                first=duration(totals["first_response_avg"], lang), handle=duration(totals["handle_avg"], lang),
                abandon=percent(totals["abandonment_rate"]), transfers=totals["transfers"],
                csat=score(totals["csat_avg"]), ratings=totals["csat_count"])


async def monitor_text(plugin: "ReportsPlugin", queues: list[str], lang: str) -> str:
    snap = await plugin.current(queues)
    return as_text(snap, lang, plugin.options.tz, plugin.options.monitor_rows)


def local_day(at: float, tz: Any) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d")


COMMANDS = (MonitorCommand, ReportCommand)
