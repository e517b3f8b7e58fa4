"""Report outputs: the figures of a time range as CSV, JSON or one self-contained HTML page.

:func:`build` gathers everything a report shows from conversations (see
metrics.py); the writers only format. The HTML page has no scripts and loads
nothing: styles inline, charts as inline SVG (charts.py).
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from html import escape
from typing import Any, Sequence

from . import charts
from .metrics import COLUMN_KINDS, columns_for, days_between, hourly_profile, queue_figures, report
from .replay import Conversation
from .texts import cell, column_label, duration, is_zh, percent, score, text

FORMATS = ("csv", "json", "html")


@dataclass
class ReportData:
    since: float
    until: float
    tz: tzinfo
    tz_name: str
    convs: list[Conversation]
    queue: str | None = None
    lang: str = "en"
    period: str = "day"
    group: str = "queue"
    generated_at: float = field(default_factory=time.time)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows asked for (group and period)."""
        return report(self.convs, self.group, self.period, self.tz)

    @property
    def totals(self) -> dict[str, Any]:
        rows = report(self.convs, "total", "all", self.tz)
        return rows[0] if rows else {"period": "", **queue_figures([])}

    @property
    def agents(self) -> list[dict[str, Any]]:
        return report(self.convs, "agent", "all", self.tz)

    @property
    def daily(self) -> list[dict[str, Any]]:
        return report(self.convs, "total", "day", self.tz)

    @property
    def hourly(self) -> list[dict[str, Any]]:
        return hourly_profile(self.convs, self.tz)


def build(convs: Sequence[Conversation], since: float, until: float, tz: tzinfo, tz_name: str,
          queue: str | None = None, lang: str = "en", period: str = "day", group: str = "queue",
          now: float | None = None) -> ReportData:
    return ReportData(since, until, tz, tz_name, list(convs), queue, "zh" if is_zh(lang) else "en", period, group,
                      time.time() if now is None else now)


# -- shared formatting -----------------------------------------------------------------------

