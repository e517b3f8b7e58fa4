"""The support queue under load: many waiting customers, agents taking and closing conversations.

Customers are plain clients: each writes one chat message to the queue JID
carrying its send time (``T<ns>``); the plugin quotes that first message in the
offer it sends an agent, so the agent side can time the offer. Agents are plain
clients too (they answer disco#info with no features, so offers come as chat
messages from the conversation JID): on an offer they answer ``accept`` and then
``/close``, which frees the slot for the next customer.

Offer latency of one offer = its arrival minus the later of (the customer's
message, the agent's previous ``/close``): how long routing took once an offer
was possible. Routing throughput = conversations offered per second until every
customer had been offered.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from . import procstat
from .loadgen import LoadGen
from .stack import SUPPORT, Stack
from .stats import percentile

QUEUE = "help"
MAX_CHATS = 3


def services(agents: list[str], customers: int) -> dict[str, dict[str, dict]]:
    return {SUPPORT: {"mam": {}, "support": {
        "queues": [{"name": QUEUE, "agents": agents, "strategy": "round-robin", "max_waiting": customers + 100,
                    "offer_timeout": 60.0, "grace_period": 600.0, "max_chats": MAX_CHATS}],
        # Plain clients in the benchmark answer no liveness probes: rely on presence only.
        "liveness_interval": 0.0}}}


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


def run(stack: Stack, settings: Any, progress: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        from component.plugin import plugin_class

        plugin_class("support")
    except Exception as exc:  # noqa: BLE001 - the queue may not be in this checkout
        return {"skipped": f"the support plugin is not available ({exc})"}
    n_agents, n_customers = settings.support_agents, settings.support_customers
    agent_names = [f"agent{i}" for i in range(n_agents)]
    comp = stack.component(services([f"{a}@localhost" for a in agent_names], n_customers), name="component-support")
    comp.start()
    lg = LoadGen(stack.c2s, settings.workers)
    try:
        t = time.monotonic()
        agents = lg.login(agent_names)
        customers = lg.login([f"customer{i}" for i in range(n_customers)])
        progress(f"  logged in {n_agents} agents and {n_customers} customers in {time.monotonic() - t:.1f} s")
        # CPU of each side over the run, to say what limited it (the server, the component, the generator).
        cpu_pids: dict[str, int | list[int]] = {"prosody": stack.prosody_pid, "component": comp.pid,
                                                "loadgen": lg.pids, "machine": 0}

        def load() -> dict[str, Any]:
            before, started = procstat.cpu_many(cpu_pids), time.monotonic()
            outcome = lg.support(agents, customers, f"{QUEUE}@{SUPPORT}", MAX_CHATS, timeout=settings.support_timeout_s)
            after = procstat.cpu_many(cpu_pids)
            outcome["cpu_s"] = {name: round(after[name] - before[name], 2) for name in cpu_pids}
            outcome["cpu_window_s"] = time.monotonic() - started  # queueing included: longer than elapsed_s
            return outcome

        if settings.profile:
            from .profiling import sample

            # Sampled from the start: customers queueing, then agents draining the queue.
            out["profile"], result = sample(comp.pid, 30, load, stack.state / "profile", name="support")
        else:
            result = load()
    finally:
        lg.close()
        comp.stop()
    lat = sorted(result["latencies_ms"])
    offered = len(lat)
    out.update(customers=n_customers, agents=n_agents, offered=offered,
               offer_p50_ms=percentile(lat, 50), offer_p99_ms=percentile(lat, 99),
               offer_max_ms=lat[-1] if lat else None,
               routing_per_s=offered / result["elapsed_s"] if result["elapsed_s"] else 0.0,
               elapsed_s=result["elapsed_s"], not_offered=n_customers - offered,
               customers_unanswered_when_queueing=result["unanswered"], queueing_s=result["queued_s"])
    if result.get("cpu_window_s"):
        # Share of one core each side used over the run (the machine: of all its cores together).
        out["cpu_share_of_a_core"] = {name: round(seconds / result["cpu_window_s"], 2)
                                      for name, seconds in result["cpu_s"].items()}
    progress(f"  support: {offered}/{n_customers} offered in {result['elapsed_s']:.1f} s "
             f"({out['routing_per_s']:.0f}/s), offer latency p50 {out['offer_p50_ms']:.1f} ms, "
             f"p99 {out['offer_p99_ms']:.1f} ms; CPU (share of a core) {out.get('cpu_share_of_a_core')}")
    out["cpu_per_event_by_size"] = cost_by_size(settings)
    bot = retrieval(settings.kb_entries)
    if "skipped" not in bot:
        out.update(kb_entries=bot["entries"], retrieval_ms=bot["p50_ms"], retrieval_p99_ms=bot["p99_ms"],
                   retrieval_cpu_ms=bot.get("cpu_p50_ms"))
        progress(f"  bot retrieval over {bot['entries']} entries: p50 {bot['p50_ms']:.2f} ms")
    else:
        out["retrieval"] = bot["skipped"]
    return out
