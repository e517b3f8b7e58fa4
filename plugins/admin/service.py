"""Pure logic of the admin plugin: statistics, configuration reload plans, log levels, dates.

Nothing here builds stanzas; the commands (``commands.py``, ``rooms.py``) and
the CLI (``plugins/admin/cli.py``) share it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from component.config import Config, ConfigError, load
from component.plugin import resolve

from .hooks import CONFIG_RELOADED, RECONFIGURE, STATS, ConfigReloaded, Reconfigure, Stat, StatsRequest

if TYPE_CHECKING:
    from component.app import App
    from component.storage import Database

log = logging.getLogger("switchboard.plugins.admin")

LOG_LEVELS = ("debug", "info", "warning", "error")
#: Third-party loggers kept at WARNING unless the level is debug (they log whole stanzas/statements).
QUIET_LOGGERS = ("slixmpp", "sqlalchemy", "aiosqlite", "asyncio")

#: Labels of the figures other plugins commonly report through ``admin.stats``.
KNOWN_STATS = {
    "queued_customers": ("Queued customers", "排队客户"),
    "active_conversations": ("Active conversations", "进行中的会话"),
    "agents_online": ("Agents online", "在线坐席"),
}


# -- rates -----------------------------------------------------------------
class RateMeter:
    """Stanzas per second over a sliding window of (time, in, out) samples."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int, int]] = deque()

    def sample(self, now: float, stanzas_in: int, stanzas_out: int) -> None:
        self._samples.append((now, stanzas_in, stanzas_out))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()

    def rates(self, now: float, stanzas_in: int, stanzas_out: int) -> tuple[float, float] | None:
        """(in/s, out/s) since the oldest sample in the window; None without a usable sample."""
        for then, old_in, old_out in self._samples:
            elapsed = now - then
            if elapsed <= 0:
                break
            # Counters restart when the process does: never report negative rates.
            return max(0.0, (stanzas_in - old_in) / elapsed), max(0.0, (stanzas_out - old_out) / elapsed)
        return None


# -- statistics ------------------------------------------------------------
@dataclass
class ServiceFigures:
    domain: str
    connected: bool
    stanzas_in: int
    stanzas_out: int
    plugins: list[str]
    rooms: int | None = None
    occupants: int | None = None


@dataclass
class Figures:
    uptime: float
    streams_connected: int
    streams_total: int
    stanzas_in: int
    stanzas_out: int
    in_per_second: float
    out_per_second: float
    rooms: int | None
    occupants: int | None
    database_bytes: int | None
    command_sessions: int
    services: list[ServiceFigures] = field(default_factory=list)
    extra: list[Stat] = field(default_factory=list)

    def value(self, var: str) -> Any:
        for stat in self.extra:
            if stat.var == var:
                return stat.value
        return None


def _room_figures(service: Any) -> tuple[int | None, int | None]:
    muc = service.hooks.service("muc", None)
    if muc is None:
        return None, None
    rooms = list(muc.rooms())
    return len(rooms), sum(len(muc.occupants(room)) for room in rooms)


#: Ticket states of customers still waiting for an agent (the support plugin's public model).
WAITING_STATES = ("queued", "offered")


def _queued_customers(service: Any) -> int | None:
    """Waiting customers from the support plugin's public service, when it runs here."""
    support = service.hooks.service("support", None)
    open_tickets = getattr(support, "open_tickets", None)
    if open_tickets is None:
        return None
    return sum(1 for ticket in open_tickets() if getattr(ticket, "state", "") in WAITING_STATES)


def _as_stats(answer: Any) -> list[Stat]:
    if isinstance(answer, dict):
        return [Stat(str(var), value) for var, value in answer.items()]
    return [a for a in answer if isinstance(a, Stat)]


def merge_stats(stats: list[Stat], more: list[Stat]) -> None:
    """Sum numeric figures reported by several services under the same var."""
    for stat in more:
        same = next((s for s in stats if s.var == stat.var), None)
        if same is None:
            stats.append(dataclasses.replace(stat))
        elif isinstance(same.value, (int, float)) and isinstance(stat.value, (int, float)):
            same.value += stat.value


