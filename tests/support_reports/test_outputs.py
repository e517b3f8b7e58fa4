"""CSV, JSON and HTML outputs of the scripted day; the HTML page rendered by a real headless chromium."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from plugins.support_reports import charts
from plugins.support_reports.replay import conversations
from plugins.support_reports.render import build, to_csv, to_html, to_json

from . import browser
from .day import A1, A2, A3, DAY, HELP_DAY, NEXT_DAY, SALES_DAY, TOTAL_DAY, script

UTC = ZoneInfo("UTC")


def day_data(lang: str = "en", group: str = "queue", period: str = "day", since: float = DAY,
             until: float = NEXT_DAY):
    convs = [c for c in conversations(script()) if since <= c.started_at < until]
    return build(convs, since, until, UTC, "UTC", None, lang, period, group, now=NEXT_DAY)


class Page(HTMLParser):
    """Collects what the checks need from an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.charts: list[str] = []
        self.bars = 0
        self.points = 0
        self.kpis: dict[str, str] = {}
        self.cells: dict[str, list[str]] = {}
        self.urls: list[str] = []
        self._kpi: str | None = None
        self._in_number = False
        self._cell: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        if tag == "svg":
            self.charts.append(a.get("data-chart", ""))
        if a.get("class") == "bar":
            self.bars += 1
        if a.get("class") == "point":
            self.points += 1
        if a.get("data-kpi"):
            self._kpi = a["data-kpi"]
        if a.get("class") == "number" and self._kpi:
            self._in_number = True
        if tag == "td" and a.get("data-key"):
            self._cell = a["data-key"]
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(a[key])

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._in_number and self._kpi:
            self.kpis[self._kpi] = data
            self._in_number = False
            self._kpi = None
        if self._cell:
            self.cells.setdefault(self._cell, []).append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def test_csv_rows_are_the_known_figures():
    text = to_csv(day_data())
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:5] == ["Period", "Queue", "Conversations", "With bot", "Bot-resolved"]
    assert len(table) == 3
    rows = [dict(zip(table[0], r)) for r in table[1:]]
    help_row, sales_row = rows
    assert help_row["Queue"] == "help" and help_row["Conversations"] == "8"
    assert float(help_row["Average wait"]) == HELP_DAY["wait_avg"]
    assert float(help_row["90th percentile wait"]) == HELP_DAY["wait_p90"]
    assert float(help_row["First response"]) == HELP_DAY["first_response_avg"]
    assert float(help_row["Handle time"]) == HELP_DAY["handle_avg"]
    assert float(help_row["Abandonment rate"]) == pytest.approx(1 / 6, abs=1e-4)
    assert float(help_row["Bot-resolved share"]) == 0.125 and float(help_row["Hand-off rate"]) == 0.5
    assert help_row["CSAT average"] == "3.67" and [help_row[f"CSAT {i}"] for i in range(1, 6)] == \
        ["0", "1", "0", "1", "1"]
    assert sales_row["Hand-off rate"] == "" and float(sales_row["Average wait"]) == SALES_DAY["wait_avg"]
    # Per agent, in Chinese: no queue-only columns, Chinese headers.
    agents = list(csv.reader(io.StringIO(to_csv(day_data("zh", group="agent", period="all")))))
    assert agents[0][:3] == ["时段", "客服", "会话数"] and "放弃率" not in agents[0]
    assert [r[1] for r in agents[1:]] == [A1, A2, A3]


def test_json_document():
    doc = json.loads(to_json(day_data("zh")))
    assert doc["report"]["since"] == "2026-11-20T00:00:00+00:00" and doc["report"]["lang"] == "zh"
    totals = doc["totals"]
    for key in ("conversations", "bot", "bot_resolved", "handed_off", "queued", "answered", "abandoned",
                "transfers", "csat_count", "csat_2", "csat_5"):
        assert totals[key] == TOTAL_DAY[key], key
    assert totals["wait_avg"] == pytest.approx(TOTAL_DAY["wait_avg"], abs=0.05)
    assert totals["handle_avg"] == pytest.approx(TOTAL_DAY["handle_avg"], abs=0.05)
    assert totals["csat_avg"] == 3.5 and totals["abandonment_rate"] == 0.25
    assert [(r["queue"], r["conversations"]) for r in doc["rows"]] == [("help", 8), ("sales", 2)]
    assert {r["agent"]: r["transfers"] for r in doc["agents"]} == {A1: 0, A2: 1, A3: 0}
    assert doc["daily"][0]["period"] == "2026-11-20" and len(doc["hourly"]) == 24
    assert doc["columns"]["wait_p90"] == "90%等待"


