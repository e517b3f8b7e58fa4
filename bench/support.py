"""The support queue under load (placeholder until the queue's benchmark lands)."""

from __future__ import annotations

from typing import Any, Callable


def run(stack: Any, settings: Any, progress: Callable[[str], None]) -> dict[str, Any]:
    return {"skipped": "not written yet"}
