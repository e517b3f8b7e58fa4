"""``python -m bench`` (what ``make bench`` runs): every scenario side by side, then the report.

    python -m bench                 # the full run (about 15 minutes on 2 cores)
    python -m bench --quick         # smaller sizes, no PostgreSQL
    python -m bench --tiny          # seconds: proves the harness works (used by the smoke test)
    python -m bench --only fanout,mam
    python -m bench --only archive_cost   # writes results/archive_cost.md and .json, latest.md untouched
    python -m bench --only ejabberd       # Switchboard on 1/2/4 processes vs ejabberd: results/ejabberd.md
    python -m bench --only support_crash  # kill -9 in a 1,000-customer storm: results/support_crash.md
    python -m bench --only loadgen        # the load generator's own ceiling (no server)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("loadgen", "ceiling", "fanout", "archive_cost", "paced", "profile", "joins", "idle_rooms", "mam",
             "postgres", "support", "support_crash", "ejabberd")
#: Scenarios that bring their own servers (no Prosody stack needed when run alone).
STANDALONE = {"loadgen", "ejabberd"}


def ensure_bench_dependencies(install: bool) -> None:
    """matplotlib (the plot) and py-spy (the profile) come from the `bench` extra of pyproject.toml."""
    missing = []
    for module in ("matplotlib",):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if not Path(sys.executable).with_name("py-spy").exists() and not shutil.which("py-spy"):
        missing.append("py-spy")
    if not missing or not install:
        return
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["bench"]
    print(f"installing the bench extra ({', '.join(extra)}) for: {', '.join(missing)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *extra], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"warning: could not install {extra}; the plot or the profile will be missing\n"
              f"{result.stderr[-1000:]}", file=sys.stderr)


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    prosody = ""
    try:
        out = subprocess.run(["prosodyctl", "about"], capture_output=True, text=True, timeout=20).stdout
        for line in out.splitlines():
            if line.strip().startswith("Prosody"):
                prosody = line.strip().split()[-1]
                break
    except (OSError, subprocess.SubprocessError):
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gb": mem,
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "python": platform.python_version(),
            "prosody": prosody}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", const="quick", dest="mode", help="smaller sizes, no PostgreSQL")
    mode.add_argument("--tiny", action="store_const", const="tiny", dest="mode",
                      help="a few seconds, for the smoke test")
    parser.set_defaults(mode="full")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(SCENARIOS)}")
    parser.add_argument("--reps", type=int, help="repetitions per side (default 3)")
    parser.add_argument("--duration", type=float, help="seconds per load run")
    parser.add_argument("--workers", type=int, help="load generator processes")
    parser.add_argument("--state", help="folder for the servers' state (default: a fresh folder on tmpfs)")
    parser.add_argument("--out", default=str(RESULTS), help="where results are written")
    parser.add_argument("--no-latest", action="store_true", help="write only the dated JSON, not latest.md/png")
    parser.add_argument("--keep-state", action="store_true", help="keep the state folder afterwards")
    parser.add_argument("--no-install", action="store_true", help="do not pip-install the bench extra")
    parser.add_argument("--postgres", action="store_true", help="also run the PostgreSQL pass in --quick/--tiny")
    parser.add_argument("--support-arrival", type=float, metavar="SECONDS",
                        help="support storm: customers arrive evenly over this long (default 1; 0: all at once)")
    parser.add_argument("--render", metavar="JSON", help="only rewrite latest.md/latest.png from a results file "
                        "(after editing results/analysis.md)")
    parser.add_argument("--render-ejabberd", metavar="JSON", help="only rewrite ejabberd.md from its results file "
                        "(after editing results/ejabberd_analysis.md)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        import json

        from . import report

        path = Path(args.render)
        results = json.loads(path.read_text(encoding="utf-8"))
        paths = report.write(results, Path(args.out), path.stem, write_json=False)
        print("rewrote: " + ", ".join(str(p) for p in paths.values()))
        return 0
    if args.render_ejabberd:
        import json

        from . import ejabberd_report

        path = Path(args.render_ejabberd)
        paths = ejabberd_report.write(json.loads(path.read_text(encoding="utf-8")), Path(args.out), write_json=False)
        print("rewrote: " + ", ".join(str(p) for p in paths.values()))
        return 0
    ensure_bench_dependencies(not args.no_install and args.mode != "tiny")
    from . import mam, report
    from .scenarios import Bench, Settings
    from .stack import Stack

    settings = Settings.for_mode(args.mode)
    if args.reps:
        settings.reps = settings.ejabberd_reps = args.reps
    if args.duration:
        settings.duration = args.duration
    if args.workers:
        settings.workers = args.workers
    if args.postgres:
        settings.postgres = True
    if args.support_arrival is not None:
        settings.support_arrival_s = args.support_arrival
    wanted = [s for s in (args.only.split(",") if args.only else SCENARIOS) if s]
    unknown = [s for s in wanted if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    # tmpfs: the VM disk's fsync (Prosody's SQLite journal commits with synchronous=FULL) would
    # otherwise cap the native side at a few dozen messages a second and hide every CPU cost.
    base = "/dev/shm" if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None
    state = Path(args.state) if args.state else Path(tempfile.mkdtemp(prefix="switchboard-bench-", dir=base))
    # PostgreSQL runs as its own system user, which must be able to reach its folder inside.
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o711)
    now = datetime.datetime.now()
    results: dict[str, Any] = {"meta": {"date": now.strftime("%Y-%m-%d %H:%M"), "mode": settings.mode,
                                        "reps": settings.reps, "duration_s": settings.duration,
                                        "settings": settings.__dict__, "scenarios": wanted,
                                        "state_note": ("tmpfs (/dev/shm) for both servers, see the analysis"
                                                       if str(state).startswith("/dev/shm") else str(state)),
                                        **_machine()},
                               "timings": {}}
    started = time.monotonic()
    if "ejabberd" in wanted and settings.mode == "tiny" and not args.only:
        # ejabberd and PostgreSQL would double the smoke test's time: --only ejabberd runs it.
        wanted.remove("ejabberd")
    if "support_crash" in wanted and settings.mode == "tiny" and not args.only:
        # The reliability suite kills the component in a storm already (tests/reliability).
        wanted.remove("support_crash")
    if set(wanted) <= STANDALONE:
        return run_standalone(wanted, settings, state, results, Path(args.out), keep=args.keep_state or args.state)
    stack = Stack(state)
    bench = Bench(settings, stack, progress=lambda text: print(text, flush=True))
    status = 0

    def timed(name: str, fn: Any) -> None:
        if name not in wanted:
            return
        print(f"== {name}", flush=True)
        t = time.monotonic()
        try:
            fn()
        finally:
            results["timings"][name] = round(time.monotonic() - t, 1)

    try:
        if "loadgen" in wanted:
            # First, on a machine without our servers running yet.
            timed("loadgen", lambda: results.__setitem__("loadgen", loadgen_ceiling(settings)))
        bench.start()
        results["setup"] = bench.results["setup"]
        timed("ceiling", bench.ceiling)
        timed("fanout", bench.fanout)
        timed("archive_cost", bench.archive_cost)
        timed("paced", bench.paced)
        if settings.profile:
            timed("profile", bench.profile)
        timed("joins", bench.joins)
        timed("idle_rooms", bench.idle_rooms)
        bench.close()
        results.update({k: v for k, v in bench.results.items() if k != "setup"})
        assert bench.comp is not None
        def run_mam() -> None:
            results["mam"] = bench.results["mam_sqlite"] = mam.run(
                stack, bench.comp, settings.mam_sizes, settings.reps, settings.mam_queries, bench.say)

        timed("mam", run_mam)
        if settings.postgres:
            timed("postgres", lambda: results.__setitem__("postgres", run_postgres(bench, settings)))
        if settings.support:
            from .support import run as run_support

            timed("support", lambda: results.__setitem__("support", run_support(stack, settings, bench.say)))
        if "support_crash" in wanted:
            from . import support_crash

            def run_crash() -> None:
                results["support_crash"] = support_crash.run_all(stack, settings, bench.say, settings.postgres)
                paths = support_crash.write(results["support_crash"], Path(args.out))
                print("support_crash: " + ", ".join(str(p) for p in paths), flush=True)

            timed("support_crash", run_crash)
        if "ejabberd" in wanted:
            # Prosody and its component would only compete for the cores.
            bench.close()
            stack.stop()
            timed("ejabberd", lambda: results.__setitem__("ejabberd", run_ejabberd(settings, state, bench.say)))
    except BaseException as exc:  # noqa: BLE001 - write what we have, then report the failure
        results["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        status = 1
    finally:
        results.update({k: v for k, v in bench.results.items() if k not in results and k != "mam_sqlite"})
        bench.close()
        stack.stop()
        results["meta"]["elapsed_s"] = round(time.monotonic() - started, 1)
        stamp = result_stamp(now, settings.mode, Path(args.out))
        if "ejabberd" in results:
            from . import ejabberd_report

            print("ejabberd: " + ", ".join(str(p) for p in ejabberd_report.write(
                _ejabberd_page(results), Path(args.out)).values()), flush=True)
        if wanted == ["archive_cost"]:
            # Alone it would leave latest.md with a single scenario: it gets its own page instead.
            from . import archive_cost_report

            paths = archive_cost_report.write_archive_cost(results, Path(args.out))
        elif wanted == ["support_crash"]:
            paths = {}  # its own page only (written when it ran), latest.md untouched
        else:
            paths = report.write(results, Path(args.out), stamp, latest=not args.no_latest)
        print("results: " + ", ".join(str(p) for p in paths.values()), flush=True)
        if not args.keep_state and not args.state:
            shutil.rmtree(state, ignore_errors=True)
    return status


def result_stamp(now: datetime.datetime, mode: str, folder: Path) -> str:
    """The results' file name: the minute the run began (and its mode unless full), with the seconds
    when a run begun in the same minute wrote its results there already."""
    suffix = "" if mode == "full" else f"_{mode}"
    stamp = now.strftime("%Y-%m-%d_%H%M") + suffix
    if (folder / f"{stamp}.json").exists():
        stamp = now.strftime("%Y-%m-%d_%H%M%S") + suffix
    return stamp


def loadgen_ceiling(settings: Any) -> dict[str, Any]:
    from . import loadgen_ceiling as ceiling

    return ceiling.run(0.3 if settings.mode == "tiny" else 3.0)


def run_ejabberd(settings: Any, state: Path, say: Any) -> dict[str, Any]:
    from .ejabberd import EjabberdBench, missing

    why = missing()
    if why:
        say(f"  skipped: {why}")
        return {"skipped": why}
    if settings.mode == "tiny":
        kwargs: dict[str, Any] = {"reps": 1, "duration": 1.5, "warmup": 0.3, "workers": 1, "inflight": 8,
                                  "shapes": ((4, 2, 4),), "processes": (1, 2)}
    elif settings.mode == "quick":
        kwargs = {"reps": 1, "duration": 3.0, "processes": (1, 2)}
    else:
        kwargs = {"reps": settings.ejabberd_reps, "duration": settings.duration,
                  "warmup": settings.warmup, "workers": settings.workers, "inflight": settings.inflight}
    return EjabberdBench(state / "ejabberd-bench", say, **kwargs).run()


def _ejabberd_page(results: dict[str, Any]) -> dict[str, Any]:
    """What the ejabberd page shows: its block, the load generator's ceiling and the machine."""
    meta = dict(results["meta"])
    meta["loadavg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["ejabberd"] = "23.01"
    page = {"meta": meta, "ejabberd": results["ejabberd"]}
    if "loadgen" in results:
        page["loadgen"] = results["loadgen"]
    if "error" in results:
        page["error"] = results["error"]
    return page


def run_standalone(wanted: list[str], settings: Any, state: Path, results: dict[str, Any], out: Path,
                   keep: Any) -> int:
    """`--only loadgen` and/or `--only ejabberd`: no Prosody; their own page (latest.md untouched)."""
    from . import ejabberd_report

    status = 0
    say = lambda text: print(text, flush=True)  # noqa: E731
    try:
        if "loadgen" in wanted:
            print("== loadgen", flush=True)
            results["loadgen"] = loadgen_ceiling(settings)
            c = results["loadgen"]["count"]
            say(f"  counting: {c['cpu_us_per_delivery']:.2f} µs per delivery "
                f"({c['deliveries_per_read']:.0f} per read); exact: "
                f"{results['loadgen']['exact']['cpu_us_per_delivery']:.2f} µs; one stanza per write: "
                f"{results['loadgen']['count_one_per_write']['cpu_us_per_delivery']:.2f} µs")
        if "ejabberd" in wanted:
            print("== ejabberd", flush=True)
            results["ejabberd"] = run_ejabberd(settings, state, say)
    except BaseException as exc:  # noqa: BLE001 - write what we have, then report the failure
        results["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        status = 1
    finally:
        if "ejabberd" in results:
            paths = ejabberd_report.write(_ejabberd_page(results), out)
        else:
            import json

            out.mkdir(parents=True, exist_ok=True)
            paths = {"json": out / "loadgen.json"}
            paths["json"].write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
        print("results: " + ", ".join(str(p) for p in paths.values()), flush=True)
        if not keep:
            shutil.rmtree(state, ignore_errors=True)
    return status


def run_postgres(bench: Any, settings: Any) -> dict[str, Any]:
    """Fan-out and MAM again with the component on a real PostgreSQL server."""
    from . import mam
    from .loadgen import LoadGen
    from .scenarios import rooms_services

    try:
        from component.localpostgres import LocalPostgres
        pg = LocalPostgres(bench.stack.state / "postgres")
        pg.start()
    except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional on a developer machine
        return {"skipped": f"no PostgreSQL server could be started ({exc})"}
    out: dict[str, Any] = {}
    try:
        url = pg.create_database("bench")
        assert bench.comp is not None
        bench.comp.stop()
        comp = bench.stack.component(rooms_services(), db_url=url, name="component-pg")
        comp.start()
        bench.comp = comp
        bench.lg = LoadGen(bench.stack.c2s, settings.workers)
        bench.clients = []
        bench.joined = {}
        saved = bench.results.pop("fanout", None)
        prefix_shapes = settings.fanout_shapes
        try:
            # Fresh room names on both sides: the SQLite component's rooms are gone.
            bench.room_prefix = "pg"
            # One shape is enough to see what the database backend changes (the time budget is tight).
            settings.fanout_shapes = prefix_shapes[:1]
            bench.fanout()
            out["fanout"] = bench.results.pop("fanout")
        finally:
            settings.fanout_shapes = prefix_shapes
            bench.room_prefix = ""
            if saved is not None:
                bench.results["fanout"] = saved
            bench.close()
        out["mam"] = mam.run(bench.stack, comp, settings.mam_sizes, settings.reps, settings.mam_queries, bench.say,
                             prefix="pgmam", native_from=bench.results.get("mam_sqlite"))
    finally:
        try:
            bench.comp.stop()
        finally:
            pg.stop()
    return out


if __name__ == "__main__":
    sys.exit(main())
