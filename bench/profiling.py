"""Sample the running component with py-spy while a load runs; keep the top of the profile."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Callable

_LINE = re.compile(r"^(.*) (\d+)$")
# py-spy raw frames look like "function (path/to/file.py:123)"; aggregate by function and file.
_FRAME = re.compile(r"^(.*?) \((.*?)(?::\d+)?\)$")


def _py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    if local.exists():
        return str(local)
    return shutil.which("py-spy")


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    function, path = m.groups()
    parts = Path(path).parts
    for anchor in ("site-packages", "main", "lib"):
        if anchor in parts:
            idx = len(parts) - 1 - parts[::-1].index(anchor)
            path = "/".join(parts[idx + 1:])
            break
    return f"{function} ({path})"


#: Leaf frames where a thread waits rather than works (the event loop's select, idle pool threads).
IDLE_LEAVES = ("EpollSelector.select (selectors.py)", "select (selectors.py)", "Condition.wait (threading.py)",
               "wait (threading.py)", "_worker (concurrent/futures/thread.py)", "get (queue.py)",
               "SimpleQueue.get (queue.py)", "Queue.get (queue.py)")


def summarize(raw: str, top: int = 25) -> dict[str, Any]:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    idle = 0
    for line in raw.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        stack, count = m.group(1), int(m.group(2))
        frames = [_short(f) for f in stack.split(";") if f]
        if not frames:
            continue
        if frames[-1] in IDLE_LEAVES:
            idle += count
            continue
        samples += count
        own[frames[-1]] += count
        for name in set(frames):
            total[name] += count
    pct = (lambda n: round(100.0 * n / samples, 1)) if samples else (lambda n: 0.0)
    return {
        "samples": samples,
        "idle_samples": idle,
        "self": [{"function": name, "pct": pct(n)} for name, n in own.most_common(top)],
        "inclusive": [{"function": name, "pct": pct(n)} for name, n in total.most_common(top)],
    }


def profile_component(pid: int, seconds: float, load: Callable[[], Any], folder: Path) -> dict[str, Any]:
    """Run a fan-out `load()` while py-spy samples `pid` for `seconds`; the summary with the load's rates."""
    summary, result = sample(pid, seconds, load, folder)
    if summary.get("samples") is None:
        return {**summary, "deliveries_per_s": result.deliveries_per_s}
    deliveries = result.received_window
    summary.update(deliveries_per_s=result.deliveries_per_s,
                   component_cpu_us_per_delivery=(result.cpu.get("component", 0.0) / deliveries * 1e6
                                                  if deliveries else float("nan")),
                   note="sampled while under load; the profiler slows the component, so rates here are "
                        "not the benchmark figures")
    return summary


def sample(pid: int, seconds: float, load: Callable[[], Any], folder: Path,
           name: str = "component") -> tuple[dict[str, Any], Any]:
    """Run `load()` while py-spy samples `pid` for `seconds`; (summary, what load returned)."""
    tool = _py_spy()
    folder.mkdir(parents=True, exist_ok=True)
    if tool is None:
        return {"tool": None, "note": "py-spy is not installed (pip install '.[bench]')"}, load()
    out = folder / f"{name}.pyspy.txt"
    command = [tool, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "500",
               "--format", "raw", "--output", str(out), "--nonblocking"]
    proc_holder: dict[str, Any] = {}

    def sample() -> None:
        proc_holder["proc"] = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)

    thread = threading.Thread(target=sample)
    thread.start()
    result = load()
    thread.join()
    proc = proc_holder.get("proc")
    if proc is None or proc.returncode != 0 or not out.exists():
        error = (proc.stderr.strip()[-500:] if proc else "py-spy did not run")
        return {"tool": "py-spy", "error": error}, result
    summary = summarize(out.read_text(errors="replace"))
    summary.update(tool="py-spy", raw_file=out.name)
    return summary, result
