"""The support storm's part of the benchmark report: its headline rows and its section."""

from __future__ import annotations

from typing import Any

from .stats import figure as _f
from .support import PHASES


def support_rows(support: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Headline rows: the issue's targets, the component's own share and the server's own delivery."""
    rows: list[dict[str, Any]] = []
    for who, run in (("", support), (" guest", (support or {}).get("guests"))):
        if not run or "first_offer_p99_ms" not in run:
            continue
        shape = f"{run.get('customers')}{who} customers, {run.get('agents')} agents x {run.get('max_chats')}"
        for key, what, target in (("first_offer_p99_ms", f"first {run.get('first_offers')} offers from routable", 50),
                                  ("after_close_p99_ms", "next offer after a close", 20),
                                  ("position_p99_ms", f"position told after joining (arriving over "
                                                      f"{run.get('arrival_s', 0):g} s)", 1000)):
            value = run.get(key)
            if value is None or value != value:  # NaN: no such offer in this run (a tiny one)
                continue
            rows.append({"what": f"support: {what}, p99 ({shape}), ms", "native": None, "ours": value,
                         "ratio": None, "target": f"≤ {target:,} ms", "met": value <= target, "digits": 1})
        delay = run.get("component_offer_delay") or {}
        if delay.get("offers"):
            # The component's own share (the server's delivery on top): no target of its own.
            rows.append({"what": f"support: offers out of the component within 20 ms of the stanza that allowed "
                                 f"them, all {delay['offers']} ({shape}), %", "native": None,
                         "ours": delay["within_20ms"] * 100, "ratio": None, "target": "", "met": None, "digits": 1})
        floor = (run.get("server_probe") or {}).get("first_offers") or {}
        if floor.get("samples"):
            # What the server alone took meanwhile: no offer through it can be faster.
            rows.append({"what": f"support: the server's own delivery of a stanza during the first offers, p99 "
                                 f"({shape}), ms", "native": floor["p99_ms"], "ours": None, "ratio": None,
                         "target": "", "met": None, "digits": 1})
    if support and "retrieval_ms" in support:
        rows.append({"what": f"support bot retrieval over {support.get('kb_entries', 0):,} entries, ms per question",
                     "native": None, "ours": support["retrieval_ms"], "ratio": None, "target": "≤ 5 ms",
                     "met": support["retrieval_ms"] <= 5, "digits": 2})
    return rows


def support_lines(support: dict[str, Any] | None) -> list[str]:
    """The report's "Support queue" section."""
    if not support:
        return []
    lines = ["## Support queue", ""]
    for k, v in support.items():
        if k not in ("profile", "cpu_per_event_by_size", "server_probe", "cpu_by_phase"):
            lines.append(f"- {k}: {_f(v, 2) if isinstance(v, float) else v}")
    lines.append("")
    lines += probe_lines(support)
    if support.get("cpu_per_event_by_size"):
        lines += ["CPU per event of the routing engine by queue size (no database; must stay flat):", "",
                  "| waiting | join, µs | leave, µs |", "|---:|---:|---:|"]
        lines += [f"| {row['waiting']:,} | {_f(row['join_us'])} | {_f(row['leave_us'])} |"
                  for row in support["cpu_per_event_by_size"]]
        lines.append("")
    sprof = support.get("profile") or {}
    if sprof.get("self"):
        lines += [f"Profile of the support component in an extra storm with accounts (py-spy, {sprof['samples']} "
                  "busy samples; the measured storms run without it):", "", "| own % | function |", "|---:|---|"]
        lines += [f"| {item['pct']} | `{item['function']}` |" for item in sprof["self"][:10]]
        lines += ["", "| inclusive % | function |", "|---:|---|"]
        lines += [f"| {item['pct']} | `{item['function']}` |" for item in sprof["inclusive"][:20]]
        lines.append("")
    return lines


def probe_lines(support: dict[str, Any]) -> list[str]:
    """The server's own delivery in each phase of each storm (a client's headlines to itself)."""
    storms = [(who, run) for who, run in (("accounts", support), ("guests", support.get("guests") or {}))
              if run.get("server_probe")]
    if not storms:
        return []
    lines = ["Each phase of the storm: the server's own delivery meanwhile (a client of its own sends itself "
             "a headline every 10 ms: nothing of the component's ahead of it, nothing archived; no stanza "
             "through the server can be faster), and the share of a core each process used. A server at a "
             "whole core serves each connection in turn, the component's one among a thousand customers':", "",
             "| storm | phase | headlines | p50 ms | p99 ms | max ms | server CPU | component CPU | load generator CPU |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for who, run in storms:
        for key, phase, _begin, _end in PHASES:
            p = run["server_probe"].get(key) or {}
            cpu = (run.get("cpu_by_phase") or {}).get(key) or {}
            if p.get("samples"):
                lines.append(f"| {who} | {phase} | {p['samples']} | {_f(p['p50_ms'])} | {_f(p['p99_ms'])} | "
                             f"{_f(p['max_ms'])} | {_f(cpu.get('prosody'), 2)} | {_f(cpu.get('component'), 2)} | "
                             f"{_f(cpu.get('loadgen'), 2)} |")
    lines.append("")
    return lines
