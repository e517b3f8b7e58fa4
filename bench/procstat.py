"""CPU seconds and resident memory of a process, read from /proc (Linux only)."""

from __future__ import annotations

import os
import threading
import time

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far (threads included)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of `pid` now."""
    with open(f"/proc/{pid}/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (every process on the machine, ours or not)."""
    with open("/proc/stat", "rb") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
    return (sum(fields[:8]) - idle) / _TICKS


def cpu_many(pids: dict[str, int | list[int]]) -> dict[str, float]:
    """CPU seconds for several named processes (a list is summed, e.g. load generator workers).

    Pid 0 stands for the whole machine (`machine_busy_seconds`)."""
    out: dict[str, float] = {}
    for name, pid in pids.items():
        if pid == 0:
            out[name] = machine_busy_seconds()
            continue
        group = pid if isinstance(pid, list) else [pid]
        total = 0.0
        for p in group:
            try:
                total += cpu_seconds(p)
            except FileNotFoundError:
                pass   # a PostgreSQL backend that just ended: its share is lost, not fatal
        out[name] = total
    return out


class CpuTimeline:
    """CPU seconds of named processes read every ``interval`` seconds in a thread, from :meth:`start`
    to :meth:`stop`: the share of a core each used in any part of a run (a run's average can hide a
    process saturated in the seconds that matter)."""

    def __init__(self, pids: dict[str, int | list[int]], interval: float = 0.05) -> None:
        self.pids = pids
        self.interval = interval
        #: (monotonic time, CPU seconds by name) readings.
        self.readings: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-timeline", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            self.readings.append((time.monotonic(), cpu_many(self.pids)))
            if self._stop.wait(self.interval):
                self.readings.append((time.monotonic(), cpu_many(self.pids)))
                return

    def shares(self, begin: float, end: float) -> dict[str, float]:
        """Share of a core each process used between ``begin`` and ``end`` (monotonic seconds), from the
        readings just outside them (the machine: of all its cores together)."""
        before = [r for r in self.readings if r[0] <= begin] or self.readings[:1]
        after = [r for r in self.readings if r[0] >= end] or self.readings[-1:]
        if not before or not after or after[0][0] <= before[-1][0]:
            return {}
        (t0, c0), (t1, c1) = before[-1], after[0]
        return {name: round((c1[name] - c0[name]) / (t1 - t0), 2) for name in c0}
