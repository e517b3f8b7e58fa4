"""The page of the support crash benchmark (bench/support_crash.py): results/support_crash.md and .json,
with results/support_crash_analysis.md (written by hand) as its last section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = ["# Support: kill -9 in the middle of a 1,000-customer storm, then a restart", "",
             f"{meta['date']}; machine: {meta['cpus']} CPUs, load average before {meta['loadavg_before']}, after "
             f"{meta['loadavg_after']} (other work on the machine shares the cores: the times are upper bounds). "
             "Prosody, the component as its own process, raw-socket customers and agents "
             "(`python -m bench --only support_crash`; checks described in `bench/support_crash.py`).", ""]
    for run in results["runs"]:
        if "error" in run:
            lines += [f"## {run.get('backend', '?')}", "", f"Did not complete: {run['error']}", ""]
            continue
        r, d, s = run["restart"], run["customers_detail"], run["stored_at_kill"]
        lines += [f"## {run['backend']}: {run['customers']:,} customers within {run['spread_s']:.0f} s, "
                  f"{run['agents']} agents x {run['max_chats']} chats", "",
                  f"Agents read an offer {run['hold_s']:.0f} s before accepting and close {run['talk_s']:.0f} s "
                  f"after the conversation reached them. Killed {run['kill_after_storm_start_s']:.2f} s after the "
                  f"first customer wrote, with "
                  f"{d['sent_before_kill']:,} customers written and {d['answered_before_kill']:,} answered; stored at "
                  f"the kill: {s['tickets']:,} tickets, {s['waiting']:,} waiting ({s['queued']:,} queued, "
                  f"{s['pending_offers']} offers pending).", "",
                  "| check | result | detail |", "|---|---|---|"]
        lines += [f"| {c['check']} | {'ok' if c['ok'] else '**FAILED**'} | {c['detail']} |" for c in run["checks"]]
        lines += ["", "Restart, seconds from the new process's start "
                  f"(it began {r['kill_to_restart_s']:.2f} s after the kill, once the database was read):", "",
                  "| connected | first agent probe | last agent probe | first offer | every pending offer again "
                  "| every position again | first new answer |",
                  "|---:|---:|---:|---:|---:|---:|---:|",
                  "| " + " | ".join(_s(r[k]) for k in ("connected_s", "first_probe_s", "last_probe_s", "first_offer_s",
                                                       "all_pending_offers_again_s", "all_positions_again_s",
                                                       "first_new_answer_s")) + " |", "",
                  f"Customers unanswered at the kill: {d['unanswered_at_kill']:,} ({d['of_which_ticket_stored']:,} "
                  f"of them with a stored ticket; {d['bounced_while_away']:,} got an "
                  f"error while the component was away and wrote again {run.get('resend_after_s', 2):.0f} s after "
                  f"the restart: "
                  f"{d['resent_bounced']:,}). " + _messages(run) + f"In the end {d['answered_in_the_end']:,} answered, "
                  f"{d['closed_in_the_end']:,} "
                  f"conversations closed (the last {_s(d['last_closed_after_restart_s'])} s after the restart; "
                  f"{d.get('reopened_by_a_late_message', 0)} reopened by a message that arrived after the close, "
                  "and closed again); "
                  f"answered customers whose message is in no ticket: "
                  f"{d['answered_but_message_not_archived_in_the_end']}; tickets by state: "
                  f"{d['ticket_states_at_end']}"
                  + (f" (open at the end: {d['open_at_end']})" if d.get("open_at_end", {}).get("count") else "")
                  + ".", "",
                  "CPU seconds (wall seconds measured over): " + _cpu("storm until the kill", run["cpu_storm"]) + "; "
                  + _cpu("after the restart", run["cpu_after_restart"]) + f". Stanzas the clients received: "
                  f"{run['at_kill']['stanzas']:,} until the kill, "
                  f"{run['after_restart_counts']['stanzas']:,} in all.", ""]
        prof = run.get("profile") or {}
        if prof.get("self"):
            lines += [f"Profile of the restarted component (py-spy, first 20 s, {prof['samples']} busy samples):",
                      "", "| own % | function |", "|---:|---|"]
            lines += [f"| {i['pct']} | `{i['function']}` |" for i in prof["self"][:10]]
            lines.append("")
    if results.get("analysis"):
        lines += ["## What limited it", "", results["analysis"], ""]
    return "\n".join(lines)


def _messages(run: dict[str, Any]) -> str:
    m = run["customers_detail"].get("messages")
    if not m:
        return ""
    return (f"Customers wrote {m['messages']:,} messages asking for receipts ({run.get('burst_before_kill', 0)} "
            f"of them a few milliseconds before the kill), {m['copies']:,} copies in all: "
            f"{m['resent_messages']:,} were sent again for want of a receipt ({run['resend_s']:.0f} s after the "
            f"first copy, twice as long after each next one, and by those who got an error once the service was "
            f"back); {m['not_stored_at_kill']:,} had been sent "
            f"before the kill and were not stored at it, {m.get('lost_silently_at_kill', 0):,} of them without an "
            "error from the server (the killed process had them: before receipts, lost without a word). "
            + _receipt_wait(m.get("receipt_wait_s")))


def _receipt_wait(w: dict[str, Any] | None) -> str:
    if not w or not w.get("count"):
        return ""
    return (f"Receipts of the killed process came {_s(w['p50'])} s after the message's first copy at the "
            f"median, {_s(w['p90'])} s at p90, {_s(w['max'])} s at most ({w['count']:,} messages). ")


def _s(value: Any) -> str:
    return "–" if value is None else f"{value:.2f}"


def _cpu(label: str, cpu: dict[str, float]) -> str:
    return (f"{label} ({cpu['wall_s']:.1f} s): component {cpu['component']:.1f}, Prosody {cpu['prosody']:.1f}, "
            f"load generator {cpu['loadgen']:.1f}")


def write(results: dict[str, Any], folder: Path = RESULTS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "support_crash.md", folder / "support_crash.json"
    analysis = folder / "support_crash_analysis.md"
    if analysis.exists():
        results["analysis"] = analysis.read_text(encoding="utf-8").strip()
    js.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    md.write_text(markdown(results) + "\n", encoding="utf-8")
    return [md, js]
