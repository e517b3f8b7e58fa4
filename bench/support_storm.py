"""The support engine in a storm, measured in one process (no network): what routing itself costs.

``python -m bench.support_storm`` writes ``results/support_storm.md`` and ``.json``:

- cost of a join and of a departure with 100, 1,000 and 10,000 customers already waiting (CPU per
  event, with the ticket written to SQLite, and with a store that writes nothing, which isolates
  the engine's own work: it must stay flat as the queue grows);
- memory per waiting customer (tickets, their stored copies and the indexes, by tracemalloc);
- routing events per second sustained on one core (join, offer, accept, close) on SQLite, and on
  PostgreSQL when ``SWITCHBOARD_BENCH_PG`` names a database URL;
- a storm: 1,000 customers arriving at once while 50 agents with 3 chats each come online, the
  first 150 offers timed from the moment each customer became routable, then offer latency after
  each close, with a loop-lag monitor running throughout.

The network side (Prosody, clients, the component as its own process) is measured by the
``support`` scenario of ``python -m bench``; this one says what is left for the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from component.hooks import HookBus
from component.storage import Database, Migrations
from plugins.support.engine import SupportEngine
from plugins.support.options import QueueOptions, SupportOptions
from plugins.support.plugin import SupportPlugin
from plugins.support.store import SupportStore

from .stats import percentile

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (100, 1_000, 10_000)
#: Customers going through the routing cycle at the same time in the concurrent rate run.
CONCURRENT = 50


class Outbox:
    """The network as the engine sees it: offers 'sent' at once, everything else counted."""

    def __init__(self) -> None:
        self.offers: list[tuple[str, str, float]] = []   # (ticket, agent, when)
        self.notices = 0

    def customer_notice(self, t: Any, body: str, status: Any = None, transient: bool = False,
                        update: bool = False) -> None:
        self.notices += 1

    def offer_now(self, t: Any, agent_jid: str, timeout: float, body: str) -> str:
        return ""  # through offer(), which records when

    def known_offer_form(self, agent_jid: str) -> str:
        return ""

    async def offer(self, t: Any, agent_jid: str, timeout: float, body: str, via: str = "") -> str:
        self.offers.append((t.id, agent_jid, time.perf_counter()))
        return "chat"

    async def probe(self, jid: str) -> bool:
        return True

    async def connect_agent(self, t: Any, agent_jid: str, intro: str) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class NullStore(SupportStore):
    """Writes nothing: the engine's own cost without the database."""

    def __init__(self) -> None:
        pass

    async def save(self, ticket: Any, events: Any = ()) -> None:
        return None

    async def save_batch(self, entries: Any) -> None:
        return None

    async def set_presence(self, *args: Any) -> None:
        return None

    async def open_tickets(self) -> list:
        return []

    async def watchers(self) -> dict:
        return {}

    async def presences(self) -> list:
        return []


def options(agents: list[str], status_interval: float = 15.0) -> SupportOptions:
    return SupportOptions(queues=[QueueOptions(name="help", agents=agents, max_chats=3, offer_timeout=600.0, max_waiting=100_000,
                                               grace_period=600.0, strategy="round-robin")],
                          status_interval=status_interval, liveness_interval=0.0)


async def new_engine(url: str | None, agents: list[str], status_interval: float = 15.0) -> tuple[SupportEngine, Outbox, Any]:
    outbox = Outbox()
    if url is None:
        store, db = NullStore(), None
    else:
        db = Database(url)
        await db.migrate([Migrations("support", SupportPlugin.migrations)])
        store = SupportStore(db)
    engine = SupportEngine(options(agents, status_interval), "support.bench", store, outbox, HookBus())
    await engine.load()
    return engine, outbox, db


def cpu() -> float:
    return time.process_time()


