"""The ejabberd page: results/ejabberd.md and results/ejabberd.json (see bench.ejabberd).

`python -m bench --render-ejabberd results/ejabberd.json` rewrites the page from its JSON
(after editing results/ejabberd_analysis.md, which is appended to the page).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ANALYSIS = "ejabberd_analysis.md"


def _n(x: Any, digits: int = 0) -> str:
    if not isinstance(x, (int, float)) or x != x:
        return "–"
    return f"{x:,.{digits}f}"


def _pct(x: Any) -> str:
    return "–" if not isinstance(x, (int, float)) or x != x else f"{x:.0%}"


def limit(m: dict[str, Any], cores: int) -> str:
    """What most plausibly capped a saturated run, from its CPU shares (of one core each)."""
    procs = {k[len("cpu_share_"):]: v for k, v in m.items() if k.startswith("cpu_share_") and v == v}
    machine = procs.pop("machine", 0.0)
    ours = sum(v for k, v in procs.items())
    others = max(0.0, machine - ours)
    sb = {k: v for k, v in procs.items() if k.startswith("switchboard")}
    reasons = []
    if machine >= 0.92 * cores:
        reasons.append(f"the machine's {cores} cores ({_pct(machine / cores)} busy; other work {others:.2f} core)")
    busiest = max(sb.items(), key=lambda kv: kv[1], default=None)
    if busiest and busiest[1] >= 0.85:
        reasons.append(f"{busiest[0]} at {_pct(busiest[1])} of its one core")
    if procs.get("ejabberd", 0) >= 0.85 * cores:
        reasons.append(f"ejabberd at {_pct(procs['ejabberd'])}")
    if procs.get("loadgen", 0) >= 0.5:
        reasons.append(f"the load generator at {_pct(procs['loadgen'])}")
    return "; ".join(reasons) or "none saturated (latency-bound: windows, SQL round trips)"


def capacity(m: dict[str, Any], cores: int) -> tuple[float, float, str]:
    """Server CPU per delivery (ejabberd + PostgreSQL + every Switchboard process, µs) and the rate
    it would allow on `cores` cores of its own: the cores shared by all, and no Switchboard process
    above its one core. CPU time is what each process spent, so this holds when other work on the
    shared machine slows the measured rate."""
    per = {k[len("cpu_us_per_delivery_"):]: v for k, v in m.items()
           if k.startswith("cpu_us_per_delivery_") and v == v}
    total = sum(v for k, v in per.items() if k == "ejabberd" or k == "postgres" or k.startswith("switchboard"))
    bounds = {"all cores": cores * 1e6 / total if total else float("nan")}
    for k, v in per.items():
        if k.startswith("switchboard") and v > 0:
            bounds[k] = 1e6 / v
    which = min(bounds, key=lambda k: bounds[k])
    return total, bounds[which], which


def _probe_ok(entry: dict[str, Any]) -> bool:
    probe = entry.get("archived_probe", {})
    if entry["archiving"] == "on":
        return probe.get("ours", 0) > 0 and probe.get("native", 0) > 0
    return probe.get("ours", 1) == 0 and probe.get("native", 1) == 0


def markdown(results: dict[str, Any], analysis: str = "") -> str:
    meta = results.get("meta", {})
    cores = meta.get("cpus") or 2
    e = results["ejabberd"]
    e.setdefault("reps", "?"); e.setdefault("duration_s", "?"); e.setdefault("warmup_s", "?")
    e.setdefault("inflight_per_room", "?"); e.setdefault("slots", 4)
    lines = [f"# Switchboard on ejabberd — {meta.get('date', '')}", "",
             f"ejabberd {meta.get('ejabberd', '23.01')} (Debian), PostgreSQL for both archives, "
             f"{cores} cores ({meta.get('cpu_model', '')}). Load average before: {meta.get('loadavg', '?')}, "
             f"after: {meta.get('loadavg_after', '?')}. The `machine` column is every process's CPU, ours or not "
             "(other work on the machine shows there as what is left over); read ratios of alternating runs "
             "rather than absolute rates.", "",
             f"Saturated fan-out, {e['reps']} repetition(s) per side alternating native / ours, {e['duration_s']} s "
             f"per run ({e['warmup_s']} s warm-up), {e['inflight_per_room']} deliveries in flight per room; several "
             "rooms at once, as many on each of ejabberd's "
             f"{e['slots']} slots. Native = ejabberd `mod_muc` (+ `mod_mam` on PostgreSQL, room option `mam`); "
             "ours = `rooms.localhost` over 4 slots (`domain_balancing: bare_destination`), `switchboard run` "
             "processes holding 4, 2+2 or 1+1+1+1 slots, one PostgreSQL database.", ""]
    lg = results.get("loadgen")
    if lg:
        c, x, one = lg["count"], lg["exact"], lg.get("count_one_per_write", {})
        lines += ["## Load generator ceiling (no server: a do-nothing source floods one worker)", "",
                  "| handler | fed | deliveries per read | µs CPU per delivery | one worker could absorb |",
                  "|---|---|---:|---:|---:|",
                  f"| counting (saturated runs) | 64 stanzas per write | {_n(c.get('deliveries_per_read'), 1)} | "
                  f"{_n(c['cpu_us_per_delivery'], 2)} | {_n(1e6 / c['cpu_us_per_delivery'])}/s |",
                  f"| exact (paced runs: every latency) | 64 stanzas per write | {_n(x.get('deliveries_per_read'), 1)} | "
                  f"{_n(x['cpu_us_per_delivery'], 2)} | {_n(1e6 / x['cpu_us_per_delivery'])}/s |"]
        if one:
            lines.append(f"| counting | 1 stanza per write | {_n(one.get('deliveries_per_read'), 1)} | "
                         f"{_n(one['cpu_us_per_delivery'], 2)} | {_n(1e6 / one['cpu_us_per_delivery'])}/s |")
        lines += ["", "In the measured runs below the generator's cost per delivery is mostly its cost per "
                  "read (a select and a recv per socket that has data): see the `load gen` columns.", ""]
    if "skipped" in e:
        return "\n".join(lines[:1] + ["", f"Not measured: {e['skipped']}."]) + "\n"
    blocks = e["blocks"]
    if not blocks:
        return "\n".join(lines + ["No measurement (see the error in the JSON)."]) + "\n"
    keys = list(next(iter(blocks.values())))
    lines += ["## Throughput: ours / ejabberd native", "",
              "| shape (rooms) | archiving | " + " | ".join(f"native ({p}p block) | ours {p} process(es) | ratio"
                                                         for p in blocks) + " | lost |",
              "|---|---|" + "---:|---:|---:|" * len(blocks) + "---:|"]
    for key in keys:
        first = next(iter(blocks.values()))[key]
        cells, lost = [], 0
        for block in blocks.values():
            entry = block[key]
            med = entry["median"]
            pair = entry.get("pair_ratio")
            cells += [_n(med["native"]["deliveries_per_s"]), _n(med["ours"]["deliveries_per_s"]),
                      f"**{entry['ratio']:.2f}**" + (f" ({pair:.2f})" if pair is not None else "")]
            lost += sum(r["lost"] for runs in entry["runs"].values() for r in runs)
        lines.append(f"| {first['occupants']}x{first['senders']} ({first['rooms']}) | {first['archiving']} | "
                     + " | ".join(cells) + f" | {lost} |")
    lines += ["", "Ratio: median ours / median native of the block; in brackets the median of each repetition's "
              "back-to-back pair (less sensitive to the machine's load drifting over the block)."]
    two = blocks.get("2")
    if two:
        met = {k: v["ratio"] >= 1.0 for k, v in two.items()}
        lines += ["", "**Goal (2 processes ≥ ejabberd native): " + ", ".join(
            f"{k} {'met' if ok else 'NOT met'} ({two[k]['ratio']:.2f})" for k, ok in met.items()) + ".**"]
    lines += ["", "## CPU-bound estimate: what the servers' CPU per delivery allows on the "
              f"{cores} cores alone", "",
              "Server CPU per delivery = ejabberd + PostgreSQL + every Switchboard process (load generator "
              "excluded), from the medians; the rate is that on the machine's cores with nothing else running, "
              "and no Switchboard process above one core (it runs one event loop).", "",
              "| shape | archiving | native µs/delivery | native rate | " + " | ".join(
                  f"ours {p}p µs/delivery | ours {p}p rate (bound) | ratio" for p in blocks) + " |",
              "|---|---|---:|---:|" + "---:|---:|---:|" * len(blocks)]
    for key in keys:
        first = next(iter(blocks.values()))[key]
        nat = [capacity(b[key]["median"]["native"], cores) for b in blocks.values()]
        nat_total = sorted(n[0] for n in nat)[len(nat) // 2]
        nat_rate = cores * 1e6 / nat_total if nat_total else float("nan")
        cells = []
        for block in blocks.values():
            total, rate, which = capacity(block[key]["median"]["ours"], cores)
            cells += [_n(total, 1), f"{_n(rate)} ({which})", f"**{rate / nat_rate:.2f}**" if nat_rate else "–"]
        lines.append(f"| {first['occupants']}x{first['senders']} | {first['archiving']} | {_n(nat_total, 1)} | "
                     f"{_n(nat_rate)} | " + " | ".join(cells) + " |")
    lines += ["", "## CPU (share of one core, medians) and what limited each figure", "",
              "| processes | shape | archiving | side | deliveries/s | ejabberd | Switchboard (each) | PostgreSQL "
              "| load gen | load gen µs/delivery | deliveries/read | machine | limited by |",
              "|---|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|"]
    for p, block in blocks.items():
        for key, entry in block.items():
            for side in ("native", "ours"):
                m = entry["median"][side]
                sb = " + ".join(_pct(m[k]) for k in sorted(m) if k.startswith("cpu_share_switchboard"))
                lines.append(f"| {p} | {entry['occupants']}x{entry['senders']} | {entry['archiving']} | {side} | "
                             f"{_n(m['deliveries_per_s'])} | {_pct(m.get('cpu_share_ejabberd'))} | "
                             f"{sb if side == 'ours' else '(idle)'} | {_pct(m.get('cpu_share_postgres'))} | "
                             f"{_pct(m.get('cpu_share_loadgen'))} | {_n(m.get('cpu_us_per_delivery_loadgen'), 1)} | "
                             f"{_n(m.get('deliveries_per_read'), 1)} | {_pct(m.get('cpu_share_machine'))} | "
                             f"{limit(m, cores)} |")
    bad = [f"{p}p {k}" for p, block in blocks.items() for k, v in block.items() if not _probe_ok(v)]
    lines += ["", "Archive check after each block (messages found in the first room's archive): "
              + ("every room archived as labelled." if not bad else "**not as labelled: " + ", ".join(bad) + "**"),
              "", "Each run's figures (and its load average) are in `ejabberd.json`.", ""]
    if analysis:
        lines += ["", analysis.strip(), ""]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], folder: Path, write_json: bool = True) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    if write_json:
        paths["json"] = folder / "ejabberd.json"
        paths["json"].write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    analysis = folder / ANALYSIS
    paths["md"] = folder / "ejabberd.md"
    paths["md"].write_text(markdown(results, analysis.read_text(encoding="utf-8") if analysis.exists() else ""),
                           encoding="utf-8")
    return paths