def test_html_is_self_contained_with_charts_and_numbers():
    html = to_html(day_data())
    page = parse(html)
    assert page.charts == ["volume", "hourly", "wait", "csat", "agents", "handle"]
    assert page.tags["script"] == 0 and page.tags["link"] == 0 and page.tags["img"] == 0
    assert page.urls == []  # nothing loaded from anywhere
    assert page.kpis["conversations"] == "10"
    assert page.kpis["wait_avg"] == "3 min 12 s" and page.kpis["wait_p90"] == "10 min 00 s"
    assert page.kpis["abandonment_rate"] == "25.0%" and page.kpis["csat_avg"] == "3.50 / 5"
    # One day: one stacked bar of 4 outcomes (6 answered, 1 bot, 2 abandoned, 1 other), a bar for each of
    # the 7 hours with conversations (9, 10, 11, 13, 14, 15, 16), 5 CSAT bars (one of zero height),
    # 3 + 3 agent bars.
    assert page.bars == 4 + 7 + 5 + 6
    assert page.points == 5 + 5  # average and p90 wait in the 5 hours with answered conversations
    assert page.cells["queue"][:2] == ["help", "sales"]
    zh = parse(to_html(day_data("zh")))
    assert zh.kpis["wait_avg"] == "3分12秒" and "客服报表" in to_html(day_data("zh"))


def test_chart_scales():
    assert charts.nice_max(10) == (10, 2.5)
    assert charts.nice_max(0) == (1.0, 0.25)
    assert charts.nice_max(3) == (3, 1)
    assert charts.nice_max(10, integer=True) == (10, 5) and charts.nice_max(1, integer=True) == (1, 1)
    assert charts.nice_max(0, integer=True) == (4.0, 1.0)
    assert charts.nice_duration_max(600) == (600, 300.0)
    assert charts.nice_duration_max(110) == (120, 30.0)
    svg = charts.hbars("x", "<Agents & co>", ["a<b"], [3.0])
    assert "&lt;Agents &amp; co&gt;" in svg and "a&lt;b" in svg


@pytest.mark.timeout(900)  # only when chromium has to be installed first
def test_html_report_renders_in_a_headless_browser(tmp_path):
    binary = browser.chromium()
    page_file = tmp_path / "report.html"
    page_file.write_text(to_html(day_data()), encoding="utf-8")
    dumped = browser.run(binary, page_file, tmp_path / "profile-dom", "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    assert dom.charts == ["volume", "hourly", "wait", "csat", "agents", "handle"]
    assert dom.kpis["conversations"] == "10" and dom.kpis["handle_avg"] == "12 min 43 s"
    assert dom.bars == 22 and dom.points == 10

    shot = tmp_path / "report.png"
    taken = browser.run(binary, page_file, tmp_path / "profile-shot", f"--screenshot={shot}",
                        "--window-size=1200,1600", "--hide-scrollbars")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert shot.stat().st_size > 30_000  # a blank page of this size compresses to a few kB
    width, height, rows = browser.read_png(shot)
    assert (width, height) == (1200, 1600)
    pixels: Counter[bytes] = Counter()
    for row in rows[::4]:
        for x in range(0, len(row), 12):
            pixels[row[x:x + 3]] += 1
    total = sum(pixels.values())
    assert len(pixels) > 100, "the page looks blank"
    assert pixels.most_common(1)[0][1] / total < 0.8
    header = bytes.fromhex("1f3b5c")
    assert rows[20][:3] == header  # the report's header band is drawn
    for colour in ("2f6db5", "3a9d5d", "c94c4c", "8e5ab5"):  # answered, bot/5 stars, abandoned, handle bars
        assert pixels[bytes.fromhex(colour)] > 20, f"no {colour} marks on the page"
