"""Reports over the events the real support engine records, and ``switchboard report`` on that database."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from component.cli import main
from component.storage import Database
from plugins.support.store import SupportStore
from plugins.support_reports.service import Reports

from .. import harness
from .recorded import AGENT_A, AGENT_C, DAY, HELP, NEXT_DAY, A, C, record_day

UTC = ZoneInfo("UTC")


def same(row: dict, expected: dict) -> None:
    for key, value in expected.items():
        if value is None:
            assert row[key] is None, key
        else:
            assert row[key] == pytest.approx(value), key


async def test_report_figures_from_the_engines_records(tmp_path):
    url = harness.database_url(tmp_path)
    await record_day(url)
    db = Database(url)
    try:
        reports = Reports(SupportStore(db).ticket_events, UTC, "UTC")
        data = await reports.data(DAY, NEXT_DAY, period="day", group="queue")
        assert [(r["period"], r["queue"]) for r in data.rows] == [("2026-11-20", "help")]
        same(data.rows[0], HELP)
        agents = {r["agent"]: r for r in data.agents}
        assert sorted(agents) == [A, C]
        same(agents[A], AGENT_A)
        same(agents[C], AGENT_C)
        # Per queue filter and the day before: nothing.
        assert (await reports.data(DAY, NEXT_DAY, "sales")).rows == []
        assert (await reports.data(DAY - 86400, DAY)).convs == []
    finally:
        await db.close()


def write_config(tmp_path, url: str, timezone: str = "UTC") -> str:
    path = tmp_path / "switchboard.toml"
    path.write_text("\n".join([
        f"state_dir = {harness.toml_value(str(tmp_path / 'state'))}",
        "[database]", f"url = {harness.toml_value(url)}",
        "[[services]]", 'domain = "support.localhost"', 'secret = "s"',
        "[services.plugins.mam]",
        "[services.plugins.support]",
        'queues = [{name = "help", supervisors = ["sue@localhost"]}, {name = "sales"}]',
        "[services.plugins.support_reports]", f"timezone = {harness.toml_value(timezone)}",
    ]) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def recorded(tmp_path):
    url = harness.database_url(tmp_path)
    asyncio.run(record_day(url))
    return migrated(write_config(tmp_path, url))


def migrated(config: str) -> str:
    """The other plugins' tables too, as a component run would have left the database."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["migrate", "-c", config]) == 0
    assert "mam              schema version 1: migrated 0 -> 1" in out.getvalue()
    return config


def test_cli_csv_json_html(recorded, tmp_path, capsys):
    assert main(["report", "--config", recorded, "--since", "2026-11-20", "--until", "2026-11-20"]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert table[0][:3] == ["Period", "Queue", "Conversations"]
    row = dict(zip(table[0], table[1]))
    assert len(table) == 2 and row["Queue"] == "help" and row["Conversations"] == "5"
    assert float(row["Average wait"]) == 100.0 and float(row["Handle time"]) == HELP["handle_avg"]
    assert float(row["Abandonment rate"]) == 0.25 and row["CSAT average"] == "3.0"

    assert main(["report", "-c", recorded, "--since", "2026-11-20", "--until", "2026-11-21", "--format", "json",
                 "--group", "agent", "--period", "all", "--lang", "zh"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["report"]["until"] == "2026-11-22T00:00:00+00:00" and doc["report"]["lang"] == "zh"
    assert [(r["agent"], r["conversations"], r["handle_avg"]) for r in doc["rows"]] == [
        (A, 3, AGENT_A["handle_avg"]), (C, 1, AGENT_C["handle_avg"])]
    assert doc["totals"]["bot_resolved"] == 1 and doc["totals"]["transfers"] == 1

    out = tmp_path / "report.html"
    assert main(["report", "-c", recorded, "--since", "2026-11-20", "--until", "2026-11-20", "--format", "html",
                 "--output", str(out), "--queue", "help"]) == 0
    assert "wrote" in capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 6
    assert 'data-kpi="conversations"><div class="label">Conversations</div><div class="number">5<' in html
    assert "Queue help" in html


def test_cli_time_zone_moves_the_day(tmp_path, capsys):
    url = harness.database_url(tmp_path)
    asyncio.run(record_day(url))
    # In Honolulu (UTC-10) t1 and t2 (09:00, 09:30 UTC) start on the 19th, t3, t4 and t1 reopened
    # (10:00, 10:30, 13:00) on the 20th.
    config = migrated(write_config(tmp_path, url, "Pacific/Honolulu"))
    assert main(["report", "-c", config, "--since", "2026-11-19", "--until", "2026-11-20", "--format", "json",
                 "--group", "total"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["report"]["timezone"] == "Pacific/Honolulu"
    assert doc["report"]["since"] == "2026-11-19T00:00:00-10:00"
    assert [(r["period"], r["conversations"], r["bot_resolved"], r["abandoned"], r["transfers"])
            for r in doc["rows"]] == [("2026-11-19", 2, 0, 0, 1), ("2026-11-20", 3, 1, 1, 0)]
    assert main(["report", "-c", config, "--since", "2026-11-21", "--format", "json", "--until", "2026-11-21"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == []


def test_cli_refusals(recorded, tmp_path, capsys):
    assert main(["report", "-c", recorded, "--since", "20/11/2026"]) == 1
    assert "invalid date" in capsys.readouterr().err
    assert main(["report", "-c", recorded, "--since", "2026-11-21", "--until", "2026-11-20"]) == 1
    assert "--until must be after --since" in capsys.readouterr().err
    assert main(["report", "-c", recorded, "--tz", "Mars/Olympus"]) == 1
    assert "unknown time zone" in capsys.readouterr().err
    assert main(["report", "-c", recorded, "--queue", "nowhere"]) == 1
    assert "no queue nowhere" in capsys.readouterr().err
    # Rights of the acting account, as the ad-hoc report applies them.
    assert main(["report", "-c", recorded, "--as", "carol@localhost"]) == 1
    assert "carol@localhost supervises no queue" in capsys.readouterr().err
    assert main(["report", "-c", recorded, "--as", "sue@localhost", "--queue", "sales"]) == 1
    assert "sue@localhost does not supervise the queue sales" in capsys.readouterr().err
    assert main(["report", "-c", recorded, "--as", "sue@localhost", "--since", "2026-11-20", "--until",
                 "2026-11-20", "--format", "json", "--group", "total"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["conversations"] == 5
    other = tmp_path / "other"
    other.mkdir()
    missing = write_config(other, f"sqlite+aiosqlite:///{other / 'missing.db'}")
    assert main(["report", "-c", missing]) == 1
    assert "no database at" in capsys.readouterr().err
    sqlite3.connect(other / "empty.db").close()
    empty = write_config(other, f"sqlite+aiosqlite:///{other / 'empty.db'}")
    assert main(["report", "-c", empty]) == 1
    assert "run `switchboard migrate`" in capsys.readouterr().err
    assert main(["report", "-c", str(tmp_path / "nope.toml")]) == 2
