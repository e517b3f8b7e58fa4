"""``kill -9`` of the support component in the middle of a 1,000-customer storm, then a restart.

    python -m bench --only support_crash          # part of `make bench`
    python -m bench.support_crash [--customers N] [--postgres]   # alone: its own Prosody

Prosody, the component as its own process (SQLite; PostgreSQL too with ``--postgres``), raw-socket
customers arriving within one second and agents with three chats each (bench/support_crash_load.py:
many clients per load-generator process). The component is killed with SIGKILL once a third of the
customers have been answered, restarted at once, and the run goes on until every customer's
conversation was closed. Then the database at the kill, the database at the end and what every
client saw are compared:

- every ticket acknowledged to its customer before the kill exists, once (no customer has two);
- every acknowledged customer message is in its ticket's archive and reached the agent after the
  restart (the transcript an agent gets on accepting);
- every message a customer sent is in the archive once, none twice: customers ask for XEP-0184
  receipts and send again what got none (same id and origin-id, as the web widget does), so even
  what the server had written to the killed process's socket arrives (``BURST`` customers write
  just before the kill, so that messages are on their way when it comes); no receipt of the killed
  process names a message that was not stored at the kill;
- the customers waiting at the kill are offered after the restart in the stored order (the offer
  events), before anyone who came later, and are told positions consistent with that order;
- the offers pending at the kill come again to the same agents;
- how long the restart took to serve again (connected, first offer, every pending offer again,
  every position again).

Writes ``results/support_crash.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import threading
import time
from collections import Counter
import re
from pathlib import Path
from typing import Any, Callable

from . import procstat
from .stack import SUPPORT, Stack
from .support import MAX_CHATS, QUEUE, services
from .support_crash_load import CrashLoad
from .support_crash_report import RESULTS, write

HOLD_S = 1.0            #: an agent reads an offer this long before accepting it
TALK_S = 2.0            #: and closes the conversation this long after accepting
SPREAD_S = 1.0          #: every customer arrives within this window
KILL_AT = 1 / 3         #: the kill comes once this share of the customers was answered (and accepts are on their way)
RESEND_AFTER_S = 2.0    #: after the restart, customers who got an error while it was away write again
RESEND_S = 10.0         #: a customer sends a message again this long after its last copy while it has no receipt
FOLLOW_S = 60.0         #: a customer's second message comes at a random moment of this window after the first
BURST = 200             #: customers who write their second message just before the kill (on its way when it dies)
QUIET_S = 20.0          #: the run ends when nothing changed for this long
TIMEOUT_S = 240.0
MARKER = re.compile(r"\[c(\d+)\]")
ANY_MARKER = re.compile(r"\[c(\d+)(?:/(\d+))?\]")  #: a customer's message: [c<number>] first, [c<number>/<seq>] next


async def _snapshot(db_url: str) -> dict[str, Any]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            tickets = (await conn.execute(text(
                "SELECT id, customer, state, priority, queued_at, created_at, offers, agent "
                "FROM support_tickets"))).all()
            events = (await conn.execute(text(
                "SELECT id, ticket, kind, at, actor FROM support_events ORDER BY id"))).all()
            archived = (await conn.execute(text(
                "SELECT archive, stanza FROM mam_messages WHERE archive LIKE 't-%'"))).all()
    finally:
        await engine.dispose()
    waiting = sorted((r for r in tickets if r[2] in ("queued", "offered")), key=lambda r: (-r[3], r[4] or r[5], r[0]))
    offers = {}
    for r in tickets:
        if r[2] == "offered":
            raw = r[6] if isinstance(r[6], dict) else json.loads(r[6] or "{}")
            offers[r[0]] = sorted({full.split("/", 1)[0] for full in raw})
    markers: dict[str, list[int]] = {}
    copies: Counter[tuple[int, int]] = Counter()  # (customer, message) -> archived rows holding it
    for archive, stanza in archived:
        tid = archive.split("@", 1)[0][2:]
        markers.setdefault(tid, []).extend(int(m) for m in MARKER.findall(stanza or ""))
        copies.update({(int(k), int(seq or 1)) for k, seq in ANY_MARKER.findall(stanza or "")})
    return {"tickets": {r[0]: {"customer": r[1], "state": r[2]} for r in tickets},
            "waiting": [r[0] for r in waiting], "offers": offers, "markers": markers, "copies": copies,
            "events": [(r[0], r[1], r[2], r[3]) for r in events],
            "accepts": [tuple(r) for r in events if r[2] == "accepted"]}


def snapshot(db_url: str) -> dict[str, Any]:
    return asyncio.run(_snapshot(db_url))


def _quantiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    pick = (lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else None)
    return {"count": len(ordered), "p50": pick(0.5), "p90": pick(0.9), "max": pick(1.0)}


def _inversions(values: list[float]) -> int:
    """Pairs out of order (adjacent ones: enough to say whether an order holds and how badly)."""
    return sum(1 for a, b in zip(values, values[1:]) if b < a)


def run(stack: Stack, settings: Any, progress: Callable[[str], None], db_url: str | None = None,
        backend: str = "sqlite") -> dict[str, Any]:
    n_customers, n_agents = settings.support_customers, settings.support_agents
    agent_names = [f"agent{i}" for i in range(n_agents)]
    name = f"component-crash-{backend}"
    comp = stack.component(services([f"{a}@localhost" for a in agent_names], n_customers), db_url=db_url, name=name)
    url = comp.db_url
    comp.start()
    lg = CrashLoad(stack.c2s, settings.workers)
    out: dict[str, Any] = {"backend": backend, "customers": n_customers, "agents": n_agents, "max_chats": MAX_CHATS,
                           "hold_s": HOLD_S, "talk_s": TALK_S, "spread_s": SPREAD_S, "kill_at_share": KILL_AT,
                           "resend_after_s": RESEND_AFTER_S, "resend_s": RESEND_S, "follow_s": FOLLOW_S,
                           "loadavg_before": os.getloadavg()}
    try:
        t = time.monotonic()
        agents = lg.login(agent_names)
        customers = lg.login([f"customer{i}" for i in range(n_customers)])
        progress(f"  logged in {n_agents} agents and {n_customers} customers in {time.monotonic() - t:.1f} s")
        lg.quiesce(0.5)
        per_c, per_a = lg.per_worker(customers), lg.per_worker(agents)
        numbers = {g: k for k, g in enumerate(customers)}
        lg._call_all({w: ("setup", (f"{QUEUE}@{SUPPORT}", [(ci, numbers[ci * lg.n + w]) for ci in per_c[w]],
                                    per_a[w], HOLD_S, TALK_S, RESEND_S, FOLLOW_S)) for w in range(lg.n)})
        lg.all("agents_online")
        lg.tick(2.0)
        cpu = _Cpu(comp.pid, stack.prosody_pid, lg.pids)
        start = time.monotonic() + 0.3
        plan: dict[int, list[tuple[int, float]]] = {w: [] for w in range(lg.n)}
        for k, g in enumerate(customers):
            w, ci = lg._locate(g)
            plan[w].append((ci, start + SPREAD_S * k / n_customers))
        lg._call_all({w: ("storm", (v,)) for w, v in plan.items()})
        deadline = start + 180  # a loaded machine answers slowly: a slow storm is a result too
        # The kill falls while customers are still being answered and agents' accepts are being
        # processed (one conversation started, the other agents' accepts on their way).
        while ((counts := lg.tick(0.02))["acked"] < KILL_AT * n_customers or counts["confirmed"] < 1
               or counts["accepts"] < n_agents // 2):
            cpu.read()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the storm was not answered: {counts}")
        cpu.read()
        storm_cpu = cpu.result()  # now: a killed process has no CPU figures to read
        burst = sum(lg.all("burst", BURST // lg.n).values())
        time.sleep(0.005)  # written: some in Prosody, some in the component's socket or queue, a few handled
        t_kill = time.monotonic()
        os.kill(comp.pid, signal.SIGKILL)
        assert comp.proc is not None
        comp.proc.wait()
        comp.proc = None
        # Read once the process is gone: whatever it made has an earlier time in its id.
        wall_kill = time.time()
        lg.tick(0.5)  # what the killed process had sent reaches the clients, with its true time
        out.update(at_kill=counts, kill_after_storm_start_s=t_kill - start, burst_before_kill=burst)
        progress(f"  killed {t_kill - start:.2f} s after the storm began: {counts}")
        before = snapshot(url)
        progress(f"  stored at the kill: {len(before['tickets'])} tickets, {len(before['waiting'])} waiting, "
                 f"{len(before['offers'])} offers pending")

        restart: dict[str, Any] = {}

        def restart_component() -> None:
            restart["begin"] = time.monotonic()
            try:
                comp.start()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                restart["error"] = exc
            restart["up"] = time.monotonic()

        thread = threading.Thread(target=restart_component)
        thread.start()
        while thread.is_alive():
            lg.tick(0.02)
        if "error" in restart:
            raise RuntimeError(f"the component did not come back: {restart['error']}")
        cpu = _Cpu(comp.pid, stack.prosody_pid, lg.pids)

        def drain() -> dict[str, Any]:
            state: dict[str, Any] = {"resent": 0, "last_change": time.monotonic(), "counts": {}}
            resend_at = restart["up"] + RESEND_AFTER_S
            end = time.monotonic() + TIMEOUT_S
            while time.monotonic() < end:
                counts = lg.tick(0.05)
                cpu.read()
                if counts != state["counts"]:
                    state["counts"], state["last_change"] = counts, time.monotonic()
                if resend_at and time.monotonic() >= resend_at:
                    state["resent"] = sum(lg.all("resend", True).values())
                    state["resent_at"], resend_at = time.monotonic(), 0.0
                done = counts["closed"] >= n_customers and counts["receipted"] >= counts["messages"]
                if done or time.monotonic() - state["last_change"] > QUIET_S:
                    break
            return state

        if getattr(settings, "profile", False):
            from .profiling import sample

            out["profile"], state = sample(comp.pid, 20, drain, stack.state / "profile", name=name)
        else:
            state = drain()
        out["after_restart_counts"] = state["counts"]
        out["resent"] = state["resent"]
        after_cpu = cpu.stop()
        records = lg.all("records")
    finally:
        lg.close()
        comp.stop()
    after = snapshot(url)
    out["loadavg_after"] = os.getloadavg()
    out["cpu_storm"], out["cpu_after_restart"] = storm_cpu, after_cpu
    out.update(analyse(records, lg, before, after, t_kill, wall_kill, restart, state))
    progress("  " + "; ".join(f"{c['check']}: {'ok' if c['ok'] else 'FAILED'}" for c in out["checks"]))
    return out


class _Cpu:
    """CPU seconds of the component (read while it lives: a killed process has no /proc), Prosody,
    the load generator, and the wall time they were measured over."""

    def __init__(self, comp: int, prosody: int, loadgen: list[int]) -> None:
        self.pids = {"component": comp, "prosody": prosody, "loadgen": loadgen}
        self.first = procstat.cpu_many(self.pids)
        self.last = dict(self.first)
        self.t0 = self.t1 = time.monotonic()

    def read(self) -> None:
        try:
            self.last = procstat.cpu_many(self.pids)
            self.t1 = time.monotonic()
        except OSError:
            pass

    def stop(self) -> dict[str, float]:
        self.read()
        return self.result()

    def result(self) -> dict[str, float]:
        wall = self.t1 - self.t0
        return {"wall_s": round(wall, 2), **{k: round(self.last[k] - self.first[k], 2) for k in self.pids}}


def analyse(records: dict[int, Any], lg: CrashLoad, before: dict[str, Any], after: dict[str, Any], t_kill: float,
            wall_kill: float, restart: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The checks and the restart's timings. A message belongs to the killed or to the new process by
    the time in its id (Prosody delivers what the killed one sent for a while after the kill)."""
    customers: dict[int, dict[str, Any]] = {}
    agents: dict[str, dict[str, Any]] = {}
    for w, rec in records.items():
        for c in rec["customers"].values():
            customers[c["number"]] = c
        for ci, a in rec["agents"].items():
            agents[f"{lg.users[ci * lg.n + w]}@localhost"] = a
    t_up, t_begin = restart["up"], restart["begin"]
    new = (lambda made: made > wall_kill)
    acked = {k: c["acked"][1] for k, c in customers.items() if c["acked"] and not new(c["acked"][2])}
    by_customer: dict[int, list[str]] = {}
    for tid, row in after["tickets"].items():
        by_customer.setdefault(int(row["customer"].split("@")[0].removeprefix("customer")), []).append(tid)
    checks = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    # 1. Tickets acknowledged before the kill: stored then, there now, one per customer.
    missing_at_kill = [k for k, tid in acked.items() if tid not in before["tickets"]]
    missing_now = [k for k, tid in acked.items() if tid not in after["tickets"]]
    doubles = {k: v for k, v in by_customer.items() if len(v) > 1}
    other_ticket = [k for k, c in customers.items() if len(c["tickets"]) > 1]
    kept = not missing_at_kill and not missing_now and not doubles and not other_ticket
    check("acknowledged tickets kept, once", kept,
          f"{len(acked)} customers answered before the kill; not stored at the kill {len(missing_at_kill)}, "
          f"missing at the end {len(missing_now)}; customers with two tickets {len(doubles)}, told two ticket "
          f"ids {len(other_ticket)}; tickets at the end {len(after['tickets'])} for {len(customers)} customers")
    # 2. Their messages: archived in the ticket before the kill, and in the transcript an agent got after it.
    not_archived = [k for k, tid in acked.items() if k not in before["markers"].get(tid, [])]
    transcript = {(tid, k) for a in agents.values() for (_t, tid, k, made) in a["transcript"] if new(made)}
    accepted_after = {tid for _e, tid, kind, at in after["events"] if kind == "accepted" and at > wall_kill}
    served = [k for k, tid in acked.items() if tid in accepted_after]
    undelivered = [k for k in served if (acked[k], k) not in transcript]
    check("acknowledged messages kept and delivered", not not_archived and not undelivered,
          f"of {len(acked)}: not in the ticket's archive at the kill {len(not_archived)}; accepted by an agent "
          f"after the restart {len(served)}, their message missing from the transcript the agent got "
          f"{len(undelivered)}")
    end_unarchived = [k for k, c in customers.items() if c["acked"] and
                      not any(k in after["markers"].get(tid, []) for tid in by_customer.get(k, []))]
    # 3. Every message a customer sent (receipts asked, resent until receipted): in the archive once.
    sent = {(k, seq): m for k, c in customers.items() for seq, m in c["msgs"].items()}
    lost = [key for key in sent if after["copies"].get(key, 0) == 0]
    doubled = [key for key in sent if after["copies"].get(key, 0) > 1]
    unreceipted = [key for key, m in sent.items() if m[1] is None]
    in_flight = [key for key, m in sent.items() if m[0][0] < t_kill and before["copies"].get(key, 0) == 0]
    silent = [key for key in in_flight if not any(t > t_kill for t in customers[key[0]]["errors"])]
    early = [key for key, m in sent.items()
             if m[1] is not None and not new(m[1][1]) and before["copies"].get(key, 0) == 0]
    check("every customer message kept once (receipts, resends)", not lost and not doubled and not unreceipted
          and not early,
          f"{len(sent)} messages sent ({sum(len(m[0]) for m in sent.values())} copies); lost {len(lost)}, stored "
          f"twice {len(doubled)}, never receipted {len(unreceipted)}; sent before the kill and not stored at it "
          f"{len(in_flight)} ({len(silent)} with no error from the server: lost in the killed process), kept in the "
          f"end {sum(1 for key in in_flight if key not in lost)}; receipts of "
          f"the killed process for a message not stored at the kill {len(early)}")
    resends = {"messages": len(sent), "copies": sum(len(m[0]) for m in sent.values()),
               "resent_messages": sum(1 for m in sent.values() if len(m[0]) > 1),
               "not_stored_at_kill": len(in_flight), "lost_silently_at_kill": len(silent),
               # From a message's first copy to its receipt, for those written before the kill and
               # receipted by the killed process: how long the storm made customers wait for one.
               "receipt_wait_s": _quantiles([m[1][0] - m[0][0] for m in sent.values()
                                             if m[1] is not None and not new(m[1][1])])}
    # 4. Order: the customers queued (not offered) at the kill are offered in the stored order, before newcomers.
    pending = before["offers"]
    queued = [tid for tid in before["waiting"] if tid not in pending]
    first_offer: dict[str, str] = {}
    for eid, tid, kind, at in after["events"]:
        if kind == "offered" and at > wall_kill and tid not in first_offer:
            first_offer[tid] = eid
    order = sorted(first_offer, key=first_offer.__getitem__)
    rank = {tid: i for i, tid in enumerate(queued)}
    seen = [rank[tid] for tid in order if tid in rank]
    last_old = max((first_offer[tid] for tid in queued if tid in first_offer), default="")
    overtaken = [tid for tid in order if tid not in before["tickets"] and first_offer[tid] < last_old]
    check("waiting customers resume in the stored order",
          seen == sorted(seen) and not overtaken and len(seen) == len(queued),
          f"{len(queued)} queued at the kill, {len(seen)} offered after the restart, {_inversions(seen)} out of "
          f"order; later customers offered before one of them: {len(overtaken)}")
    firsts = []
    for tid in queued:
        k = int(before["tickets"][tid]["customer"].split("@")[0].removeprefix("customer"))
        firsts.append(next(((t, p) for t, p, made in customers[k]["positions"] if new(made)), (None, None)))
    told = [p for _t, p in firsts if p]
    check("positions told after the restart follow the stored order", told == sorted(told),
          f"{sum(1 for t, _p in firsts if t is not None)} of {len(queued)} queued customers told a position by "
          f"the new process, {_inversions(told)} out of order")
    # 5. Offers pending at the kill come again to the same agents.
    again = {}
    for tid, holders in pending.items():
        for bare in holders:
            again[(tid, bare)] = next((t for t, x, made in agents[bare]["offers"] if x == tid and new(made)), None)
    check("pending offers offered again", all(v is not None for v in again.values()) and bool(again),
          f"{len(again)} offers pending at the kill, {sum(1 for v in again.values() if v is not None)} received "
          f"again by the same agent")
    # 6. Conversations accepted before the kill: the agent got the conversation (transcript and
    # introduction) and the customer was told, from the killed process or from the new one.
    accepted_before = {tid: agent for _e, tid, kind, at, agent in after["accepts"] if at < wall_kill}
    agent_untold = [tid for tid, bare in accepted_before.items() if tid not in agents[bare]["confirmed"]]
    customer_of = {tid: int(row["customer"].split("@")[0].removeprefix("customer"))
                   for tid, row in after["tickets"].items()}
    customer_untold = [tid for tid in accepted_before if not customers[customer_of[tid]]["joined"]]
    check("conversations accepted before the kill reach agent and customer", not agent_untold and not customer_untold,
          f"{len(accepted_before)} accepted (stored) before the kill; the agent never got the conversation: "
          f"{len(agent_untold)}; the customer was never told an agent joined: {len(customer_untold)}")
    # Timings from the restart (the new process started), by what the new process sent.
    offers_after = sorted(t for a in agents.values() for t, _x, made in a["offers"] if new(made))
    positions_at = [t for t, _p in firsts if t is not None]
    acked_after = sorted(c["acked"][0] for c in customers.values() if c["acked"] and new(c["acked"][2]))
    probes = sorted(t for a in agents.values() for t in a["probes"] if t > t_begin)
    rel = (lambda x: round(x - t_begin, 3) if x is not None else None)
    timing = {"kill_to_restart_s": round(t_begin - t_kill, 3), "connected_s": rel(t_up),
              "first_probe_s": rel(probes[0] if probes else None), "last_probe_s": rel(probes[-1] if probes else None),
              "first_offer_s": rel(offers_after[0] if offers_after else None),
              "all_pending_offers_again_s": rel(max(again.values()) if again and all(again.values()) else None),
              "all_positions_again_s": rel(max(positions_at) if positions_at else None),
              "first_new_answer_s": rel(acked_after[0] if acked_after else None),
              "resent_bounced_at_s": rel(state.get("resent_at"))}
    closed = [c["closed"] for c in customers.values() if c["closed"]]
    # Conversations still open at the end: did they reach their agent, did the agent close them?
    active_end = [tid for tid, row in after["tickets"].items() if row["state"] == "active"]
    last_accept = {tid: (at, agent) for _e, tid, kind, at, agent in after["accepts"]}
    closes = {jid[2:].split("@", 1)[0] for a in agents.values() for _t, jid in a["closes"]}
    open_at_end = {"count": len(active_end),
                   "reached_agent": sum(1 for tid in active_end if tid in agents[last_accept[tid][1]]["confirmed"]),
                   "agent_sent_close": sum(1 for tid in active_end if tid in closes),
                   "accepted_after_restart": sum(1 for tid in active_end if last_accept[tid][0] > wall_kill)}
    sent_before = [k for k, c in customers.items() if c["sent"] and c["sent"][0] < t_kill]
    unanswered = [k for k in sent_before if k not in acked]
    stored_unanswered = [k for k in unanswered if any(row["customer"] == f"customer{k}@localhost"
                                                      for row in before["tickets"].values())]
    return {"checks": checks, "restart": timing, "stored_at_kill": {
        "tickets": len(before["tickets"]), "waiting": len(before["waiting"]), "queued": len(queued),
        "pending_offers": len(again)},
        "customers_detail": {
            "sent_before_kill": len(sent_before), "answered_before_kill": len(acked),
            "unanswered_at_kill": len(unanswered), "of_which_ticket_stored": len(stored_unanswered),
            "bounced_while_away": sum(1 for c in customers.values() if any(t > t_kill for t in c["errors"])),
            "resent_bounced": state["resent"], "messages": resends,
            "answered_in_the_end": sum(1 for c in customers.values() if c["acked"]),
            "closed_in_the_end": len(closed),
            "reopened_by_a_late_message": sum(1 for _e, _t, kind, at in after["events"] if kind == "reopened"),
            "answered_but_message_not_archived_in_the_end": len(end_unarchived),
            "last_closed_after_restart_s": rel(max(closed)) if closed else None,
            "ticket_states_at_end": dict(Counter(r["state"] for r in after["tickets"].values())),
            "open_at_end": open_at_end},
        "offers_by_new_process": len(offers_after)}


