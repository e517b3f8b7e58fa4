"""Write the results: `<date>.json` (everything), `latest.md` (the table) and `latest.png` (the plot)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .archive_cost_report import archive_cost_blocks, archive_cost_lines
from .stats import figure as _f
from .support_report import support_lines, support_rows

#: Hand-written analysis kept next to the results and quoted at the end of latest.md.
ANALYSIS = "analysis.md"


def _mark(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def headline(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the headline table: scenario, native, ours, ratio, target, met."""
    rows: list[dict[str, Any]] = []
    for shape, block in results.get("fanout", {}).items():
        m, r = block["median"], block["ratio"]
        rows.append({"what": f"MUC fan-out {shape} saturated, deliveries/s", "native": m["native"]["deliveries_per_s"],
                     "ours": m["ours"]["deliveries_per_s"], "ratio": r["deliveries_per_s"],
                     "target": "≥ 0.8× native", "met": r["deliveries_per_s"] >= 0.8, "digits": 0})
        lost = sum(x["lost"] for runs in block["runs"].values() for x in runs)
        rows.append({"what": f"messages lost ({shape}, all runs)",
                     "native": sum(x["lost"] for x in block["runs"]["native"]),
                     "ours": sum(x["lost"] for x in block["runs"]["ours"]), "ratio": None, "target": "0",
                     "met": lost == 0, "digits": 0})
    if "fanout" in results:
        first = next(iter(results["fanout"].values()))
        us = first["median"]["ours"]["cpu_us_per_delivery_component"]
        rows.append({"what": f"component CPU per delivery ({next(iter(results['fanout']))}), µs", "native": None,
                     "ours": us, "ratio": None, "target": "≤ 5 µs", "met": us <= 5.0, "digits": 1})
        split = per_message_split(results["fanout"])
        if split:
            rows.append({"what": "component CPU, marginal per delivery (solved from the two shapes), µs",
                         "native": None, "ours": split["per_delivery_us"], "ratio": None, "target": "≤ 5 µs",
                         "met": split["per_delivery_us"] <= 5.0, "digits": 1})
            rows.append({"what": "component CPU per message (parse, hooks, archive write), µs", "native": None,
                         "ours": split["per_message_us"], "ratio": None, "target": "", "met": None, "digits": 0})
        for shape, block in results["fanout"].items():
            rows.append({"what": f"Prosody CPU per delivery ({shape}), µs",
                         "native": block["median"]["native"]["cpu_us_per_delivery_prosody"],
                         "ours": block["median"]["ours"]["cpu_us_per_delivery_prosody"],
                         "ratio": block["ratio"]["cpu_us_per_delivery_prosody"], "target": "", "met": None,
                         "digits": 1})
    for cost in archive_cost_blocks(results.get("archive_cost")):
        how = "side by side" if "side_by_side" in cost else "one after the other"
        rows.append({"what": f"ours, fan-out {cost['occupants']}x{cost['senders']}: deliveries/s with archiving on "
                             f"÷ off ({how})",
                     "native": None, "ours": cost["throughput_ratio"], "ratio": None,
                     "target": "≥ 0.85 (cut ≤ 15%)", "met": cost["met"], "digits": 2})
    for paced in (results.get("paced"), results.get("paced_below_saturation")):
        if not paced or "median" not in paced:
            continue
        for k in ("p50_ms", "p99_ms"):
            rows.append({"what": f"MUC latency {k[:3]} at {paced['rate']:.0f} msg/s into {paced['occupants']}, ms",
                         "native": paced["median"]["native"][k], "ours": paced["median"]["ours"][k],
                         "ratio": paced["ratio"][k], "target": "≤ 1.5× native", "met": paced["ratio"][k] <= 1.5,
                         "digits": 2})
    for tag, mam in (("", results.get("mam")), (" (PostgreSQL)", results.get("postgres", {}).get("mam"))):
        if not mam:
            continue
        sizes = list(mam["sizes"])
        for size in sizes:
            block = mam["sizes"][size]
            for kind in ("last", "deep"):
                k = f"{kind}_p50_ms"
                ours = block["median"]["ours"][k]
                top = size == sizes[-1]
                met = block["ratio"][k] <= 0.5 and (ours <= 5.0 if top else True)
                rows.append({"what": f"MAM {kind} page p50, {size} messages{tag}, ms",
                             "native": block["median"]["native"][k], "ours": ours, "ratio": block["ratio"][k],
                             "target": "≤ 0.5× native" + (", ≤ 5 ms" if top else ""), "met": met, "digits": 2})
    joins = results.get("joins")
    if joins:
        for size, block in joins["sizes"].items():
            rows.append({"what": f"join a room of {size} occupants, ms", "native": block["median"]["native"]["join_ms"],
                         "ours": block["median"]["ours"]["join_ms"], "ratio": block["ratio"]["join_ms"],
                         "target": "", "met": None, "digits": 1})
        mem = joins["memory"]
        per = mem["bytes_per_occupant"]
        rows.append({"what": f"RSS per occupant ({mem['occupants']} occupants), bytes", "native": per["native"],
                     "ours": per["ours"], "ratio": None, "target": "≤ 2 KB", "met": per["ours"] <= 2048, "digits": 0})
    idle = results.get("idle_rooms")
    if idle:
        ours = idle["ours"]
        grow = ours["rss_after"] - ours["rss_before"]
        rest = ours.get("rss_after_restart", 0) - ours.get("rss_fresh_start", 0)
        in_db = idle.get("rooms_in_database", idle["rooms"])
        rows.append({"what": f"RSS at rest with {in_db:,} idle persistent rooms (ours: after a restart), MB",
                     "native": None, "ours": rest / 2**20, "ratio": None,
                     "target": "≤ 50 MB" if in_db >= 10_000 else f"≤ {50 * in_db / 10_000:.1f} MB",
                     "met": rest / 2**20 <= 50 * in_db / 10_000, "digits": 1})
        rows.append({"what": f"RSS growth while creating {idle['rooms']:,} persistent rooms over XMPP, MB",
                     "native": (idle["native"]["rss_after"] - idle["native"]["rss_before"]) / 2**20,
                     "ours": grow / 2**20, "ratio": None, "target": "", "met": None, "digits": 1})
    rows += support_rows(results.get("support"))
    return rows