async def join_leave_cost(url: str | None, sizes: tuple[int, ...], sample: int) -> list[dict[str, Any]]:
    """CPU per join and per departure with n customers already waiting (nobody online: nothing routes)."""
    rows = []
    engine, _outbox, db = await new_engine(url, ["agent0@bench"])
    filled = 0
    try:
        for n in sizes:
            while filled < n:
                await engine.join("help", f"w{filled}@bench/r", "en", body="hi")
                filled += 1
            start = cpu()
            joined = [await engine.join("help", f"s{n}-{i}@bench/r", "en", body="hi") for i in range(sample)]
            join_cost = (cpu() - start) / sample
            start = cpu()
            for t in joined:
                await engine.leave(t.id, "bye")
            leave_cost = (cpu() - start) / sample
            rows.append({"waiting": n, "join_us": join_cost * 1e6, "leave_us": leave_cost * 1e6})
    finally:
        await engine.stop()
        if db is not None:
            await db.close()
    return rows


async def memory_per_waiting(count: int) -> float:
    """Bytes of engine memory per waiting customer (no database: what routing keeps in memory)."""
    engine, _outbox, _db = await new_engine(None, ["agent0@bench"])
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(count):
        await engine.join("help", f"m{i}@bench/r", "en", body="I need help with my order")
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    await engine.stop()
    return grown / count


async def routing_rate(url: str | None, seconds: float, workers: int = 1) -> dict[str, Any]:
    """join -> offer -> accept -> close cycles through 50 agents x 3 chats for ``seconds``.

    ``workers`` customers go through the cycle at the same time (1: one after the other, so
    every write waits alone; more: their writes share the journal's batches)."""
    agents = [f"agent{i}@bench" for i in range(50)]
    engine, outbox, db = await new_engine(url, agents)
    try:
        for a in agents:
            await engine.agent_presence("help", f"{a}/r", "chat", 3)
        counts = {"events": 0, "served": 0, "customer": 0}
        start, start_cpu = time.perf_counter(), cpu()
        batches, entries = engine.journal.batches, engine.journal.entries

        async def customer_cycle() -> None:
            while time.perf_counter() - start < seconds:
                counts["customer"] += 1
                t = await engine.join("help", f"r{counts['customer']}@bench/r", "en", body="hi")
                counts["events"] += 2  # created, queued
                while t.state == "queued" and time.perf_counter() - start < seconds:
                    await asyncio.sleep(0.001)  # routed by another customer's change
                if t.state == "offered":
                    counts["events"] += 1
                    agent = next(iter(t.offers))
                    await engine.accept(t.id, agent)
                    await engine.close(t.id, agent.split("/", 1)[0])
                    counts["events"] += 2
                    counts["served"] += 1

        await asyncio.gather(*(customer_cycle() for _ in range(workers)))
        elapsed, used = time.perf_counter() - start, cpu() - start_cpu
        events = counts["events"]
        written = engine.journal.batches - batches
        return {"workers": workers, "events": events, "served": counts["served"], "elapsed_s": elapsed,
                "cpu_s": used, "events_per_s": events / elapsed, "events_per_cpu_s": events / used if used else None,
                "transactions": written, "changes_per_transaction": (engine.journal.entries - entries) / written
                if written else None}
    finally:
        await engine.stop()
        if db is not None:
            await db.close()


