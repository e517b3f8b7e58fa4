"""Measurements for Prometheus, in the text format of ``prometheus-client``.

Like Prosody's ``module:measure()``, a plugin declares what it measures through
the core (``self.metrics.counter(...)``, ``histogram``, ``gauge``, or ``read`` for
figures computed at scrape time from a public service); the core adds its own
(stanzas, handler errors, reconnects, hook and database latency, event-loop
lag) and serves them all on ``/metrics`` when the status listener is on.

Labels stay bounded: service domain, stanza kind, hook and queue names — never
a JID or anything a client chooses. Every name gets the ``switchboard_`` prefix.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .app import App

log = logging.getLogger("switchboard.metrics")

PREFIX = "switchboard_"
#: Seconds: from a cached read to a slow disk commit.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_INTERVAL = 0.5

#: A reader returns rows of (label values, value).
Rows = Iterable[tuple[tuple[str, ...], float]]


class Metrics:
    """One registry per application; plugins on several services share a metric by name."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._made: dict[str, Any] = {}
        self._readers: dict[str, tuple[str, tuple[str, ...], list[Callable[[], Rows]]]] = {}
        self.registry.register(_Readers(self._readers))

    def _make(self, cls: type, name: str, doc: str, labels: Iterable[str], **kwargs: Any) -> Any:
        full = PREFIX + name
        made = self._made.get(full)
        if made is None:
            made = self._made[full] = cls(full, doc, list(labels), registry=self.registry, **kwargs)
        elif not isinstance(made, cls):
            raise ValueError(f"metric {full} is already declared as a {type(made).__name__}")
        return made

    def counter(self, name: str, doc: str, labels: Iterable[str] = ()) -> Counter:
        return self._make(Counter, name, doc, labels)

    def gauge(self, name: str, doc: str, labels: Iterable[str] = ()) -> Gauge:
        return self._make(Gauge, name, doc, labels)

    def histogram(self, name: str, doc: str, labels: Iterable[str] = (),
                  buckets: Iterable[float] = LATENCY_BUCKETS) -> Histogram:
        return self._make(Histogram, name, doc, labels, buckets=tuple(buckets))

    def read(self, name: str, doc: str, labels: Iterable[str], reader: Callable[[], Rows]) -> None:
        """A gauge computed at scrape time (rooms, queue lengths…); several readers add rows."""
        full = PREFIX + name
        entry = self._readers.setdefault(full, (doc, tuple(labels), []))
        if entry[1] != tuple(labels):
            raise ValueError(f"metric {full} is already read with labels {entry[1]}")
        entry[2].append(reader)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Readers(Collector):
    def __init__(self, readers: dict[str, tuple[str, tuple[str, ...], list[Callable[[], Rows]]]]) -> None:
        self.readers = readers

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, (doc, labels, readers) in list(self.readers.items()):
            family = GaugeMetricFamily(name, doc, labels=list(labels))
            for reader in readers:
                try:
                    for values, value in reader():
                        family.add_metric(list(values), value)
                except Exception:  # noqa: BLE001 - one broken reader must not hide the others
                    log.exception("metric reader failed", extra={"metric": name})
            yield family