def run_all(stack: Stack, settings: Any, progress: Callable[[str], None], postgres: bool,
            sqlite: bool = True) -> dict[str, Any]:
    import datetime

    results: dict[str, Any] = {"meta": {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                                        "cpus": os.cpu_count(),
                                        "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg())},
                               "runs": []}
    backends: list[tuple[str, Any]] = [("sqlite", None)] if sqlite else []
    if postgres:
        backends.append(("postgresql", "postgres"))
    for backend, _ in backends:
        pg = None
        try:
            url = None
            if backend == "postgresql":
                from component.localpostgres import LocalPostgres

                pg = LocalPostgres(stack.state / "postgres-crash")
                pg.start()
                url = pg.create_database("crash")
            results["runs"].append(run(stack, settings, progress, db_url=url, backend=backend))
        except Exception as exc:  # noqa: BLE001 - write what we have
            results["runs"].append({"backend": backend, "error": f"{type(exc).__name__}: {exc}"})
            progress(f"  {backend}: {type(exc).__name__}: {exc}")
        finally:
            if pg is not None:
                pg.stop()
    results["meta"]["loadavg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return results


def main(argv: list[str] | None = None) -> int:
    import tempfile
    from types import SimpleNamespace

    parser = argparse.ArgumentParser(prog="python -m bench.support_crash", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="not on SQLite")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--keep-state", action="store_true", help="keep the servers' folder (logs) afterwards")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the page from a results file (after editing "
                        "results/support_crash_analysis.md)")
    args = parser.parse_args(argv)
    if args.render:
        print("rewrote: " + ", ".join(str(p) for p in write(json.loads(Path(args.render).read_text()), Path(args.out))))
        return 0
    settings = SimpleNamespace(support_customers=args.customers, support_agents=args.agents, workers=args.workers,
                               profile=args.profile)
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    state = Path(tempfile.mkdtemp(prefix="switchboard-crash-", dir=base))
    state.chmod(0o711)
    stack = Stack(state)
    try:
        stack.start()
        results = run_all(stack, settings, lambda s: print(s, flush=True), args.postgres, not args.no_sqlite)
    finally:
        stack.stop()
        import shutil

        if args.keep_state:
            print(f"state kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)
    print("results: " + ", ".join(str(p) for p in write(results, Path(args.out))))
    return 0 if all(c["ok"] for r in results["runs"] for c in r.get("checks", [{"ok": False}])) else 1


if __name__ == "__main__":
    raise SystemExit(main())