async def storm(url: str | None, customers: int = 1000, n_agents: int = 50) -> dict[str, Any]:
    """Customers arrive within a second while agents come online; offers are timed from routability."""
    agents = [f"agent{i}@bench" for i in range(n_agents)]
    engine, outbox, db = await new_engine(url, agents, status_interval=1.0)
    # As the component does once started (App.run): what exists before the storm is left out of the
    # collector's full passes (in this process, the benchmark's earlier phases' too), which otherwise
    # stop the loop for tens of milliseconds.
    gc.collect()
    gc.freeze()
    lags: list[float] = []
    busy: list[float] = []   # of each lag, the loop thread's own CPU time (the rest: waiting for a core)
    stop = asyncio.Event()

    async def lag_monitor() -> None:
        while not stop.is_set():
            before, before_cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.005)
            lag = time.perf_counter() - before - 0.005
            lags.append(lag)
            busy.append(max(0.0, min(lag, time.thread_time() - before_cpu)))

    monitor = asyncio.ensure_future(lag_monitor())
    try:
        arrived: dict[str, float] = {}
        start = time.perf_counter()
        tickets = []
        async def arrive(i: int) -> None:
            t = await engine.join("help", f"c{i}@bench/r", "en", body="hi")
            arrived[t.id] = time.perf_counter()
            tickets.append(t)

        # Customers arrive together (50 at a time), as their messages do: their writes share batches.
        for first_of in range(0, customers, 50):
            await asyncio.gather(*(arrive(i) for i in range(first_of, min(customers, first_of + 50))))
        arrival_s = time.perf_counter() - start
        online_at: dict[str, float] = {}
        for a in agents:
            online_at[f"{a}/r"] = time.perf_counter()
            await engine.agent_presence("help", f"{a}/r", "chat", 3)
            for _ in range(3):
                await asyncio.sleep(0)  # the offers go out
        first = outbox.offers[:n_agents * 3]
        # A customer became routable when an agent free for them came online (they were all waiting already).
        first_ms = sorted((when - max(arrived[ticket], online_at[agent])) * 1000 for ticket, agent, when in first)
        # Agents accept every offer until each holds all its conversations (an agent is offered one
        # customer at a time: each acceptance brings the next offer), then close them one by one:
        # time the next offer after each close.
        while offered := next((t for t in engine.tickets.values() if t.state == "offered"), None):
            await engine.accept(offered.id, next(iter(offered.offers)))
            await asyncio.sleep(0)  # the next offer goes out
        after_close: list[float] = []
        for _ in range(200):
            active = next((t for t in engine.tickets.values() if t.state == "active"), None)
            if active is None:
                break
            offers_before = len(outbox.offers)
            closed_at = time.perf_counter()
            await engine.close(active.id, active.agent)
            await asyncio.sleep(0)  # the offer goes out
            if len(outbox.offers) > offers_before:
                ticket, agent, when = outbox.offers[offers_before]
                after_close.append((when - closed_at) * 1000)
                await engine.accept(ticket, agent)
        await asyncio.sleep(1.2)  # one status batch at status_interval
        stop.set()
        await monitor
        return {"customers": customers, "agents": n_agents, "arrival_s": arrival_s,
                "first_offers": len(first_ms), "first_p50_ms": percentile(first_ms, 50),
                "first_p99_ms": percentile(first_ms, 99), "after_close": len(after_close),
                "after_close_p50_ms": percentile(sorted(after_close), 50),
                "after_close_p99_ms": percentile(sorted(after_close), 99),
                "status_notices": outbox.notices, "loop_lag_max_ms": max(lags) * 1000 if lags else None,
                "loop_lag_p99_ms": percentile(sorted(lags), 99) * 1000 if lags else None,
                "loop_lag_over_20ms": sum(1 for lag in lags if lag > 0.020),
                "loop_busy_max_ms": max(busy) * 1000 if busy else None,
                "loop_busy_over_20ms": sum(1 for b in busy if b > 0.020)}
    finally:
        stop.set()
        monitor.cancel()
        gc.unfreeze()
        await engine.stop()
        if db is not None:
            await db.close()


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg())}


async def run_all(folder: Path, sample: int, seconds: float) -> dict[str, Any]:
    pg = os.environ.get("SWITCHBOARD_BENCH_PG")
    out: dict[str, Any] = {"machine_before": machine()}
    sqlite = lambda name: f"sqlite+aiosqlite:///{folder / name}"  # noqa: E731
    out["join_leave_sqlite"] = await join_leave_cost(sqlite("sizes.sqlite"), SIZES, sample)
    out["join_leave_memory"] = await join_leave_cost(None, SIZES, sample)
    out["bytes_per_waiting"] = await memory_per_waiting(10_000)
    out["routing_sqlite"] = await routing_rate(sqlite("rate.sqlite"), seconds)
    out["routing_sqlite_concurrent"] = await routing_rate(sqlite("rate-c.sqlite"), seconds, CONCURRENT)
    if pg:
        out["routing_postgresql"] = await routing_rate(pg, seconds)
        out["routing_postgresql_concurrent"] = await routing_rate(pg, seconds, CONCURRENT)
    out["storm_sqlite"] = await storm(sqlite("storm.sqlite"))
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["machine_after"] = machine()
    return out


