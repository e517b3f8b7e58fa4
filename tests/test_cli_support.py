"""``switchboard queues`` and ``switchboard tickets`` on a day the real support engine recorded."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from . import harness
from .support_reports.recorded import A, C, record_day
from .test_cli_commands import run

DOMAIN = "support.localhost"


@pytest.fixture
def recorded(tmp_path: Path) -> str:
    url = harness.database_url(tmp_path)
    asyncio.run(record_day(url))
    services = {DOMAIN: {"mam": {}, "support": {"queues": [
        {"name": "help", "agents": [A, "b@x"], "supervisors": ["sue@x"]},
        {"name": "sales", "agents": [C]}]}}}
    path = tmp_path / "switchboard.toml"
    path.write_text(harness.make_config_text(5347, services, tmp_path / "state", url,
                                             admins=(f"admin@{harness.HOST}",)), encoding="utf-8")
    path.chmod(0o600)
    assert run("migrate", "-c", str(path))[0] == 0
    return str(path)


def test_queues_list_and_show(recorded):
    code, out, err = run("queues", "list", "--json", "-c", recorded)
    assert code == 0, err
    rows = {r["queue"]: r for r in json.loads(out)}
    assert set(rows) == {"help", "sales"}
    assert rows["help"]["jid"] == f"help@{DOMAIN}" and rows["help"]["agents"] == 2
    code, out, _ = run("queues", "show", "help", "-c", recorded)
    assert code == 0 and "queue: help" in out and "agents:" in out and A in out
    # An agent sees only their queues; others are refused.
    code, out, _ = run("queues", "list", "--json", "-c", recorded, "--as", C)
    assert code == 0 and [r["queue"] for r in json.loads(out)] == ["sales"]
    code, _, err = run("queues", "show", "help", "-c", recorded, "--as", C)
    assert code == 1 and "neither an agent nor a supervisor of the queue help" in err
    code, _, err = run("queues", "list", "-c", recorded, "--as", "nobody@x")
    assert code == 1 and "serves no queue" in err
    code, _, err = run("queues", "show", "nowhere", "-c", recorded)
    assert code == 1 and "no queue nowhere" in err


def test_tickets_list_show_export(recorded, tmp_path):
    code, out, err = run("tickets", "list", "--json", "-c", recorded)
    assert code == 0, err
    listed = json.loads(out)
    assert len(listed) == 4 and {t["queue"] for t in listed} == {"help", "sales"}
    transferred = next(t for t in listed if t["queue"] == "sales")
    code, out, _ = run("tickets", "list", "--json", "--status", "abandoned", "-c", recorded)
    assert [t["status"] for t in json.loads(out)] == ["abandoned"]

    code, out, _ = run("tickets", "show", transferred["ticket"], "--json", "-c", recorded)
    shown = json.loads(out)
    kinds = [e["kind"] for e in shown["events"]]
    assert code == 0 and "transferred" in kinds and kinds[0] == "created" and shown["rating"] == 2

    target = tmp_path / "tickets.json"
    code, _, err = run("tickets", "export", "--since", "2026-11-20", "--until", "2026-11-20", "-o", str(target),
                       "-c", recorded)
    assert code == 0 and "exported 4 ticket(s)" in err
    exported = json.loads(target.read_text())["tickets"]
    assert sorted(t["ticket"] for t in exported) == sorted(t["ticket"] for t in listed)
    assert all(t["events"] for t in exported)
    code, out, _ = run("tickets", "export", "--format", "csv", "--since", "2026-11-21", "-c", recorded)
    assert code == 0 and list(csv.reader(io.StringIO(out)))[1:] == []

    # Rights: the sales agent sees the transferred ticket only; help's tickets do not exist for them.
    code, out, _ = run("tickets", "list", "--json", "-c", recorded, "--as", C)
    assert [t["ticket"] for t in json.loads(out)] == [transferred["ticket"]]
    other = next(t["ticket"] for t in listed if t["queue"] == "help")
    code, _, err = run("tickets", "show", other, "-c", recorded, "--as", C)
    assert code == 1 and f"no ticket {other}" in err
    code, _, err = run("tickets", "list", "--queue", "help", "-c", recorded, "--as", C)
    assert code == 1 and "neither an agent nor a supervisor" in err
    # A supervisor of help sees help's tickets, the one transferred away included (it came in there).
    code, out, _ = run("tickets", "list", "--json", "--queue", "help", "-c", recorded, "--as", "sue@x")
    assert code == 0 and len(json.loads(out)) == 4

    for args, message in ((("tickets", "list", "--limit", "0"), "--limit is between 1 and 500"),
                          (("tickets", "list", "--tag", "bad tag!"), "tags are"),
                          (("tickets", "export", "--since", "20/11/2026"), "not a date"),
                          (("tickets", "export", "--since", "2026-11-21", "--until", "2026-11-20"), "--until"),
                          (("tickets", "show", "nope"), "no ticket nope")):
        code, _, err = run(*args, "-c", recorded)
        assert code == 1 and message in err, (args, err)