def _iso(at: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(at, tz).isoformat()


def _rounded(key: str, value: Any) -> Any:
    """Figures for machines: seconds to 0.1 s, shares to 4 decimals, scores to 2."""
    if not isinstance(value, float):
        return value
    kind = COLUMN_KINDS.get(key)
    if kind == "seconds":
        return round(value, 1)
    if kind == "rate":
        return round(value, 4)
    if kind == "score":
        return round(value, 2)
    return round(value, 4)


def machine_row(row: dict[str, Any], keys: Sequence[str] | None = None) -> dict[str, Any]:
    return {k: _rounded(k, row.get(k)) for k in (keys or row.keys())}


def range_text(data: ReportData) -> str:
    """The range as people say it: whole days show as dates, the end date included."""
    start = datetime.fromtimestamp(data.since, data.tz)
    end = datetime.fromtimestamp(data.until, data.tz)
    midnight = start.time() == end.time() == datetime.min.time()
    if midnight:
        last = datetime.fromtimestamp(data.until - 1, data.tz)
        return text("range", data.lang, since=start.strftime("%Y-%m-%d"), until=last.strftime("%Y-%m-%d"),
                    tz=data.tz_name)
    return text("range", data.lang, since=start.strftime("%Y-%m-%d %H:%M"), until=end.strftime("%Y-%m-%d %H:%M"),
                tz=data.tz_name)


# -- CSV and JSON -------------------------------------------------------------------------------

def to_csv(data: ReportData) -> str:
    """One row per (period, queue | agent | total), headed by the column labels in the report's language.

    Numbers stay numbers: seconds, shares as fractions (0.25), scores; empty when not applicable.
    """
    keys = columns_for(data.group)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([column_label(k, data.lang) for k in keys])
    for row in data.rows:
        clean = machine_row(row, keys)
        writer.writerow(["" if clean[k] is None else clean[k] for k in keys])
    return out.getvalue()


def to_json(data: ReportData) -> str:
    document = {
        "report": {"since": _iso(data.since, data.tz), "until": _iso(data.until, data.tz),
                   "timezone": data.tz_name, "queue": data.queue, "group": data.group, "period": data.period,
                   "generated_at": _iso(data.generated_at, data.tz), "lang": data.lang},
        "totals": machine_row(data.totals, columns_for("total")),
        "rows": [machine_row(r, columns_for(data.group)) for r in data.rows],
        "agents": [machine_row(r, columns_for("agent")) for r in data.agents],
        "daily": [machine_row(r, columns_for("total")) for r in data.daily],
        "hourly": [machine_row(r) for r in data.hourly],
        "columns": {key: column_label(key, data.lang) for key in columns_for("queue") + ["agent"]},
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# -- HTML ------------------------------------------------------------------------------------------

CSS = """
:root { --ink: #1d2733; --muted: #5d6b7a; --line: #dde3ea; --panel: #ffffff; --back: #f3f5f8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--back); color: var(--ink);
       font: 14px/1.45 "Noto Sans", "Noto Sans CJK SC", "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; }
header { background: #1f3b5c; color: #fff; padding: 22px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; opacity: .85; }
main { padding: 20px 32px 40px; max-width: 1240px; }
.kpis { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; margin-bottom: 20px; }
.kpi { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: none; }
.kpi .number { font-size: 22px; font-weight: 600; margin-top: 2px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; margin-bottom: 20px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
.panel svg { width: 100%; height: auto; display: block; }
svg .chart-title { font-size: 15px; font-weight: 600; fill: var(--ink); }
svg .axis, svg .legend-text { font-size: 11px; fill: var(--muted); }
svg .value { font-size: 11px; fill: var(--ink); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis-line { stroke: #9aa7b4; stroke-width: 1; }
h2 { font-size: 17px; margin: 26px 0 8px; }
.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { padding: 6px 9px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #eef2f6; color: var(--muted); font-weight: 600; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
tr:last-child td { border-bottom: none; }
.notes { color: var(--muted); font-size: 12px; margin-top: 18px; }
.empty { color: var(--muted); padding: 12px; }
"""


def _short(seconds: float, lang: str) -> str:
    """Axis labels: 45s, 2.5m, 1.2h (zh: 45秒, 2.5分, 1.2时)."""
    zh = is_zh(lang)
    if seconds < 60:
        return f"{seconds:.0f}{'秒' if zh else 's'}"
    if seconds < 3600:
        return f"{seconds / 60:.1f}".rstrip("0").rstrip(".") + ("分" if zh else "m")
    return f"{seconds / 3600:.1f}".rstrip("0").rstrip(".") + ("时" if zh else "h")


def _table(keys: Sequence[str], rows: Sequence[dict[str, Any]], lang: str, css_class: str) -> str:
    if not rows:
        return f'<div class="table-wrap"><div class="empty">{escape(text("no_data", lang))}</div></div>'
    head = "".join(f'<th class="{"text" if COLUMN_KINDS.get(k) == "text" else "num"}">'
                   f'{escape(column_label(k, lang))}</th>' for k in keys)
    body = []
    for row in rows:
        cells = "".join(f'<td class="{"text" if COLUMN_KINDS.get(k) == "text" else "num"}" data-key="{k}">'
                        f'{escape(cell(k, row.get(k), lang))}</td>' for k in keys)
        body.append(f"<tr>{cells}</tr>")
    return (f'<div class="table-wrap"><table class="{css_class}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _kpis(totals: dict[str, Any], lang: str) -> str:
    tiles = [
        (text("kpi_conversations", lang), str(totals["conversations"]), "conversations"),
        (column_label("bot_resolved_share", lang), percent(totals["bot_resolved_share"]), "bot_resolved_share"),
        (column_label("handoff_rate", lang), percent(totals["handoff_rate"]), "handoff_rate"),
        (column_label("wait_avg", lang), duration(totals["wait_avg"], lang), "wait_avg"),
        (column_label("wait_p90", lang), duration(totals["wait_p90"], lang), "wait_p90"),
        (column_label("first_response_avg", lang), duration(totals["first_response_avg"], lang),
         "first_response_avg"),
        (column_label("handle_avg", lang), duration(totals["handle_avg"], lang), "handle_avg"),
        (column_label("abandonment_rate", lang), percent(totals["abandonment_rate"]), "abandonment_rate"),
        (column_label("transfers", lang), str(totals["transfers"]), "transfers"),
        (column_label("csat_avg", lang), score(totals["csat_avg"]) + (" / 5" if totals["csat_avg"] else ""),
         "csat_avg"),
    ]
    return '<section class="kpis">' + "".join(
        f'<div class="kpi" data-kpi="{key}"><div class="label">{escape(label)}</div>'
        f'<div class="number">{escape(value)}</div></div>' for label, value, key in tiles) + "</section>"


def _outcome(c: Conversation) -> str:
    if c.bot_resolved:
        return "bot"
    if c.abandoned:
        return "abandoned"
    if c.first_accept_at is not None:
        return "answered"
    return "other"


def _charts(data: ReportData) -> list[str]:
    lang = data.lang
    days = days_between(data.since, data.until, data.tz)
    per_day: dict[str, dict[str, float]] = {d: {"answered": 0, "bot": 0, "abandoned": 0, "other": 0} for d in days}
    for c in data.convs:
        key = datetime.fromtimestamp(c.started_at, data.tz).strftime("%Y-%m-%d")
        per_day.setdefault(key, {"answered": 0, "bot": 0, "abandoned": 0, "other": 0})[_outcome(c)] += 1
    labels = sorted(per_day)
    shown = [d[5:] for d in labels]  # MM-DD: the year is in the header
    volume = charts.stacked_bars("volume", text("chart_volume", lang), shown, [
        (text("series_answered", lang), [per_day[d]["answered"] for d in labels]),
        (text("series_bot", lang), [per_day[d]["bot"] for d in labels]),
        (text("series_abandoned", lang), [per_day[d]["abandoned"] for d in labels]),
        (text("series_other", lang), [per_day[d]["other"] for d in labels]),
    ], colours=("#2f6db5", "#3a9d5d", "#c94c4c", "#9aa7b4"))
    hourly = data.hourly
    by_hour = charts.stacked_bars("hourly", text("chart_hourly", lang), [f"{h['hour']:02d}" for h in hourly],
                                  [(text("kpi_conversations", lang), [h["conversations"] for h in hourly])])
    fmt = lambda v: _short(v, lang)  # noqa: E731
    if len(labels) >= 2:
        daily = {r["period"]: r for r in data.daily}
        wait = charts.lines("wait", text("chart_wait", lang), shown, [
            (text("series_wait_avg", lang), [daily[d]["wait_avg"] if d in daily else None for d in labels]),
            (text("series_wait_p90", lang), [daily[d]["wait_p90"] if d in daily else None for d in labels]),
        ], colours=("#2f6db5", "#d9822b"), fmt=fmt, durations=True)
    else:
        rows = {r["period"][-5:-3]: r for r in report(data.convs, "total", "hour", data.tz)}
        hours = [f"{h:02d}" for h in range(24)]
        wait = charts.lines("wait", text("chart_wait_hourly", lang), hours, [
            (text("series_wait_avg", lang), [rows[h]["wait_avg"] if h in rows else None for h in hours]),
            (text("series_wait_p90", lang), [rows[h]["wait_p90"] if h in rows else None for h in hours]),
        ], colours=("#2f6db5", "#d9822b"), fmt=fmt, durations=True, bridge=True)
    totals = data.totals
    csat = charts.distribution("csat", text("chart_csat", lang) + (
        f" · {score(totals['csat_avg'])} / 5" if totals["csat_avg"] else ""),
        [totals[f"csat_{i}"] for i in range(1, 6)], labels=["★1", "★2", "★3", "★4", "★5"],
        note=text("no_ratings", lang))
    agents = data.agents
    names = [r["agent"] for r in agents]
    handled = charts.hbars("agents", text("chart_agents", lang), names, [r["conversations"] for r in agents],
                           note=text("no_data", lang), fmt=lambda v: f"{v:.0f}")
    handle = charts.hbars("handle", text("chart_handle", lang), names,
                          [r["handle_avg"] or 0.0 for r in agents], colour="#8e5ab5",
                          note=text("no_data", lang), fmt=lambda v: duration(v, lang))
    return [volume, by_hour, wait, csat, handled, handle]


def to_html(data: ReportData) -> str:
    lang = data.lang
    title = text("report_title", lang)
    scope = text("scope_queue", lang, queue=data.queue) if data.queue else text("scope_all", lang)
    generated = text("generated", lang, time=datetime.fromtimestamp(data.generated_at, data.tz).strftime(
        "%Y-%m-%d %H:%M"))
    panels = "".join(f'<div class="panel">{svg}</div>' for svg in _charts(data))
    period = data.period if data.period in ("day", "week") else "all"
    queue_keys = [k for k in columns_for("queue") if period != "all" or k != "period"]
    rows_by_queue = report(data.convs, "queue", period, data.tz)
    agent_keys = [k for k in columns_for("agent") if k != "period"]
    sections = [
        f'<h2>{escape(text("table_queues", lang))}</h2>', _table(queue_keys, rows_by_queue, lang, "by-queue"),
        f'<h2>{escape(text("table_agents", lang))}</h2>', _table(agent_keys, data.agents, lang, "by-agent"),
        f'<h2>{escape(text("table_days", lang))}</h2>', _table(columns_for("total"), data.daily, lang, "by-day"),
    ]
    return (f'<!DOCTYPE html>\n<html lang="{"zh" if is_zh(lang) else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)} · {escape(range_text(data))}</title><style>{CSS}</style></head><body>'
            f'<header><h1>{escape(title)}</h1><p>{escape(scope)} · {escape(range_text(data))} · '
            f'{escape(generated)}</p></header><main>'
            f'{_kpis(data.totals, lang)}<section class="charts">{panels}</section>{"".join(sections)}'
            f'<p class="notes">{escape(text("notes", lang))}</p></main></body></html>\n')


def render(data: ReportData, fmt: str) -> str:
    if fmt == "csv":
        return to_csv(data)
    if fmt == "json":
        return to_json(data)
    if fmt == "html":
        return to_html(data)
    raise ValueError(f"unknown format {fmt!r}")

