"""The support queue under load: many waiting customers, agents taking and closing conversations.

Customers are plain clients: each writes one chat message to the queue JID and waits for its
position. Agents are plain clients too (they answer disco#info with no features, so offers come as
chat messages from the conversation JID): they accept every offer at once and close each
conversation after half to one and a half ``support_talk_s`` (people do not close in step), so an
agent fills its chats and each close frees a slot for the next customer.

The figures of the issue, measured where the people are (both ways through the server included):
- the first offers (``max_chats`` per agent: 150 with 50 agents x 3) from the moment each became
  routable: the agent online and free, and its previous offer answered (the queue offers an agent one
  customer at a time);
- the next offer after a close, while the agent was full: from the ``/close`` to the offer;
- every customer's time from their message to their position in the queue, the customers arriving
  evenly over ``support_arrival_s`` (1 s: the issue's storm; ``--support-arrival 0`` sends all at once).
Routing throughput = conversations offered per second until every customer had been offered.
"""

from __future__ import annotations

import re
import time
import urllib.request
from typing import Any, Callable

from component.localprocess import free_port

from . import procstat
from .probe import ServerProbe, during
from .support_load import SupportLoad
from .stack import GUEST, SUPPORT, Stack
from .stats import percentile

QUEUE = "help"
MAX_CHATS = 3
#: The storm's phases: customers joining until each was told their place, agents taking their first
#: offers until the last came, then offers after closes (key, label, and where each begins and ends).
PHASES = (("customers_joining", "customers joining", "customers", "joined"),
          ("first_offers", "first offers", "agents", "filled"),
          ("after_closes", "offers after closes", "filled", "last"))


def services(agents: list[str], customers: int) -> dict[str, dict[str, dict]]:
    return {SUPPORT: {"mam": {}, "support": {
        "queues": [{"name": QUEUE, "agents": agents, "strategy": "round-robin", "max_waiting": customers + 100,
                    "offer_timeout": 60.0, "grace_period": 600.0, "max_chats": MAX_CHATS}],
        # Plain clients in the benchmark answer no liveness probes: rely on presence only.
        "liveness_interval": 0.0}}}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def retrieval(entries: int) -> dict[str, Any]:
    try:
        from plugins.support_bot.bench_retrieval import run
    except ImportError as exc:
        return {"skipped": f"the bot's retrieval is not available ({exc})"}
    return run(entries, 500)


def cost_by_size(settings: Any) -> list[dict[str, Any]]:
    """The engine's CPU per join and per departure with 100, 1,000 and 10,000 customers waiting (in this
    process, no database: the routing work itself, which must not grow with the queue)."""
    import asyncio

    from .support_storm import SIZES, join_leave_cost

    sizes = SIZES if settings.mode != "tiny" else (10, 100)
    return asyncio.run(join_leave_cost(None, sizes, 300 if settings.mode != "tiny" else 20))


