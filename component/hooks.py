"""The awaited hook bus: how plugins talk to each other.

Semantics follow Prosody's events: handlers run in priority order (highest
first) and are awaited one after another; the first handler that returns
something other than ``None`` stops the chain and its value is the result
(a veto, or a provided answer). ``collect`` runs every handler instead and
gathers their values (for aggregations such as disco features).

slixmpp's own ``event()`` does not await coroutine handlers, so it cannot give
ordering, veto or return values; this bus exists for that.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)

Handler = Callable[..., Any]


@dataclass(order=True)
class _Entry:
    sort_key: tuple[int, int]
    handler: Handler = field(compare=False)
    is_async: bool = field(compare=False)
    owner: str = field(compare=False, default="")


class HookBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[_Entry]] = {}
        self._services: dict[str, Any] = {}
        self._sequence = itertools.count()
        #: ``observe(event, seconds)`` after each fired event that has handlers (metrics; None: off).
        self.observe: Callable[[str, float], None] | None = None

    def on(self, event: str, handler: Handler, priority: int = 0, owner: str = "") -> Callable[[], None]:
        """Subscribe ``handler``; returns a function that unsubscribes it.

        Equal priorities run in subscription order.
        """
        entry = _Entry((-priority, next(self._sequence)), handler,
                       inspect.iscoroutinefunction(handler), owner)
        entries = self._handlers.setdefault(event, [])
        entries.append(entry)
        entries.sort()

        def unsubscribe() -> None:
            if entry in self._handlers.get(event, []):
                self._handlers[event].remove(entry)

        return unsubscribe

    def has(self, event: str) -> bool:
        return bool(self._handlers.get(event))

    async def fire(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Run handlers in order; return the first non-None result (or None)."""
        entries = self._handlers.get(event)
        if not entries:
            return None
        observe = self.observe
        started = time.perf_counter() if observe else 0.0
        try:
            for entry in entries:
                result = entry.handler(*args, **kwargs)
                if entry.is_async:
                    result = await result
                if result is not None:
                    return result
            return None
        finally:
            if observe:
                observe(event, time.perf_counter() - started)

    async def collect(self, event: str, *args: Any, **kwargs: Any) -> list[Any]:
        """Run every handler; return all non-None results in order."""
        results = []
        for entry in self._handlers.get(event, ()):
            result = entry.handler(*args, **kwargs)
            if entry.is_async:
                result = await result
            if result is not None:
                results.append(result)
        return results

    # Providers: a plugin publishes its public service object under a name;
    # dependants look it up instead of importing the plugin's internals.
    def provide(self, name: str, service: Any) -> None:
        if name in self._services:
            raise ValueError(f"service {name!r} is already provided")
        self._services[name] = service

    def service(self, name: str, default: Any = LookupError) -> Any:
        if name in self._services:
            return self._services[name]
        if default is LookupError:
            raise LookupError(f"no plugin provides {name!r}")
        return default
