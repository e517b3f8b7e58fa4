"""CPU seconds and resident memory of a process, read from /proc (Linux only)."""

from __future__ import annotations

import os

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