def _buckets(metrics: str, name: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts (upper bound -> count), every label set added up."""
    found: dict[float, float] = {}
    for le, count in re.findall(rf'^{name}_bucket{{[^}}]*le="([^"]+)"[^}}]*}} (\S+)$', metrics, re.M):
        found[float(le)] = found.get(float(le), 0.0) + float(count)
    return found


def stalls(before: str, after: str) -> dict[str, Any]:
    """From the component's /metrics before and after the storm: its garbage collector's pauses and the
    event loop's lag samples (one every half second), and how many of each took over 25 ms."""
    out: dict[str, Any] = {}
    for key, name in (("gc_pauses", "switchboard_gc_pause_seconds"),
                      ("loop_lag_samples", "switchboard_event_loop_lag_seconds")):
        b, a = _buckets(before, name), _buckets(after, name)
        total = a.get(float("inf"), 0.0) - b.get(float("inf"), 0.0)
        upto = a.get(0.025, 0.0) - b.get(0.025, 0.0)
        out[key], out[f"{key}_over_25ms"] = int(total), int(total - upto)
    return out


def offer_delay(before: str, after: str) -> dict[str, Any]:
    """The component's own share of each offer during the storm, from its
    ``switchboard_support_offer_delay_seconds`` (from the stanza that let the customer be offered
    reaching it to the offer leaving it; the server's delivery comes on top): how many offers it
    timed, the share out within 20 and 50 ms, and the bucket bounds holding the p50 and the p99."""
    name = "switchboard_support_offer_delay_seconds"
    b, a = _buckets(before, name), _buckets(after, name)
    counts = {le: a[le] - b.get(le, 0.0) for le in a}
    total = counts.get(float("inf"), 0.0)
    if not total:
        return {"offers": 0}

    def bound_ms(share: float) -> float | None:
        return next((le * 1000 for le in sorted(counts) if counts[le] >= share * total), None)

    return {"offers": int(total), "within_20ms": counts.get(0.02, 0.0) / total,
            "within_50ms": counts.get(0.05, 0.0) / total, "p50_at_most_ms": bound_ms(0.5),
            "p99_at_most_ms": bound_ms(0.99)}


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        return reply.read().decode()


def storm(stack: Stack, settings: Any, progress: Callable[[str], None], guests: bool,
          profiled: bool = False) -> dict[str, Any]:
    """One storm on a fresh component. ``profiled``: py-spy samples the component all along (it takes
    a third of a core beside it, so that storm's figures are not measurements)."""
    out: dict[str, Any] = {}
    n_agents, n_customers = settings.support_agents, settings.support_customers
    agent_names = [f"agent{i}" for i in range(n_agents)]
    # Each storm's own database: customers who find their last ticket resolved would reopen it.
    name = "component-support" + ("-guests" if guests else "") + ("-profiled" if profiled else "")
    status_port = free_port()  # the component's /metrics: its pauses during the storm
    comp = stack.component(services([f"{a}@localhost" for a in agent_names], n_customers), name=name,
                           status_listen=f"127.0.0.1:{status_port}")
    comp.start()
    lg = SupportLoad(stack.c2s, settings.workers)
    try:
        t = time.monotonic()
        agents = lg.login(agent_names)
        customers = lg.login([f"customer{i}" for i in range(n_customers)], guest_host=GUEST if guests else "")
        progress(f"  logged in {n_agents} agents and {n_customers} {'guest ' if guests else ''}customers in "
                 f"{time.monotonic() - t:.1f} s")
        # CPU of each side over the run, to say what limited it (the server, the component, the generator).
        cpu_pids: dict[str, int | list[int]] = {"prosody": stack.prosody_pid, "component": comp.pid,
                                                "loadgen": lg.pids, "machine": 0}

        def load() -> dict[str, Any]:
            metrics_before = _scrape(status_port)
            probe, timeline = ServerProbe(stack.c2s), procstat.CpuTimeline(cpu_pids)
            probe.start()
            timeline.start()
            before, started = procstat.cpu_many(cpu_pids), time.monotonic()
            try:
                outcome = lg.support(agents, customers, f"{QUEUE}@{SUPPORT}", MAX_CHATS,
                                     timeout=settings.support_timeout_s, talk=settings.support_talk_s,
                                     arrival=settings.support_arrival_s)
            finally:
                samples = probe.stop()
                timeline.stop()
            after = procstat.cpu_many(cpu_pids)
            # Each phase: what the server alone took to deliver meanwhile, and each process's CPU.
            at = outcome["phases"]
            spans = {key: (at[begin], at[end]) for key, _label, begin, end in PHASES}
            outcome["server_probe"] = {name: during(samples, *span) for name, span in spans.items()}
            outcome["cpu_by_phase"] = {name: timeline.shares(*span) for name, span in spans.items()}
            outcome["cpu_s"] = {name: round(after[name] - before[name], 2) for name in cpu_pids}
            outcome["cpu_window_s"] = time.monotonic() - started  # queueing included: longer than elapsed_s
            metrics_after = _scrape(status_port)
            outcome["stalls"] = stalls(metrics_before, metrics_after)
            outcome["offer_delay"] = offer_delay(metrics_before, metrics_after)
            return outcome

        if profiled:
            from .profiling import sample

            # Sampled from the start: customers queueing, then agents draining the queue.
            out["profile"], result = sample(comp.pid, 30, load, stack.state / "profile", name="support")
        else:
            result = load()
    finally:
        lg.close()
        comp.stop()
    first, after_close = sorted(result["first_ms"]), sorted(result["after_close_ms"])
    # The first offers by the agent's round (its 1st, 2nd, 3rd offer): the 1st follows its presence
    # and the question about its client, the others its answer to the one before.
    by_round: dict[int, list[float]] = {}
    for latency, n in zip(result["first_ms"], result.get("first_round", [])):
        by_round.setdefault(n, []).append(latency)
    first_by_round = {str(n): {"offers": len(v), "p50_ms": percentile(sorted(v), 50),
                               "p99_ms": percentile(sorted(v), 99)} for n, v in sorted(by_round.items())}
    told = sorted(result["position_ms"])
    offered = len(first) + len(after_close) + len(result["after_answer_ms"])
    out.update(customers=n_customers, agents=n_agents, max_chats=MAX_CHATS, talk_s=settings.support_talk_s,
               arrival_s=settings.support_arrival_s,
               offered=offered, first_offers=len(first),
               first_offer_p50_ms=percentile(first, 50), first_offer_p99_ms=percentile(first, 99),
               first_offer_by_round=first_by_round,
               after_close_offers=len(after_close), after_answer_offers=len(result["after_answer_ms"]),
               after_close_p50_ms=percentile(after_close, 50), after_close_p99_ms=percentile(after_close, 99),
               position_p50_ms=percentile(told, 50), position_p99_ms=percentile(told, 99),
               position_max_ms=told[-1] if told else None, never_told_position=result["never_told"],
               routing_per_s=offered / result["elapsed_s"] if result["elapsed_s"] else 0.0,
               elapsed_s=result["elapsed_s"], not_offered=n_customers - offered,
               customers_unanswered_when_queueing=result["unanswered"], queueing_s=result["queued_s"],
               component_stalls=result.get("stalls"), component_offer_delay=result.get("offer_delay"),
               server_probe=result.get("server_probe"), cpu_by_phase=result.get("cpu_by_phase"))
    if result.get("cpu_window_s"):
        # Share of one core each side used over the run (the machine: of all its cores together).
        out["cpu_share_of_a_core"] = {name: round(seconds / result["cpu_window_s"], 2)
                                      for name, seconds in result["cpu_s"].items()}
    shown = " (guests)" if guests else " (profiled: not a measurement)" if profiled else ""
    progress(f"  support{shown} (arriving over {settings.support_arrival_s:g} s): "
             f"{offered}/{n_customers} offered in {result['elapsed_s']:.1f} s "
             f"({out['routing_per_s']:.0f}/s); first {len(first)} offers p50/p99 {_ms(out['first_offer_p50_ms'])}/"
             f"{_ms(out['first_offer_p99_ms'])} ms (by round {_by_round(first_by_round)}); "
             f"after a close p50/p99 {_ms(out['after_close_p50_ms'])}/"
             f"{_ms(out['after_close_p99_ms'])} ms; position within p99/max {_ms(out['position_p99_ms'])}/"
             f"{_ms(out['position_max_ms'])} ms; CPU (share of a core) {out.get('cpu_share_of_a_core')}; "
             f"component stalls {out.get('component_stalls')}; {_own_share(out.get('component_offer_delay'))}; "
             f"{_server_floor(out.get('server_probe'))}; CPU by phase {out.get('cpu_by_phase')}")
    return out


def _by_round(rounds: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{n}: {_ms(r['p50_ms'])}/{_ms(r['p99_ms'])}" for n, r in rounds.items()) or "not measured"


def _own_share(delay: dict[str, Any] | None) -> str:
    if not delay or not delay.get("offers"):
        return "component's own share of the offers: not measured"
    return (f"component's own share of {delay['offers']} offers: {delay['within_20ms']:.1%} out within 20 ms, "
            f"{delay['within_50ms']:.1%} within 50 ms, p50 <= {delay['p50_at_most_ms']:g} ms, "
            f"p99 <= {delay['p99_at_most_ms']:g} ms")


def _server_floor(probe: dict[str, Any] | None) -> str:
    """The server's own delivery time in each phase (bench/probe.py)."""
    if not probe:
        return "server's own delivery: not measured"
    return "server's own delivery p50/p99: " + ", ".join(
        f"{label} {_ms(p.get('p50_ms'))}/{_ms(p.get('p99_ms'))} ms"
        for key, label, _begin, _end in PHASES if (p := probe.get(key)) is not None)


def run(stack: Stack, settings: Any, progress: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        from component.plugin import plugin_class

        plugin_class("support")
    except Exception as exc:  # noqa: BLE001 - the queue may not be in this checkout
        return {"skipped": f"the support plugin is not available ({exc})"}
    # Customers with accounts (the server archives every message they get) and website visitors
    # (anonymous guests, nothing archived for them): the same storm for each, on a fresh component.
    out.update(storm(stack, settings, progress, guests=False))
    out["guests"] = storm(stack, settings, progress, guests=True)
    if settings.profile:
        # The report's profile comes from a storm of its own: sampled, the component shares its
        # cores with the sampler, and the measured storms above would not be comparable.
        out["profile"] = storm(stack, settings, progress, guests=False, profiled=True).get("profile")
    out["cpu_per_event_by_size"] = cost_by_size(settings)
    bot = retrieval(settings.kb_entries)
    if "skipped" not in bot:
        out.update(kb_entries=bot["entries"], retrieval_ms=bot["p50_ms"], retrieval_p99_ms=bot["p99_ms"],
                   retrieval_cpu_ms=bot.get("cpu_p50_ms"))
        progress(f"  bot retrieval over {bot['entries']} entries: p50 {bot['p50_ms']:.2f} ms")
    else:
        out["retrieval"] = bot["skipped"]
    return out
