"""The application: config -> database -> plugins -> connections, and back down in reverse."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from typing import Any

from slixmpp import JID

from . import systemd
from .balancing import BalancingError, check_shareable, needs_claims
from .claims import CLAIMS_BACK, CLAIMS_LOST, SlotClaims
from .owners import Owners
from .config import Config, ConfigError, world_readable
from .metrics import Metrics
from .peer_requests import PeerRequests
from .peers import MIGRATIONS as CORE_MIGRATIONS, Peers
from .plugin import Plugin, resolve
from .service import FatalConnectionError, Service
from .storage import Database, Migrations

log = logging.getLogger("switchboard.app")


def migration_histories(orders: list[list[tuple[type[Plugin], Any]]]) -> list[Migrations]:
    """The core's schema history, then the plugins' configured on any service, each once, in load order."""
    histories: dict[str, Migrations] = {CORE_MIGRATIONS.plugin: CORE_MIGRATIONS}
    for order in orders:
        for cls, _options in order:
            if cls.migrations and cls.name not in histories:
                histories[cls.name] = Migrations(cls.name, cls.migrations)
    return list(histories.values())


async def _cleared(service: Service) -> None:
    """Until the service's stream goes down (checked as often as a reconnect can happen)."""
    while service.connected.is_set():
        await asyncio.sleep(0.5)


