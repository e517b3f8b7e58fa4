"""The benchmark harness in its tiniest mode, so it cannot rot (no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_bench_tiny_runs_every_scenario_and_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "bench", "--tiny", "--no-install", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=220)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [data_file] = out.glob("*_tiny.json")
    results = json.loads(data_file.read_text())
    assert "error" not in results
    # Every scenario ran on both sides and nothing was lost.
    for block in results["fanout"].values():
        for side in ("native", "ours"):
            assert block["runs"][side], side
            assert all(run["lost"] == 0 and run["received"] > 0 for run in block["runs"][side])
    shapes = results["archive_cost"]["shapes"]
    assert list(shapes) == ["4x2"]
    for cost in shapes.values():
        assert all(run["lost"] == 0 and run["received"] > 0 for runs in cost["runs"].values() for run in runs)
        # Each room was configured as labelled: the archive holds messages of the "on" room only.
        assert cost["archived_probe"]["off"]["forwarded"] == 0 and cost["archived_probe"]["on"]["forwarded"] > 0
        assert cost["throughput_ratio"] > 0
        # Side by side, each room's deliveries are counted apart: both rooms delivered, nothing lost.
        for run in cost["side_by_side"]:
            assert run["lost"] == 0 and run["off_deliveries_per_s"] > 0 and run["on_deliveries_per_s"] > 0
        assert cost["component_us_per_message"]["on"] > 0
    assert results["archive_cost"]["throughput_ratio"] == min(c["throughput_ratio"] for c in shapes.values())
    assert results["ceiling"]["lost"] == 0 and results["ceiling"]["deliveries_per_s"] > 0
    assert all(run["lost"] == 0 for runs in results["paced"]["runs"].values() for run in runs)
    for block in results["mam"]["sizes"].values():
        assert set(block["median"]) == {"native", "ours"}
    assert results["mam"]["fill"]
    assert set(results["joins"]["sizes"]) == {"3"}
    assert results["idle_rooms"]["ours"]["rss_after_restart"] > 0
    support = results["support"]
    if "skipped" not in support:
        # Two agents with three chats, eight customers: six first offers fill the agents, two follow
        # closes (counted from the close, or from the agent's last answer when that came later: a
        # slow machine); every customer was told their place; the figures are real numbers.
        assert support["offered"] == support["customers"] == 8, support
        assert support["first_offers"] == 6 and support["after_close_offers"] >= 1, support
        assert support["after_close_offers"] + support["after_answer_offers"] == 2, support
        assert support["first_offer_p99_ms"] >= support["first_offer_p50_ms"] > 0
        assert support["after_close_p99_ms"] >= support["after_close_p50_ms"] > 0
        assert support["never_told_position"] == 0 and support["position_max_ms"] > 0
        # The component timed its own share of every offer, from the stanza that allowed it.
        delay = support["component_offer_delay"]
        assert delay["offers"] == 8 and 0 <= delay["within_20ms"] <= delay["within_50ms"] <= 1, delay
        # The same storm with website visitors (anonymous guests of the guest host).
        guests = support["guests"]
        assert guests["offered"] == 8 and guests["first_offers"] == 6, guests
        assert guests["after_close_offers"] + guests["after_answer_offers"] == 2, guests
        assert guests["never_told_position"] == 0 and guests["position_max_ms"] > 0
        # What limited the run is told by each side's CPU: the server and the component worked.
        assert support["cpu_share_of_a_core"]["prosody"] > 0 and support["cpu_share_of_a_core"]["component"] > 0
        # And phase by phase: the server alone, timed by a client of its own, and each side's CPU.
        probe, by_phase = support["server_probe"], support["cpu_by_phase"]
        assert set(probe) == set(by_phase) == {"customers_joining", "first_offers", "after_closes"}
        assert probe["after_closes"]["samples"] > 0 and probe["after_closes"]["p99_ms"] > 0, probe
        assert set(by_phase["after_closes"]) == {"prosody", "component", "loadgen", "machine"}, by_phase
    table = (out / "latest.md").read_text()
    assert "| scenario | native | ours |" in table and "MUC fan-out" in table
    assert "## Archiving cost" in table
    if "skipped" not in support:
        assert "| accounts | offers after closes |" in table


def test_submitted_forms_parse_in_a_fresh_process() -> None:
    """A component process has no slixmpp client plugin loaded: forms must still read (rooms become persistent)."""
    code = ("import xml.etree.ElementTree as ET\n"
            "from component.forms import Form, values\n"
            "x = ET.fromstring(\"<x xmlns='jabber:x:data' type='submit'><field var='a'><value>1</value></field>"
            "</x>\")\n"
            "print(values(Form(xml=x), {'a': 'boolean'}))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "{'a': True}", proc.stderr
