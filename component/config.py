"""Configuration: one TOML file, validated strictly against typed dataclasses.

Every option is a dataclass field whose metadata carries its documentation; the
example file at the top of the repository documents the same keys. Unknown keys
are errors: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from slixmpp import JID
from slixmpp.jid import InvalidJID

# How a TOML table becomes a typed dataclass, and how options are documented: config_schema.py.
from .config_schema import ConfigError, convert, doc, from_dict, options_doc, render_options_toml

__all__ = ["ConfigError", "convert", "doc", "from_dict", "options_doc", "render_options_toml", "Config",
           "ServerConfig", "DatabaseConfig", "LoggingConfig", "StatusConfig", "LimitsConfig", "BalancingConfig",
           "ServiceConfig", "parse", "load", "world_readable"]


@dataclass
class ServerConfig:
    host: str = doc("Address of the XMPP server's component port.", "127.0.0.1")
    port: int = doc("The XEP-0114 component port of the server.", 5347)
    max_stanza_bytes: int = doc(
        "Largest stanza the server accepts from us, in bytes; 0: no limit. Larger ones are not sent (an IQ "
        "answer becomes an error): ejabberd closes the whole component stream on one. Set it to the "
        "max_stanza_size of ejabberd's ejabberd_service listener.", 0)
    pacing_window: int = doc(
        "Stanzas the component lets the server have yet to handle before its bulk notices (places in a "
        "queue, transcripts, closing notices) wait in the component, so that offers and answers "
        "overtake them in a storm; each address still gets its stanzas in order. 0: off. Used with "
        "one connection per domain (balancing.slots = 1).", 32)


@dataclass
class DatabaseConfig:
    url: str = doc(
        "SQLAlchemy async URL. Empty: SQLite (aiosqlite) in the state folder. "
        "PostgreSQL: postgresql+asyncpg://user:password@host/db", "")
    url_env: str = doc("Name of an environment variable holding the URL (overrides url).", "")
    sqlite_synchronous: Literal["off", "normal", "full"] = doc(
        "SQLite PRAGMA synchronous. 'normal' survives a process crash (WAL); "
        "'full' also survives a power loss, at a cost per commit.", "normal")
    echo: bool = doc("Log every SQL statement (debugging only).", False)


@dataclass
class LoggingConfig:
    level: Literal["debug", "info", "warning", "error"] = doc("Log level.", "info")
    format: Literal["text", "json"] = doc("One line per event: human text or JSON.", "text")
    file: str = doc("Log file; empty logs to standard error.", "")


@dataclass
class StatusConfig:
    listen: str = doc("Address (host:port) of the HTTP status listener serving /metrics (Prometheus) and "
                      "/health (200, or 503 with the reasons); empty: off. Keep it on loopback or a "
                      "private network: it has no authentication.", "")


@dataclass
class LimitsConfig:
    message_rate: float = doc("Messages per second a sender (bare JID) may send to this service; 0 = no limit.",
                              10.0)
    message_burst: int = doc("Messages a sender may send at once before the rate applies.", 30)
    max_body_chars: int = doc("Longest message body accepted, in characters; 0 = no limit.", 20000)
    max_depth: int = doc("Deepest element nesting accepted in a stanza.", 32)
    max_children: int = doc("Most child elements accepted in one stanza (all levels).", 500)


@dataclass
class BalancingConfig:
    slots: int = doc(
        "N: how many XEP-0114 connections the server balances each service domain over (ejabberd: "
        "domain_balancing with type bare_destination and component_number N). Every room and queue is "
        "pinned to one slot by its bare JID, so N must not change while any process runs: a new N re-pins "
        "rooms. 1 = one connection per domain, no balancing.", 1)
    process_slots: list[int] | None = doc(
        "The slots (0 to slots-1) this process opens, one connection each. Absent: all of them (one "
        "process). Several processes give each its own share; [] opens none (a stand-by that serves "
        "nothing). Processes sharing a domain need PostgreSQL, where they check each other's slots.", None)

    @property
    def mine(self) -> list[int]:
        return list(range(self.slots)) if self.process_slots is None else list(self.process_slots)

    @property
    def shared(self) -> bool:
        """Other processes hold some of the slots (this process alone does not serve the domains)."""
        return len(self.mine) != self.slots


@dataclass
class ServiceConfig:
    domain: str = doc("The component domain the server routes to us, e.g. rooms.example.com.")
    secret: str = doc("The component secret shared with the server.", "")
    secret_env: str = doc("Read the secret from this environment variable instead.", "")
    secret_file: str = doc("Read the secret from this file (first line) instead.", "")
    port: int = doc("This domain's own component port on the server; 0 = server.port. ejabberd routes "
                    "every domain of one ejabberd_service listener to each stream on it: give each domain "
                    "its own listener and port there.", 0)
    name: str = doc("Human name shown in service discovery.", "")
    plugins: dict[str, dict[str, Any]] = doc(
        "Plugins this service runs, each with its options table.", factory=dict)
    limits: LimitsConfig = doc("Input limits checked before any plugin sees a stanza.", factory=LimitsConfig)

    def resolve_secret(self, source: str, key: str, base_dir: Path | None = None) -> str:
        provided = [k for k in ("secret", "secret_env", "secret_file") if getattr(self, k)]
        if len(provided) != 1:
            raise ConfigError(source, key, "give exactly one of secret, secret_env, secret_file")
        if self.secret_env:
            value = os.environ.get(self.secret_env, "")
            if not value:
                raise ConfigError(source, key + ".secret_env",
                                  f"environment variable {self.secret_env} is empty or unset")
            return value
        if self.secret_file:
            path = Path(self.secret_file)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            try:
                value = path.read_text(encoding="utf-8").splitlines()[0].strip()
            except (OSError, IndexError) as exc:
                raise ConfigError(source, key + ".secret_file", f"cannot read a secret from {path}: {exc}") from exc
            return value
        return self.secret


@dataclass
class Config:
    server: ServerConfig = doc("The XMPP server we connect to.", factory=ServerConfig)
    state_dir: str = doc("Folder for the SQLite database and other state (relative to the config file).", "state")
    admins: list[str] = doc("Global administrators (bare JIDs).", factory=list)
    database: DatabaseConfig = doc("Storage.", factory=DatabaseConfig)
    logging: LoggingConfig = doc("Logging.", factory=LoggingConfig)
    status: StatusConfig = doc("Metrics and health over HTTP.", factory=StatusConfig)
    services: list[ServiceConfig] = doc("One XEP-0114 stream per service domain.", factory=list)
    balancing: BalancingConfig = doc("Several connections per domain, over one or several processes.",
                                     factory=BalancingConfig)

    #: Where the file was read from; relative paths resolve against its folder.
    source: str = field(default="<config>", metadata={"internal": True})
    base_dir: Path = field(default_factory=Path.cwd, metadata={"internal": True})
    #: Resolved secrets, by domain (never logged).
    secrets: dict[str, str] = field(default_factory=dict, repr=False, metadata={"internal": True})

    @property
    def state_path(self) -> Path:
        path = Path(self.state_dir)
        return path if path.is_absolute() else self.base_dir / path

    @property
    def database_url(self) -> str:
        if self.database.url_env:
            value = os.environ.get(self.database.url_env, "")
            if value:
                return value
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.state_path / 'switchboard.db'}"

    def service(self, domain: str) -> ServiceConfig:
        for service in self.services:
            if service.domain == domain:
                return service
        raise KeyError(domain)


def _check_jid(source: str, key: str, value: str, bare: bool = True, domain_only: bool = False) -> None:
    try:
        jid = JID(value)
    except InvalidJID as exc:
        raise ConfigError(source, key, f"not a valid JID: {value!r} ({exc})") from exc
    if domain_only and (jid.user or jid.resource):
        raise ConfigError(source, key, f"expected a bare domain, got {value!r}")
    if bare and jid.resource:
        raise ConfigError(source, key, f"expected a bare JID, got {value!r}")


def parse(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from exc
    config = from_dict(Config, data, source)
    config.source = source
    config.base_dir = base_dir or Path.cwd()
    for i, admin in enumerate(config.admins):
        _check_jid(source, f"admins[{i}]", admin)
    if not config.services:
        raise ConfigError(source, "services", "at least one [[services]] entry is required")
    seen: set[str] = set()
    for i, service in enumerate(config.services):
        key = f"services[{i}]"
        _check_jid(source, key + ".domain", service.domain, domain_only=True)
        if service.domain in seen:
            raise ConfigError(source, key + ".domain", f"domain {service.domain} is configured twice")
        seen.add(service.domain)
        config.secrets[service.domain] = service.resolve_secret(source, key, config.base_dir)
        if not config.secrets[service.domain]:
            raise ConfigError(source, key + ".secret", "the secret is empty")
    if config.status.listen:
        host, sep, port = config.status.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError(source, "status.listen", f"not host:port: {config.status.listen!r}")
    if not 0 < config.server.port < 65536:
        raise ConfigError(source, "server.port", f"not a TCP port: {config.server.port}")
    if config.server.pacing_window < 0:
        raise ConfigError(source, "server.pacing_window", "must be 0 (off) or a number of stanzas")
    if config.server.max_stanza_bytes < 0:
        raise ConfigError(source, "server.max_stanza_bytes", "must be 0 (no limit) or a size in bytes")
    for i, service in enumerate(config.services):
        if not 0 <= service.port < 65536:
            raise ConfigError(source, f"services[{i}].port", f"not a TCP port (or 0): {service.port}")
    _check_balancing(config)
    return config


def _check_balancing(config: Config) -> None:
    balancing, source = config.balancing, config.source
    if balancing.slots < 1:
        raise ConfigError(source, "balancing.slots", f"needs at least one slot, got {balancing.slots} (it is "
                          "ejabberd's component_number; 1 without balancing)")
    mine = balancing.mine
    for i, slot in enumerate(mine):
        if not 0 <= slot < balancing.slots:
            raise ConfigError(source, f"balancing.process_slots[{i}]",
                              f"slot {slot} does not exist with slots = {balancing.slots} (slots are numbered "
                              f"0 to {balancing.slots - 1})")
    if len(set(mine)) != len(mine):
        raise ConfigError(source, "balancing.process_slots", f"a slot is listed twice: {mine}")
    if balancing.shared and config.database_url.startswith("sqlite"):
        raise ConfigError(source, "balancing.process_slots",
                          "processes that share a domain need a database they can all reach and lock: "
                          "PostgreSQL (database.url); with SQLite, one process opens every slot")


def load(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror or exc}") from exc
    return parse(text, str(path), path.resolve().parent)


def world_readable(path: str | Path) -> bool:
    """True when others may read the file, which matters when it holds secrets."""
    try:
        return bool(Path(path).stat().st_mode & stat.S_IROTH)
    except OSError:
        return False