class CoreCollector(Collector):
    """What every service counts anyway, read at scrape time (nothing added to the hot path)."""

    def __init__(self, app: "App") -> None:
        self.app = app

    def collect(self) -> Iterable[Any]:
        stanzas = CounterMetricFamily(PREFIX + "stanzas", "Stanzas received and sent, by service and kind.",
                                      labels=["domain", "direction", "kind"])
        errors = CounterMetricFamily(PREFIX + "handler_errors",
                                     "Stanzas whose handler failed (answered internal-server-error).",
                                     labels=["domain", "kind"])
        reconnects = CounterMetricFamily(PREFIX + "stream_reconnects",
                                         "Times a service's stream was re-established after a loss.",
                                         labels=["domain"])
        connected = GaugeMetricFamily(PREFIX + "stream_connected", "1 while the service's stream is authenticated.",
                                      labels=["domain"])
        slots = GaugeMetricFamily(PREFIX + "balancing_slots_open",
                                  "This process's balancing slots with an authenticated connection.",
                                  labels=["domain"])
        paced_waiting = GaugeMetricFamily(PREFIX + "pacing_waiting", "Bulk stanzas waiting in the component "
                                          "while the server is behind (server.pacing_window).", labels=["domain"])
        paced = CounterMetricFamily(PREFIX + "pacing_delayed", "Bulk stanzas that waited while the server was "
                                    "behind, so that others overtook them.", labels=["domain"])
        markers_lost = CounterMetricFamily(PREFIX + "pacing_markers_lost", "Pacing markers the server did not "
                                           "hand back in time (counted as handled).", labels=["domain"])
        for domain, service in self.app.services.items():
            for (direction, kind), count in sorted(service.stanza_counts.items()):
                stanzas.add_metric([domain, direction, kind], count)
            for kind, count in sorted(service.handler_errors.items()):
                errors.add_metric([domain, kind], count)
            reconnects.add_metric([domain], service.reconnects)
            connected.add_metric([domain], 1.0 if service.connected.is_set() else 0.0)
            slots.add_metric([domain], service.open_slots())
            if service.pacer is not None:
                paced_waiting.add_metric([domain], service.pacer.waiting)
                paced.add_metric([domain], service.pacer.delayed)
                markers_lost.add_metric([domain], service.pacer.markers_lost)
        yield stanzas
        yield slots
        yield paced_waiting
        yield paced
        yield markers_lost
        yield errors
        yield reconnects
        yield connected
        yield GaugeMetricFamily(PREFIX + "uptime_seconds", "Seconds since the process started its services.",
                                value=max(0.0, time.time() - self.app.started_at))
        claims = self.app.claims
        if claims is not None:  # with balancing on PostgreSQL (claims.py)
            yield GaugeMetricFamily(PREFIX + "balancing_claims_up",
                                    "1 while the database session holding this process's slots is up.",
                                    value=1.0 if claims.up else 0.0)
            yield CounterMetricFamily(PREFIX + "balancing_claims_losses",
                                      "Times the database session holding this process's slots was lost.",
                                      value=claims.losses)
        owners = self.app.owners
        if owners is not None:
            refused = CounterMetricFamily(PREFIX + "balancing_owner_refusals",
                                          "Writes refused because another process had taken what they were for "
                                          "(a stale owner's fencing token).", labels=["domain"])
            for domain in self.app.services:
                refused.add_metric([domain], owners.refusals.get(domain, 0))
            yield refused


def instrument(app: "App") -> "Instruments":
    """Turn on the measurements that cost something on every event (only when served)."""
    return Instruments(app)


class Instruments:
    """Hook latency, database latency and event-loop lag: installed with the status listener."""

    def __init__(self, app: "App") -> None:
        self.app = app
        metrics = app.metrics
        metrics.registry.register(CoreCollector(app))
        self.hook_seconds = metrics.histogram("hook_seconds", "Time to run one hook event's handlers.", ["event"])
        self.db_seconds = metrics.histogram("db_seconds", "Time of one database statement, by kind.", ["statement"])
        self.lag = metrics.histogram("event_loop_lag_seconds", "How late the event loop runs a timer.",
                                     buckets=LATENCY_BUCKETS)
        # A collection of the oldest generation stops everything in the process; it is what made the
        # longest stalls of the loop before startup's objects were frozen (App.run).
        self.gc_pause = metrics.histogram("gc_pause_seconds", "Time the garbage collector stopped the process, "
                                          "by generation collected.", ["generation"], buckets=LATENCY_BUCKETS)
        self._gc_started = 0.0
        self._lag_task: asyncio.Task | None = None

    def start(self) -> None:
        for service in self.app.services.values():
            service.hooks.observe = self._observe_hook
        if self.app.db is not None:
            self._watch_database(self.app.db.engine.sync_engine)
        self._lag_task = asyncio.ensure_future(self._measure_lag())
        gc.callbacks.append(self._on_gc)

    async def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        for service in self.app.services.values():
            service.hooks.observe = None
        if self._lag_task:
            self._lag_task.cancel()
            await asyncio.gather(self._lag_task, return_exceptions=True)

    def _observe_hook(self, event: str, seconds: float) -> None:
        # An IQ event name carries the payload's namespace and name: only ones a plugin registered
        # reach here (the bus observes events that have handlers), so the label set stays bounded.
        self.hook_seconds.labels(event).observe(seconds)

    def _watch_database(self, engine: Any) -> None:
        from sqlalchemy import event

        observe = self.db_seconds

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
            conn.info["switchboard_started"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
            # A failed statement never gets here; the next one overwrites its start.
            started = conn.info.pop("switchboard_started", None)
            if started is not None:
                word = statement.lstrip()[:6].lower()
                kind = word if word in ("select", "insert", "update", "delete") else "other"
                observe.labels(kind).observe(time.perf_counter() - started)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            self.gc_pause.labels(str(info.get("generation", 0))).observe(time.perf_counter() - self._gc_started)

    async def _measure_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_INTERVAL
            await asyncio.sleep(LAG_INTERVAL)
            self.lag.observe(max(0.0, loop.time() - due))
