"""Inline SVG charts for the HTML report: no scripts, no fonts or files from elsewhere.

Each function returns one ``<svg>`` element as text, sized by its viewBox so
it scales with the page; every mark carries a ``<title>`` (hover shows the
figure) and the values are also printed, so the chart reads without a mouse.
"""

from __future__ import annotations

import math
from html import escape
from typing import Callable, Sequence

PALETTE = ("#2f6db5", "#3a9d5d", "#d9822b", "#8e5ab5", "#c94c4c", "#5aa9b5", "#9a8f3a")
CSAT_COLOURS = ("#c94c4c", "#e08a3c", "#d8c23a", "#8cbf4a", "#3a9d5d")
Format = Callable[[float], str]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_max(value: float, integer: bool = False) -> tuple[float, float]:
    """A round axis maximum at or above ``value`` and its tick step (about 4-5 ticks).

    ``integer``: counts, so ticks fall on whole numbers.
    """
    if value <= 0:
        return (4.0, 1.0) if integer else (1.0, 0.25)
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in ((1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)):
        step = factor * magnitude
        if step >= raw:
            break
    if integer:
        step = max(1, round(step))
    top = math.ceil(value / step) * step
    return top, step


#: Tick steps for durations in seconds: whole seconds, minutes and hours.
DURATION_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def nice_duration_max(value: float) -> tuple[float, float]:
    """Like :func:`nice_max` for seconds: ticks fall on round seconds, minutes or hours."""
    if value <= 0:
        return 60.0, 15.0
    raw = value / 4
    step = next((s for s in DURATION_STEPS if s >= raw), None)
    if step is None:
        return nice_max(value)
    return math.ceil(value / step) * step, float(step)


def _open(kind: str, title: str, width: int, height: int) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(kind)}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape(title)}">',
            f'<title>{escape(title)}</title>',
            f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" class="chart-title">{escape(title)}</text>']


def _legend(names: Sequence[str], colours: Sequence[str], x: float, y: float) -> list[str]:
    parts = []
    for i, (name, colour) in enumerate(zip(names, colours)):
        parts.append(f'<g class="legend" transform="translate({x + i * 150:.0f},{y:.0f})">'
                     f'<rect width="12" height="12" fill="{colour}"/>'
                     f'<text x="17" y="11" class="legend-text">{escape(name)}</text></g>')
    return parts


def _y_axis(left: float, top: float, plot_w: float, plot_h: float, ymax: float, step: float,
            fmt: Format) -> list[str]:
    parts = []
    ticks = int(round(ymax / step))
    for i in range(ticks + 1):
        value = step * i
        y = top + plot_h - plot_h * value / ymax
        parts.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
                     f'{escape(fmt(value))}</text>')
    parts.append(f'<line x1="{left:.1f}" y1="{top + plot_h:.1f}" x2="{left + plot_w:.1f}" '
                 f'y2="{top + plot_h:.1f}" class="axis-line"/>')
    return parts


def _label_every(count: int, room: float) -> int:
    """Show every n-th category label so they do not overlap (about 46 px per label)."""
    return max(1, math.ceil(count * 46 / max(room, 1)))


def stacked_bars(kind: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
                 colours: Sequence[str] = PALETTE, width: int = 560, height: int = 300,
                 fmt: Format = _num) -> str:
    """Vertical bars, one per label, stacking the series; the total is printed above each bar."""
    left, right, top, bottom = 48, 12, 46, 62
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values[i] for _name, values in series) for i in range(len(labels))]
    ymax, step = nice_max(max(totals, default=0), integer=True)
    parts = _open(kind, title, width, height)
    parts += _y_axis(left, top, plot_w, plot_h, ymax, step, fmt)
    slot = plot_w / max(len(labels), 1)
    bar_w = max(2.0, min(48.0, slot * 0.7))
    every = _label_every(len(labels), plot_w)
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        base = top + plot_h
        for (name, values), colour in zip(series, colours):
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / ymax
            base -= h
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape(label)} · {escape(name)}: {escape(fmt(value))}'
                         f'</title></rect>')
        if totals[i] > 0 and (slot >= 20 or i % every == 0):  # crowded: the total of every n-th bar
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{base - 4:.1f}" text-anchor="middle" '
                         f'class="value">{escape(fmt(totals[i]))}</text>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle" '
                         f'class="axis">{escape(label)}</text>')
    parts += _legend([name for name, _ in series], colours, left, height - 22)
    parts.append("</svg>")
    return "".join(parts)


