"""Background work of the engine: one-shot timers by key and guarded tasks (a failure is logged, never fatal)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Awaitable, Callable

log = logging.getLogger("switchboard.plugins.support")


class Timers:
    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Awaitable[Any]) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a timer's failure must not stop the engine
            log.exception("support background task failed")
            return None

    def _later(self, key: tuple[str, str], delay: float, factory: Callable[[], Awaitable[Any]]) -> None:
        self._cancel(key)

        def fire() -> None:
            self._timers.pop(key, None)
            self._spawn(factory())

        # A timer is nobody's request: it runs outside the context of the stanza that set it.
        self._timers[key] = asyncio.get_running_loop().call_later(max(0.0, delay), fire, context=contextvars.Context())

    def _cancel(self, key: tuple[str, str]) -> None:
        handle = self._timers.pop(key, None)
        if handle:
            handle.cancel()