def per_message_split(fanout: dict[str, Any]) -> dict[str, float] | None:
    """Component CPU per delivery = per_message / occupants + per_delivery: solve it from two room sizes."""
    points = [(block["occupants"], block["median"]["ours"]["cpu_us_per_delivery_component"])
              for block in fanout.values() if "occupants" in block]
    points = [(n, c) for n, c in points if c == c]
    if len(points) < 2:
        return None
    (n1, c1), (n2, c2) = sorted(points)[:2]
    if n1 == n2:
        return None
    per_message = (c1 - c2) / (1 / n1 - 1 / n2)
    return {"per_message_us": per_message, "per_delivery_us": c1 - per_message / n1}


def markdown(results: dict[str, Any], png_name: str | None, analysis: str = "") -> str:
    meta = results["meta"]
    lines = [f"# Switchboard benchmarks — {meta['date']}", ""]
    lines += [f"Mode `{meta['mode']}`, {meta['reps']} repetitions per side alternating native / ours "
              f"(medians quoted), {meta['duration_s']} s per load run. Machine: {meta['cpus']} cores "
              f"({meta['cpu_model']}), {meta['memory_gb']:.0f} GB, load average at start {meta['loadavg']}. "
              f"**The machine is shared** (other work was running on the same 2 cores during these runs): "
              "absolute figures are noisy, the ratios from alternating runs are the headline.",
              "",
              f"Native = Prosody {meta.get('prosody', '')} `mod_muc` + `mod_muc_mam` on SQLite "
              "(`conference.localhost`); ours = Switchboard `muc` + `mam` on SQLite (`rooms.localhost`), "
              "the component running as its own process. Both sides use the same Prosody, the same client "
              f"connections and the same rooms sizes. State folder: {meta['state_note']}",
              "", f"Whole run: {meta.get('elapsed_s', 0) / 60:.1f} minutes.", ""]
    rows = headline(results)
    lines += ["## Headline", "", "| scenario | native | ours | ours / native | target | met |",
              "|---|---:|---:|---:|---|---|"]
    for row in rows:
        d = row["digits"]
        lines.append(f"| {row['what']} | {_f(row['native'], d)} | {_f(row['ours'], d)} | "
                     f"{_f(row['ratio'], 2)} | {row['target']} | {_mark(row['met'])} |")
    lines.append("")
    if png_name:
        lines += [f"![benchmark plot]({png_name})", ""]
    c = results.get("ceiling")
    if c:
        capacity = 1e6 / c["loadgen_us_per_delivery"] if c["loadgen_us_per_delivery"] else float("nan")
        lines += ["## Load generator ceiling", "",
                  f"1:1 `headline` messages between {c['pairs']} pairs of raw clients through Prosody alone: "
                  f"**{_f(c['deliveries_per_s'], 0)} deliveries/s** (median), the load generator spending "
                  f"{_f(c['loadgen_us_per_delivery'], 1)} µs of CPU per delivery received — one worker process "
                  f"could absorb about {_f(capacity, 0)} "
                  f"deliveries/s, well above any MUC figure below; messages lost: {c['lost']}.", ""]
    lg = results.get("loadgen")
    if lg:
        count, exact, one = lg["count"], lg["exact"], lg["count_one_per_write"]
        lines += ["Without any server (a do-nothing source floods one worker, `bench/loadgen_ceiling.py`): "
                  f"the counting handler of the saturated runs spends **{_f(count['cpu_us_per_delivery'], 2)} µs** "
                  f"per delivery read in bulk and {_f(one['cpu_us_per_delivery'], 2)} µs when each stanza is "
                  f"written alone; the exact handler (paced runs, every latency) "
                  f"{_f(exact['cpu_us_per_delivery'], 2)} µs. In the runs below its cost is mostly per read "
                  "(see the load gen column and `deliveries_per_read` in the JSON).", ""]
    if results.get("fanout"):
        lines += ["## MUC fan-out (saturated, archiving on both sides)", "",
                  "| shape | side | deliveries/s | lost | p50 ms | p99 ms | Prosody µs/delivery | "
                  "component µs/delivery | load gen µs/delivery | Prosody CPU | component CPU |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for shape, block in results["fanout"].items():
            for side in ("native", "ours"):
                m = block["median"][side]
                lines.append(f"| {shape} | {side} | {_f(m['deliveries_per_s'], 0)} | {_f(m['lost'], 0)} | "
                             f"{_f(m['p50_ms'], 1)} | {_f(m['p99_ms'], 1)} | {_f(m['cpu_us_per_delivery_prosody'])} | "
                             f"{_f(m['cpu_us_per_delivery_component'])} | {_f(m['cpu_us_per_delivery_loadgen'])} | "
                             f"{_f(m['cpu_share_prosody'] * 100, 0)}% | {_f(m['cpu_share_component'] * 100, 0)}% |")
        lines += ["", "Each repetition's figures are in the JSON file.", ""]
    for paced in (results.get("paced"), results.get("paced_below_saturation")):
        if not paced:
            continue
        lines += [f"## MUC latency, paced ({paced['rate']:.0f} messages/s into {paced['occupants']} occupants)", ""]
        if paced.get("skipped"):
            lines += [f"Not measured at this rate: {paced['skipped']}.", ""]
            continue
        if paced.get("why"):
            lines += [f"Added because {paced['why']}: below saturation on both sides.", ""]
        lines += [
                  "| side | p50 ms | p90 ms | p99 ms | max ms | lost | Prosody CPU | component CPU |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for side in ("native", "ours"):
            m = paced["median"][side]
            lines.append(f"| {side} | {_f(m['p50_ms'], 2)} | {_f(m['p90_ms'], 2)} | {_f(m['p99_ms'], 2)} | "
                         f"{_f(m['max_ms'], 2)} | {_f(m['lost'], 0)} | {_f(m['cpu_share_prosody'] * 100, 0)}% | "
                         f"{_f(m['cpu_share_component'] * 100, 0)}% |")
        lines.append("")
    for title, mam in (("MAM", results.get("mam")), ("MAM on PostgreSQL", results.get("postgres", {}).get("mam"))):
        if not mam:
            continue
        lines += [f"## {title} (page of {mam['page']}; p50 of the queries, median of the repetitions)", "",
                  "| messages | native last | ours last | native deep | ours deep | fill native | fill ours |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for size, block in mam["sizes"].items():
            m = block["median"]
            fill = mam["fill"].get(size, {})
            fn, fo = fill.get("native", {}), fill.get("ours", {})
            lines.append(f"| {size} | {_f(m['native']['last_p50_ms'], 2)} ms | {_f(m['ours']['last_p50_ms'], 2)} ms | "
                         f"{_f(m['native']['deep_p50_ms'], 2)} ms | {_f(m['ours']['deep_p50_ms'], 2)} ms | "
                         + ("the same archive as above | " if fn.get("reused") else
                            f"{_f(fn.get('seconds'), 1)} s ({_f(fn.get('rows_per_s'), 0)} rows/s) | ") +
                         f"{_f(fo.get('seconds'), 1)} s ({_f(fo.get('rows_per_s'), 0)} rows/s) |")
        service = {size: mam["fill"].get(size, {}).get("ours", {}).get("service") for size in mam["sizes"]}
        if any(service.values()):
            lines += ["", "The archive service alone (same database, same queries, in-process: no XMPP, no Prosody): " +
                      "; ".join(f"{size}: last {_f(v.get('last_p50_ms'), 2)} ms, deep {_f(v.get('deep_p50_ms'), 2)} ms"
                                for size, v in service.items() if v) + "."]
        lines += ["", "Last page = RSM `<before/>`; deep page = RSM `<after>` the id in the middle of the archive. "
                  "Filled in bulk through each server's own schema (see `bench/mam.py`).", ""]
    pg = results.get("postgres", {})
    if pg.get("fanout"):
        lines += ["## MUC fan-out with the PostgreSQL backend", "",
                  "| shape | native deliveries/s | ours deliveries/s | ratio | lost (ours) |",
                  "|---|---:|---:|---:|---:|"]
        for shape, block in pg["fanout"].items():
            lines.append(f"| {shape} | {_f(block['median']['native']['deliveries_per_s'], 0)} | "
                         f"{_f(block['median']['ours']['deliveries_per_s'], 0)} | "
                         f"{_f(block['ratio']['deliveries_per_s'], 2)} | "
                         f"{sum(x['lost'] for x in block['runs']['ours'])} |")
        lines.append("")
    if pg.get("skipped"):
        lines += ["## PostgreSQL", "", f"Not run: {pg['skipped']}", ""]
    joins = results.get("joins")
    if joins:
        lines += ["## Joins (presence flood to the joiner)", "", "| occupants | native ms | ours ms | ratio |",
                  "|---:|---:|---:|---:|"]
        for size, block in joins["sizes"].items():
            lines.append(f"| {size} | {_f(block['median']['native']['join_ms'], 1)} | "
                         f"{_f(block['median']['ours']['join_ms'], 1)} | {_f(block['ratio']['join_ms'], 2)} |")
        lines.append("")
        for skipped in joins.get("skipped", []):
            lines += [f"Room of {skipped['size']} not measured: {skipped['why']}.", ""]
        mem = joins["memory"]
        lines += [f"RSS growth per occupant while filling to {mem['occupants']}: native (Prosody) "
                  f"{_f(mem['bytes_per_occupant']['native'], 0)} B, ours (component) "
                  f"{_f(mem['bytes_per_occupant']['ours'], 0)} B.", ""]
    idle = results.get("idle_rooms")
    if idle:
        o, n = idle["ours"], idle["native"]
        lines += ["## Idle persistent rooms", "",
                  f"{idle['rooms']:,} persistent rooms created on each side (join, owner form, leave; pipelined): "
                  f"native in {_f(n['create_s'])} s, RSS {_f((n['rss_after'] - n['rss_before']) / 2**20)} MB more; "
                  f"ours in {_f(o['create_s'])} s, RSS {_f((o['rss_after'] - o['rss_before']) / 2**20)} MB more, and "
                  f"{_f(o.get('rss_after_restart', 0) / 2**20)} MB at rest after a restart with "
                  f"{idle.get('rooms_in_database', idle['rooms']):,} rooms in the database, those beyond the "
                  f"{idle.get('created_over_xmpp', idle['rooms']):,} created over XMPP added through MUC's store "
                  "(fresh start: "
                  f"{_f(o.get('rss_fresh_start', 0) / 2**20)} MB).", ""]
        if idle.get("reduced"):
            lines += [f"Reduced to fit the time budget: {idle['reduced']}.", ""]
    prof = results.get("profile")
    if prof and prof.get("self"):
        lines += ["## Profile of the component under fan-out load (py-spy, top by own time)", "",
                  f"{prof['samples']} busy samples (waiting threads left out); "
                  "component CPU per delivery while sampled "
                  f"{_f(prof.get('component_cpu_us_per_delivery'), 1)} µs ({prof.get('note', '')}).", "",
                  "| own % | function |", "|---:|---|"]
        for item in prof["self"][:20]:
            lines.append(f"| {item['pct']} | `{item['function']}` |")
        lines += ["", "| inclusive % | function |", "|---:|---|"]
        for item in prof["inclusive"][:20]:
            lines.append(f"| {item['pct']} | `{item['function']}` |")
        lines.append("")
    elif prof:
        lines += ["## Profile", "", f"Not available: {prof.get('error') or prof.get('note')}", ""]
    lines += support_lines(results.get("support"))
    if archive_cost_blocks(results.get("archive_cost")):
        lines += archive_cost_lines(results["archive_cost"])
    if analysis.strip():
        lines += ["## Analysis", "", analysis.strip(), ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not (results.get("paced") or {}).get("median") and results.get("paced_below_saturation"):
        results = {**results, "paced": results["paced_below_saturation"]}
    panels = [p for p in ("fanout", "paced", "mam", "joins") if results.get(p) and
              (p != "paced" or "median" in results[p])]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2))
    if len(panels) == 1:
        axes = [axes]
    colors = {"native": "#8c8c8c", "ours": "#1f77b4"}
    for ax, panel in zip(axes, panels):
        if panel == "fanout":
            shapes = list(results["fanout"])
            x = range(len(shapes))
            for i, side in enumerate(("native", "ours")):
                vals = [results["fanout"][s]["median"][side]["deliveries_per_s"] for s in shapes]
                ax.bar([v + (i - 0.5) * 0.38 for v in x], vals, 0.38, label=side, color=colors[side])
            ax.set_xticks(list(x), shapes)
            ax.set_title("MUC fan-out, deliveries/s")
        elif panel == "paced":
            p = results["paced"]
            keys = ["p50_ms", "p90_ms", "p99_ms"]
            for i, side in enumerate(("native", "ours")):
                ax.bar([k + (i - 0.5) * 0.38 for k in range(3)], [p["median"][side][k] for k in keys], 0.38,
                       label=side, color=colors[side])
            ax.set_xticks(range(3), ["p50", "p90", "p99"])
            ax.set_title(f"latency at {p['rate']:.0f} msg/s, ms")
        elif panel == "mam":
            sizes = list(results["mam"]["sizes"])
            for side in ("native", "ours"):
                for kind, style in (("last", "-o"), ("deep", "--s")):
                    ax.plot(sizes, [results["mam"]["sizes"][s]["median"][side][f"{kind}_p50_ms"] for s in sizes],
                            style, color=colors[side], label=f"{side} {kind}")
            ax.set_yscale("log")
            ax.set_title("MAM page p50, ms (log)")
        elif panel == "joins":
            sizes = list(results["joins"]["sizes"])
            for side in ("native", "ours"):
                ax.plot(sizes, [results["joins"]["sizes"][s]["median"][side]["join_ms"] for s in sizes], "-o",
                        color=colors[side], label=side)
            ax.set_yscale("log")
            ax.set_title("join time, ms (log)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Switchboard vs Prosody native — {results['meta']['date']} (medians, shared 2-core machine)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(results: dict[str, Any], folder: Path, stamp: str, latest: bool = True,
          write_json: bool = True) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if write_json:
        paths["json"] = folder / f"{stamp}.json"
        paths["json"].write_text(json.dumps(results, indent=1, default=str, allow_nan=True) + "\n",
                                 encoding="utf-8")
    if latest:
        png = folder / "latest.png"
        has_png = plot(results, png)
        analysis_path = folder / ANALYSIS
        analysis = analysis_path.read_text(encoding="utf-8") if analysis_path.exists() else ""
        md = folder / "latest.md"
        md.write_text(markdown(results, png.name if has_png else None, analysis), encoding="utf-8")
        paths["md"] = md
        if has_png:
            paths["png"] = png
    return paths
