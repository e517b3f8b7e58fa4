"""The benchmark scenarios, each run side by side: Prosody's own MUC (native) vs our rooms domain (ours).

Every scenario alternates the two sides (A B A B ...) on the same Prosody, with
the same clients and the same room size, and keeps each repetition's figures
so the report can quote medians and ratios.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import procstat
from .loadgen import LoadGen, Sender, TrafficResult
from .stack import NATIVE, ROOMS, ComponentProcess, Stack
from .stats import latency_summary_ms, median, ratio

log = logging.getLogger("bench")

SIDES = {"native": NATIVE, "ours": ROOMS}


@dataclass
class Settings:
    mode: str = "full"
    reps: int = 3
    duration: float = 5.0           #: seconds of load per run (warm-up included)
    warmup: float = 1.0
    workers: int = 2
    fanout_shapes: list[tuple[int, int]] = field(default_factory=lambda: [(20, 5), (100, 1)])
    #: archiving off vs on: the first fan-out shape, and a small room where the component's own work weighs most
    archive_shapes: list[tuple[int, int]] = field(default_factory=lambda: [(20, 5), (2, 2)])
    archive_reps: int = 5
    #: saturated runs: deliveries in flight per room (messages x occupants), shared by the senders; enough
    #: to keep the server busy, small enough not to build seconds of queue on a slow machine
    inflight: int = 400
    paced_rate: float = 200.0       #: paced run: messages per second into the room
    paced_occupants: int = 20
    paced_senders: int = 5
    ceiling_pairs: int = 5
    mam_sizes: list[int] = field(default_factory=lambda: [10_000, 100_000, 1_000_000])
    mam_queries: int = 15           #: queries per size, kind and side in each repetition
    join_sizes: list[int] = field(default_factory=lambda: [10, 100, 1000])
    join_reps: int = 5
    join_fill_budget_s: float = 90.0   #: longest a room may take to fill, per side
    idle_budget_s: float = 40.0        #: longest the idle rooms may take to create, per side
    idle_rooms: int = 10_000
    postgres: bool = True
    profile: bool = True
    support: bool = True
    support_customers: int = 1000
    support_agents: int = 50
    support_timeout_s: float = 60.0     #: for each phase: customers queueing, agents draining
    support_talk_s: float = 2.0         #: an agent closes each conversation this long after accepting it
    #: customers arrive evenly over this many seconds (the issue's storm: 1,000 within a second); 0: all at once
    support_arrival_s: float = 1.0
    kb_entries: int = 10_000
    #: ejabberd scenario: repetitions per side in each process-count block (12 runs per repetition)
    ejabberd_reps: int = 2

    @classmethod
    def for_mode(cls, mode: str) -> "Settings":
        if mode == "full":
            return cls()
        if mode == "quick":
            return cls(mode="quick", duration=3.0, mam_sizes=[10_000, 100_000], mam_queries=10,
                       join_sizes=[10, 100], join_reps=3, idle_rooms=2000, postgres=False, support_customers=300,
                       support_agents=20)
        if mode == "tiny":
            return cls(mode="tiny", reps=1, duration=1.2, warmup=0.3, workers=1, fanout_shapes=[(4, 2)],
                       archive_shapes=[(4, 2)], archive_reps=1, inflight=4, paced_rate=20, paced_occupants=4,
                       paced_senders=2, ceiling_pairs=1,
                       mam_sizes=[300], mam_queries=2, join_sizes=[3], join_reps=1, idle_rooms=10,
                       postgres=False, profile=False, support=True, support_customers=8, support_agents=2,
                       support_timeout_s=60, support_talk_s=2.0, kb_entries=200)
        raise ValueError(f"unknown mode {mode!r}")


def muc_options() -> dict[str, Any]:
    """Our MUC configured like the native one: rooms open at once, every room archived."""
    wanted = {"lock_new_rooms": False, "default_archiving": "on", "history_length": 20}
    try:
        from plugins.muc.plugin import MucOptions
    except ImportError:
        return {}
    known = {f.name for f in dataclasses.fields(MucOptions)}
    return {k: v for k, v in wanted.items() if k in known}


def rooms_services() -> dict[str, dict[str, dict]]:
    return {ROOMS: {"muc": muc_options(), "mam": {}}}


def _traffic_summary(result: TrafficResult, occupants: int) -> dict[str, Any]:
    deliveries = result.received_window
    out: dict[str, Any] = {
        "deliveries_per_s": result.deliveries_per_s,
        "messages_per_s": result.deliveries_per_s / occupants if occupants else 0.0,
        "sent": result.sent,
        "received": result.received,
        "expected": result.expected,
        "lost": result.lost,
        "cpu_s": result.cpu,
        "window_s": result.duration,
        "deliveries_per_read": result.received / result.reads if result.reads else float("nan"),
        **latency_summary_ms(result.latencies_ns),
    }
    for name, seconds in result.cpu.items():
        out[f"cpu_us_per_delivery_{name}"] = seconds / deliveries * 1e6 if deliveries else float("nan")
        out[f"cpu_share_{name}"] = seconds / result.duration if result.duration else float("nan")
    return out


class Bench:
    def __init__(self, settings: Settings, stack: Stack, progress: Callable[[str], None] = print) -> None:
        self.s = settings
        self.stack = stack
        self.say = progress
        self.lg: LoadGen | None = None
        self.comp: ComponentProcess | None = None
        self.clients: list[int] = []
        self.results: dict[str, Any] = {}
        self.joined: dict[str, int] = {}   # room local part -> clients joined so far (both sides)
        self.room_prefix = ""                # fresh room names for a second component (PostgreSQL)

    # -- set-up -----------------------------------------------------------
    def start(self) -> None:
        t = time.monotonic()
        self.stack.start()
        self.comp = self.stack.component(rooms_services())
        self.comp.start()
        self.lg = LoadGen(self.stack.c2s, self.s.workers)
        self.results["setup"] = {"start_s": time.monotonic() - t,
                                 "component_rss_start": procstat.rss_bytes(self.comp.pid),
                                 "prosody_rss_start": procstat.rss_bytes(self.stack.prosody_pid)}

    def ensure_clients(self, count: int) -> list[int]:
        assert self.lg is not None
        if len(self.clients) < count:
            t = time.monotonic()
            first = len(self.clients)
            self.clients += self.lg.login([f"bench{i}" for i in range(first, count)], register=True)
            self.say(f"  logged in {count - first} clients in {time.monotonic() - t:.1f} s")
        return self.clients[:count]

    def fill_room(self, local: str, count: int) -> None:
        """Both sides' `local` room holds clients 0..count-1."""
        assert self.lg is not None
        have = self.joined.get(local, 0)
        if have >= count:
            return
        members = [(g, f"n{g}") for g in self.ensure_clients(count)[have:]]
        for domain in SIDES.values():
            self.lg.join(f"{local}@{domain}", members)
        self.lg.quiesce()
        self.joined[local] = count

    def pids(self) -> dict[str, int]:
        assert self.comp is not None
        return {"prosody": self.stack.prosody_pid, "component": self.comp.pid}

    def close(self) -> None:
        if self.lg is not None:
            self.lg.close()
            self.lg = None

    # -- scenarios --------------------------------------------------------
    def ceiling(self) -> None:
        """1:1 headline messages through Prosody: what the load generator sustains without any MUC."""
        assert self.lg is not None
        n = self.lg.n
        pairs = []
        g = 0
        while len(pairs) < self.s.ceiling_pairs:
            # Peers in the same worker, so a receipt frees the sender's window slot directly.
            if (g // n) % 2 == 0:
                pairs.append((g, g + n))
            g += 1
        self.ensure_clients(max(b for _, b in pairs) + 1)
        # headline: never archived nor stored offline, so this is routing alone.
        senders = [Sender(a, self.lg.jid(b), kind="headline", window=max(2, self.s.inflight // 8 // len(pairs)))
                   for a, b in pairs]
        runs = []
        for _ in range(self.s.reps):
            r = self.lg.traffic(senders, duration=self.s.duration, warmup=self.s.warmup, fanout=1,
                                cpu_pids=self.pids(), ack_any=True)
            runs.append(_traffic_summary(r, 1))
            self.lg.quiesce()
        self.results["ceiling"] = {"pairs": len(pairs), "runs": runs,
                                   "deliveries_per_s": median(r["deliveries_per_s"] for r in runs),
                                   "loadgen_us_per_delivery": median(r["cpu_us_per_delivery_loadgen"] for r in runs),
                                   "lost": sum(r["lost"] for r in runs)}
        c = self.results["ceiling"]
        self.say(f"  ceiling: {c['deliveries_per_s']:.0f} 1:1 deliveries/s, load generator "
                 f"{c['loadgen_us_per_delivery']:.1f} µs CPU per delivery, lost {c['lost']}")

    def _ab(self, name: str, run: Callable[[str, str], dict[str, Any]]) -> dict[str, Any]:
        """Alternate native / ours `reps` times; medians per side and the ratio ours/native."""
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
        for rep in range(self.s.reps):
            for side, domain in SIDES.items():
                result = run(side, domain)
                runs[side].append(result)
                self.say(f"  {name} rep {rep + 1} {side}: " + ", ".join(
                    f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in result.items() if k in ("deliveries_per_s", "p50_ms", "p99_ms", "lost")))
        return {"runs": runs}

    @staticmethod
    def _medians(block: dict[str, Any], keys: list[str]) -> None:
        block["median"] = {side: {k: median(r[k] for r in runs if k in r) for k in keys}
                           for side, runs in block["runs"].items()}
        block["ratio"] = {k: ratio(block["median"]["ours"][k], block["median"]["native"][k]) for k in keys}

    def fanout(self) -> None:
        assert self.lg is not None
        out = {}
        keys = ["deliveries_per_s", "lost", "p50_ms", "p99_ms", "cpu_us_per_delivery_prosody",
                "cpu_us_per_delivery_component", "cpu_us_per_delivery_loadgen", "cpu_share_prosody",
                "cpu_share_component", "cpu_share_loadgen"]
        for occupants, nsenders in self.s.fanout_shapes:
            local = f"{self.room_prefix}fan{occupants}"
            self.fill_room(local, occupants)
            window = max(1, self.s.inflight // (occupants * nsenders))

            def run(side: str, domain: str) -> dict[str, Any]:
                senders = [Sender(g, f"{local}@{domain}", window=window) for g in self.clients[:nsenders]]
                r = self.lg.traffic(senders, duration=self.s.duration, warmup=self.s.warmup, fanout=occupants,
                                    cpu_pids=self.pids())
                self.lg.quiesce()
                return _traffic_summary(r, occupants)

            block = self._ab(f"fan-out {occupants}x{nsenders}", run)
            block.update(occupants=occupants, senders=nsenders, window_per_sender=window)
            self._medians(block, keys)
            out[f"{occupants}x{nsenders}"] = block
        self.results["fanout"] = out

    def archive_cost(self) -> None:
        """Our rooms only: the same saturated fan-out into a room with archiving off and one with it on.

        Per shape, two measurements on the same Prosody and component process:
        - side by side: both rooms loaded at once (disjoint occupants, same senders and window), so
          whatever slows Prosody in a given second slows both; the ratio of their deliveries is the
          throughput figure. Run after run on this machine Prosody's CPU per delivery varies by ±20%
          for identical work, which one room after the other cannot tell from archiving;
        - one after the other (off, on / on, off alternating): what each costs the component in CPU.
        The first shape is the first fan-out shape (Prosody saturates); in the small room the
        component's per-message work, archive write included, weighs most.
        """
        assert self.lg is not None
        shapes = {}
        for occupants, nsenders in self.s.archive_shapes:
            shapes[f"{occupants}x{nsenders}"] = self._archive_cost_shape(occupants, nsenders)
        worst = min(block["throughput_ratio"] for block in shapes.values())
        self.results["archive_cost"] = {"shapes": shapes, "throughput_ratio": worst, "target": 0.85,
                                        "met": worst >= 0.85}

    def _archiving_room(self, room: str, members: list[int], on: bool) -> None:
        """``room`` holds ``members``; its first joiner created it and set archiving explicitly."""
        assert self.lg is not None
        if self.joined.get(room, 0) >= len(members):
            return
        nicks = [(g, f"n{g}") for g in members]
        self.lg.join(room, nicks[:1])
        self.lg.quiesce()
        [answer] = self.lg.iq_times(members[0], room, [archiving_form(on)])
        if answer["error"]:
            raise RuntimeError(f"configuring {room} (archiving {'on' if on else 'off'}) failed: {answer}")
        self.lg.join(room, nicks[1:])
        self.lg.quiesce()
        self.joined[room] = len(members)

    def _archive_cost_shape(self, occupants: int, nsenders: int) -> dict[str, Any]:
        assert self.lg is not None
        shape = f"{occupants}x{nsenders}"
        window = max(1, self.s.inflight // (occupants * nsenders))
        reps = self.s.archive_reps
        clients = self.ensure_clients(2 * occupants)
        members = {"on": clients[:occupants], "off": clients[occupants:2 * occupants]}
        rooms = {state: f"{self.room_prefix}arc{state}{shape}@{ROOMS}" for state in ("off", "on")}
        for state, room in rooms.items():
            self._archiving_room(room, members[state], on=state == "on")

        side_by_side = []
        for rep in range(reps):
            # The load generator refills windows in list order: alternate which room goes first.
            order = ("on", "off") if rep % 2 == 0 else ("off", "on")
            senders = [Sender(g, rooms[state], window=window) for state in order for g in members[state][:nsenders]]
            r = self.lg.traffic(senders, duration=self.s.duration, warmup=self.s.warmup, fanout=occupants,
                                cpu_pids=self.pids())
            self.lg.quiesce()
            rate = {state: sum(r.window_by_client.get(g, 0) for g in members[state]) / r.duration
                    for state in ("off", "on")}
            run = {"off_deliveries_per_s": rate["off"], "on_deliveries_per_s": rate["on"],
                   "ratio": ratio(rate["on"], rate["off"]), "lost": r.lost, "received": r.received,
                   "first": order[0]}
            side_by_side.append(run)
            self.say(f"  archive cost {shape} side by side rep {rep + 1}: off {rate['off']:.1f}, on {rate['on']:.1f} "
                     f"deliveries/s, on/off {run['ratio']:.3f}, lost={r.lost}")

        runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        for rep in range(reps):
            # off, on, then on, off: a drift over the run (the machine, Prosody's heap) hits both alike.
            order = ("off", "on") if rep % 2 == 0 else ("on", "off")
            for state in order:
                senders = [Sender(g, rooms[state], window=window) for g in members[state][:nsenders]]
                r = self.lg.traffic(senders, duration=self.s.duration, warmup=self.s.warmup, fanout=occupants,
                                    cpu_pids=self.pids())
                self.lg.quiesce()
                result = _traffic_summary(r, occupants)
                runs[state].append(result)
                self.say(f"  archive cost {shape} rep {rep + 1} archiving {state}: "
                         f"deliveries_per_s={result['deliveries_per_s']:.1f}, "
                         f"component_us={result['cpu_us_per_delivery_component']:.1f}, lost={result['lost']}")
        # What the archive holds afterwards proves each room was configured as labelled.
        archived = {state: self.lg.iq_times(members[state][0], room, [MAM_PROBE])[0]
                    for state, room in rooms.items()}
        keys = ["deliveries_per_s", "lost", "p50_ms", "p99_ms", "cpu_us_per_delivery_prosody",
                "cpu_us_per_delivery_component", "cpu_share_prosody", "cpu_share_component"]
        med = {state: {k: median(r[k] for r in rs if k in r) for k in keys} for state, rs in runs.items()}
        together = median(run["ratio"] for run in side_by_side)
        # The component's CPU for one message (all its deliveries included), off and on.
        per_message = {state: med[state]["cpu_us_per_delivery_component"] * occupants for state in ("off", "on")}
        block = {"occupants": occupants, "senders": nsenders, "window_per_sender": window, "reps": reps,
                 "rooms": rooms, "side_by_side": side_by_side, "throughput_ratio": together,
                 "target": 0.85, "met": together >= 0.85,
                 "order": "off, on / on, off alternating", "runs": runs, "median": med,
                 "ratio_on_off": {k: ratio(med["on"][k], med["off"][k]) for k in keys},
                 "sequential_ratio": ratio(med["on"]["deliveries_per_s"], med["off"]["deliveries_per_s"]),
                 "component_us_per_message": per_message,
                 "component_us_per_message_archiving": per_message["on"] - per_message["off"],
                 # Throughput if the component were the bottleneck, at this load's batch sizes.
                 "component_capacity_ratio": ratio(per_message["off"], per_message["on"]),
                 "archived_probe": {state: {"forwarded": a["forwarded"], "error": a["error"]}
                                    for state, a in archived.items()}}
        if archived["off"]["forwarded"] or archived["on"]["forwarded"] == 0:
            block["warning"] = ("the archive probe does not match the labels (off room archived something, "
                                "or on room archived nothing)")
            self.say(f"  warning: {block['warning']}: {block['archived_probe']}")
        off, on = med["off"], med["on"]
        self.say(f"  archive cost {shape}: side by side on/off {together:.3f} (target >= 0.85: "
                 f"{'met' if together >= 0.85 else 'NOT met'}); one after the other off "
                 f"{off['deliveries_per_s']:.0f} vs on {on['deliveries_per_s']:.0f} deliveries/s; component "
                 f"{per_message['off']:.0f} vs {per_message['on']:.0f} us/message")
        return block

    def paced(self) -> None:
        # On a busy machine Prosody may not sustain the nominal rate at all: a paced run above
        # capacity only measures a queue that grows for the whole run (and spills into the next
        # runs), so then both sides are compared at 30% of native's measured capacity instead
        # (the capacity itself moves with the other work on a shared machine).
        fan = self.results.get("fanout", {})
        native_capacity = next(iter(fan.values()))["median"]["native"]["deliveries_per_s"] if fan else 0.0
        needed = self.s.paced_rate * self.s.paced_occupants
        if native_capacity and native_capacity < 1.25 * needed:
            rate = max(1.0, round(0.3 * native_capacity / self.s.paced_occupants))
            why = (f"native's saturated capacity on this machine during the run ({native_capacity:.0f} "
                   f"deliveries/s, fan-out {next(iter(fan))}) is below what {self.s.paced_rate:.0f} msg/s x "
                   f"{self.s.paced_occupants} occupants needs ({needed:.0f} deliveries/s)")
            self.say(f"  {why}: measuring at {rate:.0f} msg/s instead")
            self.results["paced"] = {"skipped": why, "rate": self.s.paced_rate, "occupants": self.s.paced_occupants}
            block = self._paced(rate)
            block["why"] = why
            self.results["paced_below_saturation"] = block
        else:
            self.results["paced"] = self._paced(self.s.paced_rate)

    def _paced(self, rate: float) -> dict[str, Any]:
        assert self.lg is not None
        occupants = self.s.paced_occupants
        local = f"{self.room_prefix}fan{occupants}"
        self.fill_room(local, occupants)
        per_sender = rate / self.s.paced_senders

        def run(side: str, domain: str) -> dict[str, Any]:
            senders = [Sender(g, f"{local}@{domain}", rate=per_sender) for g in self.clients[:self.s.paced_senders]]
            r = self.lg.traffic(senders, duration=self.s.duration, warmup=self.s.warmup, fanout=occupants,
                                cpu_pids=self.pids())
            self.lg.quiesce()
            return _traffic_summary(r, occupants)

        block = self._ab(f"paced {rate:.0f} msg/s", run)
        block.update(occupants=occupants, rate=rate, senders=self.s.paced_senders)
        self._medians(block, ["p50_ms", "p90_ms", "p99_ms", "max_ms", "lost", "deliveries_per_s",
                              "cpu_share_prosody", "cpu_share_component"])
        return block

    def profile(self, seconds: float | None = None) -> None:
        """One extra saturated run on our side with a sampling profiler attached to the component."""
        from .profiling import profile_component

        assert self.lg is not None and self.comp is not None
        occupants, nsenders = self.s.fanout_shapes[0]
        local = f"{self.room_prefix}fan{occupants}"
        self.fill_room(local, occupants)
        window = max(1, self.s.inflight // (occupants * nsenders))
        duration = seconds or max(self.s.duration, 4.0)
        senders = [Sender(g, f"{local}@{ROOMS}", window=window) for g in self.clients[:nsenders]]

        def load() -> TrafficResult:
            return self.lg.traffic(senders, duration=duration, warmup=0.5, fanout=occupants, cpu_pids=self.pids())

        result = profile_component(self.comp.pid, duration - 0.5, load, self.stack.state / "profile")
        self.lg.quiesce()
        self.results["profile"] = result
        self.say(f"  profile: {result.get('tool')} {result.get('samples', 0)} samples")

    def joins(self) -> None:
        assert self.lg is not None and self.comp is not None
        local = "joinbench"
        sizes = self.s.join_sizes
        joiner = self.ensure_clients(max(sizes) + 1)[max(sizes)]
        out: dict[str, Any] = {"sizes": {}}
        rss = {"component": procstat.rss_bytes(self.comp.pid), "prosody": procstat.rss_bytes(self.stack.prosody_pid)}
        deltas = {"native": 0, "ours": 0}
        have = 0
        rate = 0.0   # presence deliveries per second while filling the last room size (slowest side)
        for size in sizes:
            # Filling to n occupants costs about n*n presence deliveries on each side; on a busy
            # machine the biggest room may not fit the time budget: skip it and say so.
            cost = size * size - have * have
            if rate and cost / rate > self.s.join_fill_budget_s:
                out.setdefault("skipped", []).append(
                    {"size": size, "why": f"filling would take about {cost / rate:.0f} s per side at the "
                                          f"{rate:.0f} presence deliveries/s measured so far "
                                          f"(budget {self.s.join_fill_budget_s:.0f} s)"})
                self.say(f"  join {size}: skipped, {out['skipped'][-1]['why']}")
                continue
            members = [(g, f"n{g}") for g in self.clients[have:size]]
            rates = []
            for side, domain in SIDES.items():
                pid = self.comp.pid if side == "ours" else self.stack.prosody_pid
                before = procstat.rss_bytes(pid)
                t = time.monotonic()
                self.lg.join(f"{local}@{domain}", members)
                self.lg.quiesce()
                deltas[side] += procstat.rss_bytes(pid) - before
                elapsed = time.monotonic() - t
                rates.append(cost / elapsed if elapsed > 0 else 0.0)
                self.say(f"  filled {local}@{domain} to {size} in {elapsed:.1f} s")
            rate = min(rates)
            have = size

            def run(side: str, domain: str) -> dict[str, Any]:
                times = self.lg.join_times(joiner, f"{local}@{domain}", "joiner", self.s.join_reps)
                return {"join_ms": median(times) * 1000, "all_ms": [x * 1000 for x in times]}

            block = self._ab(f"join {size}", run)
            self._medians(block, ["join_ms"])
            out["sizes"][str(size)] = block
            self.say(f"  join into {size}: native {block['median']['native']['join_ms']:.1f} ms, "
                     f"ours {block['median']['ours']['join_ms']:.1f} ms")
        top = have
        out["memory"] = {"occupants": top, "rss_before": rss,
                         "bytes_per_occupant": {side: d / top for side, d in deltas.items()}}
        self.results["joins"] = out

    def idle_rooms(self) -> None:
        """Create N persistent rooms on each side, then read memory (and ours again after a restart)."""
        from .rawxmpp import RawClient

        assert self.comp is not None
        count = self.s.idle_rooms
        client = RawClient(self.stack.c2s, "roommaker", "bench-password", "maker").login(register=True)
        out: dict[str, Any] = {"rooms": count}
        try:
            # A first batch measures the creation rate; the count is cut to fit the time budget.
            probe = min(count, 200)
            for side, domain in SIDES.items():
                t = time.monotonic()
                create_rooms(client, domain, probe, prefix="probe")
                per_room = (time.monotonic() - t) / probe
                fits = int(self.s.idle_budget_s / per_room) if per_room else count
                if fits < count:
                    count = max(probe, fits // 100 * 100)
                    out["reduced"] = (f"{self.s.idle_rooms} rooms would take about "
                                      f"{self.s.idle_rooms * per_room:.0f} s on {side} here; measured with {count}")
            out["rooms"] = count
            for side, domain in SIDES.items():
                pid = self.comp.pid if side == "ours" else self.stack.prosody_pid
                before = procstat.rss_bytes(pid)
                t = time.monotonic()
                create_rooms(client, domain, count)
                elapsed = time.monotonic() - t
                time.sleep(1.0)
                after = procstat.rss_bytes(pid)
                out[side] = {"create_s": elapsed, "rss_before": before, "rss_after": after,
                             "bytes_per_room": (after - before) / count}
                self.say(f"  {count} persistent rooms on {side} in {elapsed:.1f} s: "
                         f"RSS +{(after - before) / 2**20:.1f} MB")
        finally:
            client.close()
        # At rest after a restart: what idle persistent rooms cost a running component. Rooms the
        # time budget left out are added through MUC's own store (same rows the plugin writes,
        # copied from a room created above), so the figure is for the full count.
        self.comp.stop()
        total = count + probe
        if total < self.s.idle_rooms:
            t = time.monotonic()
            total = add_stored_rooms(self.comp.db_url, self.s.idle_rooms)
            out["bulk_added_s"] = time.monotonic() - t
        self.comp.start()
        time.sleep(2.0)
        rest = procstat.rss_bytes(self.comp.pid)
        out["ours"]["rss_after_restart"] = rest
        out["ours"]["rss_fresh_start"] = self.results["setup"]["component_rss_start"]
        out["ours"]["restart_bytes_per_room"] = (rest - self.results["setup"]["component_rss_start"]) / total
        out["rooms_in_database"] = total
        out["created_over_xmpp"] = count + probe
        self.say(f"  ours at rest after a restart with {total} persistent rooms: "
                 f"{(rest - self.results['setup']['component_rss_start']) / 2**20:.1f} MB more than a fresh start")
        self.results["idle_rooms"] = out


def add_stored_rooms(db_url: str, total: int) -> int:
    """Top our rooms domain up to `total` persistent rooms through MUC's store (the component is stopped)."""
    import asyncio

    async def run() -> int:
        from component.storage import Database
        from plugins.muc.store import MucStore, StoredRoom

        db = Database(db_url)
        try:
            store = MucStore(db, ROOMS)
            rooms = await store.load_rooms()
            template = next(r for r in rooms if r.jid.startswith("idle"))
            have = {r.jid for r in rooms}
            n = 0
            while len(have) < total:
                jid = f"bulk{n}@{ROOMS}"
                n += 1
                if jid in have:
                    continue
                await store.save_room(StoredRoom(jid, dict(template.config), created=template.created,
                                                 affiliations=dict(template.affiliations)))
                have.add(jid)
            return len(have)
        finally:
            await db.close()

    return asyncio.run(run())


MAM_PROBE = ("<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>5</max>"
             "<before/></set></query>")


def archiving_form(on: bool) -> str:
    """The owner's room configuration submit that sets only archiving (XEP-0045 §10.2)."""
    return ("<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>"
            "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
            f"<field var='muc#roomconfig_enablearchiving'><value>{1 if on else 0}</value></field></x></query>")


def create_rooms(client: Any, domain: str, count: int, batch: int = 100, prefix: str = "idle") -> None:
    """Create `count` persistent rooms: join, owner form with persistence on, leave; pipelined by batches."""
    from .rawxmpp import MUC_NS, XmppError

    form = ("<x xmlns='jabber:x:data' type='submit'>"
            "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
            "<field var='muc#roomconfig_persistentroom'><value>1</value></field></x>")
    for start in range(0, count, batch):
        parts = []
        names = [f"{prefix}{n}@{domain}" for n in range(start, min(count, start + batch))]
        for n, room in enumerate(names):
            parts.append(f"<presence to='{room}/maker'><x xmlns='{MUC_NS}'><history maxstanzas='0'/></x></presence>"
                         f"<iq type='set' to='{room}' id='c{start + n}'>"
                         f"<query xmlns='{MUC_NS}#owner'>{form}</query></iq>"
                         f"<presence type='unavailable' to='{room}/maker'/>")
        client.send("".join(parts))
        data = client.read_until_iq(f"c{start + len(names) - 1}", timeout=300)
        if b"type='error'" in data and b"<iq" in data:
            # An error IQ means a room was not made persistent: the figures would be wrong.
            for chunk in data.split(b"<iq")[1:]:
                if b"type='error'" in chunk[:200] or b'type="error"' in chunk[:200]:
                    raise XmppError(f"creating rooms on {domain} failed: <iq{chunk[:400]!r}")