class App:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.admins = {JID(a).bare for a in config.admins}
        self.db: Database | None = None
        self.services: dict[str, Service] = {}
        self.started_at = time.time()
        self._stop = asyncio.Event()
        self._fatal: FatalConnectionError | None = None
        #: The slots could not be claimed again after the claims session was lost (claims.py).
        self._refused: BalancingError | None = None
        self.hooks_app: dict[str, Any] = {}
        self.metrics = Metrics()
        self.status: Any = None
        self.claims: SlotClaims | None = None
        #: What this process alone acts on, and its fencing tokens (with the claims: owners.py).
        self.owners: Owners | None = None
        self.peers: Peers | None = None
        #: Questions to the other processes serving our domains (this one alone without balancing).
        self.peer_requests = PeerRequests(None, None, None, config.balancing.mine)

    # -- lifecycle --------------------------------------------------------
    async def start(self, connect: bool = True, migrate: bool = True) -> None:
        """Open the database, migrate (or, with ``migrate=False``, check that the schema is
        current), set up every plugin, then connect."""
        if self.config.source and world_readable(self.config.source) and any(
                s.secret for s in self.config.services):
            log.warning("the configuration file holds secrets and is readable by everyone; "
                        "chmod 640 it or use secret_file/secret_env", extra={"file": self.config.source})
        self.db = Database(self.config.database_url, self.config.database.sqlite_synchronous,
                           self.config.database.echo)
        plans: list[tuple[Service, list[tuple[type[Plugin], Any]]]] = []
        for i, service_config in enumerate(self.config.services):
            order = resolve(service_config.plugins, self.config.source, f"services[{i}].plugins")
            check_shareable(self.config, f"services[{i}].plugins", order)
            service = Service(self, service_config, self.config.secrets[service_config.domain])
            self.services[service.domain] = service
            plans.append((service, order))
        histories = migration_histories([order for _, order in plans])
        if migrate:
            await self.db.migrate(histories)
        else:
            await self.db.check_schema(histories)
        if connect and needs_claims(self.config):
            self.claims = SlotClaims(self.db.engine, self.config, self._claims_changed, self.refuse)
            await self.claims.claim()
            self.owners = Owners(self.claims, self.db.engine)
        if connect and not self.config.balancing.mine:
            # A stand-by: no slot, so no stanza reaches it; its plugins would only run timers on
            # rooms and queues that other processes own.
            log.info("no balancing slots: this process opens no connection and serves nothing")
            return
        # Command-line tools notify too: their writes reach the running processes.
        self.peers = Peers(self.db.engine, active=needs_claims(self.config))
        if connect:
            await self.peers.start()
            if self.claims is not None:
                self.peer_requests = PeerRequests(self.peers, self.claims.process_id, self.claims.holders,
                                                  self.config.balancing.mine)
                await self.peer_requests.start()
        for service, order in plans:
            for cls, options in order:
                plugin = cls(service, options)
                service.plugins[cls.name] = plugin
                await plugin.setup()
            log.info("service ready", extra={"domain": service.domain,
                                             "plugins": ",".join(service.plugins)})
        if connect and self.config.status.listen:
            from .status import StatusServer

            status = StatusServer(self, self.config.status.listen)
            try:
                await status.start()
            except OSError as exc:  # taken, or not an address of this machine
                await status.stop()
                raise ConfigError(self.config.source, "status.listen",
                                  f"cannot listen on {self.config.status.listen}: {exc.strerror or exc}") from exc
            self.status = status
        if connect:
            for service in self.services.values():
                service.connect()

    async def wait_connected(self, timeout: float = 30) -> None:
        if not self.config.balancing.mine:
            return
        waits = [asyncio.ensure_future(s.connected.wait()) for s in self.services.values()]
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait([asyncio.gather(*waits), stop], timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            for w in waits:
                w.cancel()
        if self._fatal:
            raise self._fatal
        if not all(s.connected.is_set() for s in self.services.values()):
            missing = [d for d, s in self.services.items() if not s.connected.is_set()]
            raise TimeoutError(f"not connected after {timeout}s: {', '.join(missing)}")

    def fatal_error(self, error: FatalConnectionError) -> None:
        self._fatal = error
        self._stop.set()

    def refuse(self, refusal: BalancingError) -> None:
        """The slots were lost with the claims session and another process holds them now (or runs
        with another N): stop, as a start would have been refused."""
        self._refused = refusal
        self._stop.set()

    async def _claims_changed(self, up: bool) -> None:
        """The claims session was lost (every lock of this process with it), or is back."""
        if up and self.claims is not None and self.claims.process_id is not None:
            await self.peer_requests.renamed(self.claims.process_id)
        for service in list(self.services.values()):
            await service.hooks.collect(CLAIMS_BACK if up else CLAIMS_LOST)

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        if self.status is not None:
            await self.status.stop()
            self.status = None
        for service in reversed(list(self.services.values())):
            for plugin in reversed(list(service.plugins.values())):
                try:
                    await plugin.stop()
                except Exception:  # noqa: BLE001 - keep unwinding the others
                    log.exception("plugin stop failed", extra={"plugin": plugin.name})
            await service.disconnect()
            await service.idle()
        if self.peers:
            await self.peers.stop()
        if self.claims:
            await self.claims.release()
        if self.db:
            await self.db.close()

    async def _tell_systemd(self) -> None:
        """READY=1 once every stream is authenticated (the unit's start waits for it), then the
        connected streams as STATUS whenever that changes."""
        if not self.config.balancing.mine:
            systemd.notify("READY=1", "STATUS=stand-by: no balancing slot, serving nothing")
            return
        ready = False
        while True:
            up = [d for d, s in self.services.items() if s.connected.is_set()]
            status = f"STATUS=connected {len(up)}/{len(self.services)}" + (
                "" if len(up) == len(self.services) else
                ": waiting for " + ", ".join(d for d in self.services if d not in up))
            if not ready and len(up) == len(self.services):
                ready = True
                systemd.notify("READY=1", status)
            else:
                systemd.notify(status)
            changed = [asyncio.ensure_future(s.connected.wait() if d not in up else _cleared(s))
                       for d, s in self.services.items()]
            try:
                await asyncio.wait(changed, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in changed:
                    waiter.cancel()

    async def run(self) -> int:
        """Run until a signal or a fatal error; returns the process exit code."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop)
            except (NotImplementedError, RuntimeError):
                pass
        helpers: list[asyncio.Task] = []
        try:
            await self.start()
            # What startup built (modules, plugins, the state restored) lives as long as the process:
            # frozen, it is left out of every full collection, which otherwise stopped the loop for
            # 50-100 ms at a time in a storm of customers (switchboard_gc_pause_seconds shows it).
            gc.collect()
            gc.freeze()
            helpers.append(asyncio.ensure_future(self._tell_systemd()))
            interval = systemd.watchdog_interval()
            if interval:
                helpers.append(asyncio.ensure_future(systemd.keep_watchdog(interval)))
            await self._stop.wait()
        except BalancingError as refused:
            log.error("refusing to start: %s", refused)
            return 2 if refused.lasting else 1
        finally:
            systemd.notify("STOPPING=1", "STATUS=stopping")
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.stop()
        if self._fatal:
            log.error("stopping: %s", self._fatal)
            return 1
        if self._refused is not None:
            return 2 if self._refused.lasting else 1
        return 0