async def gather_figures(app: "App", meter: RateMeter | None = None, lang: str = "en") -> Figures:
    now = time.time()
    services = []
    extra: list[Stat] = []
    for domain, service in app.services.items():
        rooms, occupants = _room_figures(service)
        services.append(ServiceFigures(domain, service.connected.is_set(), service.stanzas_in,
                                       service.stanzas_out, list(service.plugins), rooms, occupants))
        answers: list[Stat] = []
        for answer in await service.hooks.collect(STATS, StatsRequest(domain, lang)):
            merge_stats(answers, _as_stats(answer))
        if not any(s.var == "queued_customers" for s in answers):
            queued = _queued_customers(service)
            if queued is not None:
                answers.append(Stat("queued_customers", queued))
        merge_stats(extra, answers)
    total_in = sum(s.stanzas_in for s in services)
    total_out = sum(s.stanzas_out for s in services)
    uptime = max(0.0, now - app.started_at)
    rates = meter.rates(time.monotonic(), total_in, total_out) if meter else None
    if rates is None:  # no sample yet: the average since start
        rates = (total_in / uptime, total_out / uptime) if uptime > 0 else (0.0, 0.0)
    with_rooms = [s for s in services if s.rooms is not None]
    return Figures(
        uptime=uptime,
        streams_connected=sum(1 for s in services if s.connected),
        streams_total=len(services),
        stanzas_in=total_in, stanzas_out=total_out,
        in_per_second=rates[0], out_per_second=rates[1],
        rooms=sum(s.rooms or 0 for s in with_rooms) if with_rooms else None,
        occupants=sum(s.occupants or 0 for s in with_rooms) if with_rooms else None,
        database_bytes=await database_size(app.db) if app.db else None,
        command_sessions=sum(s.commands.active_sessions for s in app.services.values()),
        services=services, extra=extra)


async def database_size(db: "Database") -> int | None:
    """Bytes on disk: the SQLite file with its WAL, or PostgreSQL's pg_database_size."""
    if db.is_sqlite:
        name = db.url.database or ""
        if not name or name == ":memory:":
            return None
        return sum(os.path.getsize(p) for p in (name, name + "-wal", name + "-shm") if os.path.exists(p))
    try:
        async with db.engine.connect() as connection:
            return int((await connection.execute(text("SELECT pg_database_size(current_database())"))).scalar())
    except Exception:  # noqa: BLE001 - statistics must not fail for want of a privilege
        log.warning("database size unavailable", exc_info=True)
        return None


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


def human_duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


# -- log level -------------------------------------------------------------
def log_level_of(name: str = "") -> str:
    logger = logging.getLogger(name or None)
    return logging.getLevelName(logger.getEffectiveLevel()).lower()


def set_log_level(level: str, name: str = "") -> str:
    """Set a logger's level (the root by default); returns the previous effective level."""
    if level not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}")
    previous = log_level_of(name)
    logging.getLogger(name or None).setLevel(level.upper())
    if not name:
        # Same policy as component.logs.setup: chatty libraries only at debug.
        quiet = logging.DEBUG if level == "debug" else logging.WARNING
        for library in QUIET_LOGGERS:
            logging.getLogger(library).setLevel(quiet)
    log.info("log level changed", extra={"logger": name or "root", "level": level, "previous": previous})
    return previous


# -- configuration reload ----------------------------------------------------
@dataclass
class OptionChange:
    domain: str
    plugin: str
    options: Any
    previous: Any


@dataclass
class ReloadPlan:
    new: Config
    admins_added: list[str] = field(default_factory=list)
    admins_removed: list[str] = field(default_factory=list)
    log_level: tuple[str, str] | None = None        #: (old, new)
    names: dict[str, str] = field(default_factory=dict)  #: domain -> new disco name
    options: list[OptionChange] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.admins_added or self.admins_removed or self.log_level or self.names
                    or self.options or self.restart)


def read_config(path: str) -> tuple[Config, dict[str, dict[str, Any]]]:
    """Load and fully validate a configuration file (plugins and their options included).

    Returns the config and, per domain, each plugin's validated options.
    Raises :class:`ConfigError`.
    """
    config = load(path)
    options: dict[str, dict[str, Any]] = {}
    for i, service in enumerate(config.services):
        order = resolve(service.plugins, config.source, f"services[{i}].plugins")
        options[service.domain] = {cls.name: opts for cls, opts in order}
    return config, options