def lines(kind: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
          colours: Sequence[str] = PALETTE, width: int = 560, height: int = 300, fmt: Format = _num,
          durations: bool = False, bridge: bool = False) -> str:
    """Lines over the labels; every point is marked and titled.

    A missing value (None) breaks the line, or is stepped over with ``bridge``;
    ``durations``: the values are seconds (ticks on round minutes or hours).
    """
    left, right, top, bottom = 64, 16, 46, 62
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [v for _name, values in series for v in values if v is not None]
    ymax, step = (nice_duration_max if durations else nice_max)(max(known, default=0))
    parts = _open(kind, title, width, height)
    parts += _y_axis(left, top, plot_w, plot_h, ymax, step, fmt)
    n = len(labels)
    xs = [left + (plot_w * (i + 0.5) / n if n else 0) for i in range(n)]
    every = _label_every(n, plot_w)
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(f'<text x="{xs[i]:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle" '
                         f'class="axis">{escape(label)}</text>')
    # The first series is drawn last, so it stays visible where the lines meet.
    for (name, values), colour in reversed(list(zip(series, colours))):
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, value in enumerate(values):
            if value is None:
                if segment and not bridge:
                    segments.append(segment)
                    segment = []
                continue
            y = top + plot_h - plot_h * value / ymax
            segment.append(f"{xs[i]:.1f},{y:.1f}")
            parts.append(f'<circle class="point" cx="{xs[i]:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                         f'<title>{escape(labels[i])} · {escape(name)}: {escape(fmt(value))}</title></circle>')
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline class="line" fill="none" stroke="{colour}" stroke-width="2.5" '
                             f'points="{" ".join(seg)}"/>')
    parts += _legend([name for name, _ in series], colours, left, height - 22)
    parts.append("</svg>")
    return "".join(parts)


def hbars(kind: str, title: str, labels: Sequence[str], values: Sequence[float], colour: str = PALETTE[0],
          width: int = 560, fmt: Format = _num, note: str = "") -> str:
    """Horizontal bars, one per label (agent comparison); the value is printed at the end of the bar."""
    left, right, top = 170, 110, 40
    row_h = 28
    height = top + row_h * max(len(labels), 1) + 20
    plot_w = width - left - right
    vmax = max(values, default=0) or 1.0
    parts = _open(kind, title, width, height)
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + row_h * i
        w = plot_w * value / vmax
        shown = label if len(label) <= 24 else label[:23] + "…"
        parts.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" class="axis">{escape(shown)}</text>')
        parts.append(f'<rect class="bar" x="{left}" y="{y + 4}" width="{max(w, 1.0):.1f}" height="{row_h - 8}" '
                     f'fill="{colour}"><title>{escape(label)}: {escape(fmt(value))}</title></rect>')
        parts.append(f'<text x="{left + max(w, 1.0) + 6:.1f}" y="{y + 17}" class="value">'
                     f'{escape(fmt(value))}</text>')
    if not labels and note:
        parts.append(f'<text x="{width / 2:.0f}" y="{top + 20}" text-anchor="middle" class="axis">'
                     f'{escape(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def distribution(kind: str, title: str, counts: Sequence[int], labels: Sequence[str] = ("1", "2", "3", "4", "5"),
                 colours: Sequence[str] = CSAT_COLOURS, width: int = 560, height: int = 300,
                 note: str = "") -> str:
    """Bars for the 1-5 ratings, each with its count and share."""
    left, right, top, bottom = 48, 12, 46, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    total = sum(counts)
    ymax, step = nice_max(max(counts, default=0), integer=True)
    parts = _open(kind, title, width, height)
    parts += _y_axis(left, top, plot_w, plot_h, ymax, step, lambda v: _num(v))
    slot = plot_w / max(len(counts), 1)
    bar_w = slot * 0.6
    for i, (count, label, colour) in enumerate(zip(counts, labels, colours)):
        x = left + slot * i + (slot - bar_w) / 2
        h = plot_h * count / ymax
        y = top + plot_h - h
        share = f"{count * 100 / total:.0f}%" if total else "0%"
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                     f'fill="{colour}"><title>{escape(label)}: {count} ({share})</title></rect>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" class="value">'
                     f'{count} · {share}</text>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle" '
                     f'class="axis">{escape(label)}</text>')
    if not total and note:
        parts.append(f'<text x="{width / 2:.0f}" y="{top + plot_h / 2:.0f}" text-anchor="middle" '
                     f'class="axis">{escape(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)
