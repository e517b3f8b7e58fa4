"""Small statistics helpers (no numpy: the load generator must stay light)."""

from __future__ import annotations

import math
import statistics
from typing import Any, Iterable, Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100); NaN when empty."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def latency_summary_ms(latencies_ns: Iterable[int]) -> dict[str, float]:
    values = sorted(latencies_ns)
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50) / 1e6,
        "p90_ms": percentile(values, 90) / 1e6,
        "p99_ms": percentile(values, 99) / 1e6,
        "max_ms": (values[-1] / 1e6) if values else float("nan"),
    }


def median(values: Iterable[float]) -> float:
    values = [v for v in values if v == v]  # drop NaN
    return statistics.median(values) if values else float("nan")


def ratio(ours: float, native: float) -> float:
    return ours / native if native else float("nan")


def figure(value: Any, digits: int = 1) -> str:
    """A number for a results table: thousands separated, a dash for none or NaN."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