def render(r: dict[str, Any]) -> str:
    lines = ["# Support engine in a storm (one process, no network)", "",
             f"Machine: {r['machine_before']['cpus']} CPUs; load average before {r['machine_before']['loadavg']}, "
             f"after {r['machine_after']['loadavg']} (a load above one core means other work shared the machine:"
             " the figures are then upper bounds of the cost). One process, one core used.", "",
             "## Join and departure cost by queue size (CPU per event)", "",
             "| waiting | join, SQLite | leave, SQLite | join, engine only | leave, engine only |",
             "|---:|---:|---:|---:|---:|"]
    for db_row, mem_row in zip(r["join_leave_sqlite"], r["join_leave_memory"]):
        lines.append(f"| {db_row['waiting']:,} | {db_row['join_us']:.0f} µs | {db_row['leave_us']:.0f} µs | "
                     f"{mem_row['join_us']:.0f} µs | {mem_row['leave_us']:.0f} µs |")
    lines += ["", f"Memory per waiting customer (engine, 10,000 waiting): **{r['bytes_per_waiting']:,.0f} bytes**.", ""]
    lines += ["## Routing events per second, one core", ""]
    for key, name in (("routing_sqlite", "SQLite"), ("routing_sqlite_concurrent", "SQLite"),
                      ("routing_postgresql", "PostgreSQL"), ("routing_postgresql_concurrent", "PostgreSQL")):
        if key in r:
            x = r[key]
            who = "one customer at a time" if x.get("workers", 1) == 1 else f"{x['workers']} customers at a time"
            per = f"; {x['changes_per_transaction']:.1f} changes per transaction" \
                if x.get("changes_per_transaction") else ""
            lines.append(f"- {name}, {who}: **{x['events_per_s']:,.0f} events/s** ({x['events']:,} events, "
                         f"{x['served']:,} conversations in {x['elapsed_s']:.1f} s; "
                         f"{x['events_per_cpu_s']:,.0f} events per CPU-second{per})")
    s = r["storm_sqlite"]
    lines += ["", "## Storm: 1,000 customers at once, 50 agents x 3 chats (SQLite)", "",
              f"- {s['customers']:,} customers joined in {s['arrival_s']:.2f} s;",
              f"- the first {s['first_offers']} offers: p50 {s['first_p50_ms']:.1f} ms, p99 {s['first_p99_ms']:.1f} ms "
              "from the moment each customer became routable (its agent online);",
              f"- next offer after a close ({s['after_close']} closes): p50 {s['after_close_p50_ms']:.2f} ms, "
              f"p99 {s['after_close_p99_ms']:.2f} ms;",
              f"- status messages sent: {s['status_notices']:,}; loop lag p99 {s['loop_lag_p99_ms']:.1f} ms, "
              f"max {s['loop_lag_max_ms']:.1f} ms, {s.get('loop_lag_over_20ms', '?')} stalls over 20 ms; of each "
              f"stall, the loop's own CPU work: max {s.get('loop_busy_max_ms') or 0:.1f} ms, "
              f"{s.get('loop_busy_over_20ms', '?')} over 20 ms (the rest of a stall is waiting for a core);",
              f"- peak memory of the process: {r['max_rss_mb']:.0f} MB.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.support_storm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=300, help="joins and departures timed per size")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the routing-rate run")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    base = "/dev/shm" if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="switchboard-storm-", dir=base) as folder:
        results = asyncio.run(run_all(Path(folder), args.sample, args.seconds))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "support_storm.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "support_storm.md").write_text(render(results), encoding="utf-8")
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