def plan_reload(current: Config, running: dict[str, dict[str, Any]], new: Config,
                new_options: dict[str, dict[str, Any]]) -> ReloadPlan:
    """What a reload would change: live where we can, the rest named for a restart.

    ``running``: per domain, the options each plugin runs with now.
    """
    plan = ReloadPlan(new)
    old_admins = {a for a in current.admins}
    new_admins = {a for a in new.admins}
    plan.admins_added = sorted(new_admins - old_admins)
    plan.admins_removed = sorted(old_admins - new_admins)
    if new.logging.level != current.logging.level:
        plan.log_level = (current.logging.level, new.logging.level)
    for key in ("format", "file"):
        if getattr(new.logging, key) != getattr(current.logging, key):
            plan.restart.append(f"logging.{key}")
    if (new.server.host, new.server.port) != (current.server.host, current.server.port):
        plan.restart.append("server")
    if new.database_url != current.database_url or new.database != current.database:
        plan.restart.append("database")
    old_domains = [s.domain for s in current.services]
    new_domains = [s.domain for s in new.services]
    for domain in new_domains:
        if domain not in old_domains:
            plan.restart.append(f"services: new domain {domain}")
    for domain in old_domains:
        if domain not in new_domains:
            plan.restart.append(f"services: removed domain {domain}")
    for service in new.services:
        if service.domain not in old_domains:
            continue
        old = current.service(service.domain)
        if new.secrets.get(service.domain) != current.secrets.get(service.domain):
            plan.restart.append(f"{service.domain}: secret")
        if service.name != old.name:
            plan.names[service.domain] = service.name
        old_plugins = running.get(service.domain, {})
        fresh = new_options.get(service.domain, {})
        if set(fresh) != set(old_plugins):
            added = sorted(set(fresh) - set(old_plugins))
            removed = sorted(set(old_plugins) - set(fresh))
            what = ", ".join([f"+{n}" for n in added] + [f"-{n}" for n in removed])
            plan.restart.append(f"{service.domain}: plugins {what}")
        for name, options in fresh.items():
            if name in old_plugins and options != old_plugins[name]:
                plan.options.append(OptionChange(service.domain, name, options, old_plugins[name]))
    return plan


async def apply_reload(app: "App", plan: ReloadPlan) -> ConfigReloaded:
    """Apply what can change live; streams and sessions are left untouched."""
    result = ConfigReloaded(plan.new.source, restart_needed=list(plan.restart))
    if plan.admins_added or plan.admins_removed:
        from slixmpp import JID

        # In place: every service reads this same set.
        app.admins.clear()
        app.admins.update(JID(a).bare for a in plan.new.admins)
        app.config.admins = list(plan.new.admins)
        result.applied.append("admins")
    if plan.log_level:
        set_log_level(plan.log_level[1])
        app.config.logging.level = plan.log_level[1]
        result.applied.append("logging.level")
    for domain, name in plan.names.items():
        app.services[domain].config.name = name
        result.applied.append(f"{domain}: name")
    for change in plan.options:
        service = app.services[change.domain]
        answered = await service.hooks.fire(RECONFIGURE, Reconfigure(change.plugin, change.options, change.previous))
        what = f"{change.domain}: plugins.{change.plugin}"
        if answered:
            service.config.plugins[change.plugin] = plan.new.service(change.domain).plugins[change.plugin]
            result.applied.append(what)
        else:
            result.restart_needed.append(what)
    for service in app.services.values():
        await service.hooks.collect(CONFIG_RELOADED, result)
    log.info("configuration reloaded", extra={"file": plan.new.source, "applied": ",".join(result.applied),
                                              "restart_needed": ",".join(result.restart_needed)})
    return result


def running_options(app: "App") -> dict[str, dict[str, Any]]:
    return {domain: {name: plugin.options for name, plugin in service.plugins.items()}
            for domain, service in app.services.items()}


# -- dates -----------------------------------------------------------------
def parse_time(value: str) -> float:
    """Seconds since the epoch from ``YYYY-MM-DD`` or an ISO 8601 date-time (UTC when no zone)."""
    value = value.strip()
    if not value:
        raise ValueError("empty date")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def format_time(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def config_path(app: "App") -> Path | None:
    source = app.config.source
    return Path(source) if source and not source.startswith("<") else None


__all__ = ["RateMeter", "Figures", "ServiceFigures", "gather_figures", "database_size", "human_bytes",
           "human_duration", "log_level_of", "set_log_level", "ReloadPlan", "OptionChange", "read_config",
           "plan_reload", "apply_reload", "running_options", "parse_time", "format_time", "config_path",
           "ConfigError", "KNOWN_STATS", "merge_stats", "LOG_LEVELS"]
