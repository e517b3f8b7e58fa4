"""Configuration: one TOML file, validated strictly against typed dataclasses.

Every option is a dataclass field whose metadata carries its documentation; the
example file at the top of the repository documents the same keys. Unknown keys
are errors: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from slixmpp import JID
from slixmpp.jid import InvalidJID


class ConfigError(Exception):
    """A configuration problem, located by file and key path."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {message}")


def doc(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field carrying its documentation."""
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


@dataclass
class ServerConfig:
    host: str = doc("Address of the XMPP server's component port.", "127.0.0.1")
    port: int = doc("The XEP-0114 component port of the server.", 5347)
    max_stanza_bytes: int = doc(
        "Largest stanza the server accepts from us, in bytes; 0: no limit. Larger ones are not sent (an IQ "
        "answer becomes an error): ejabberd closes the whole component stream on one. Set it to the "
        "max_stanza_size of ejabberd's ejabberd_service listener.", 0)


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


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(tp))
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a table"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def convert(tp: Any, value: Any, source: str, key: str) -> Any:
    """Check ``value`` against the type annotation ``tp``; return the typed value."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(arg, value, source, key)
            except ConfigError as exc:
                errors.append(exc.message)
        raise ConfigError(source, key, " or ".join(errors))
    if tp is Any:
        return value
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(source, key, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if origin is list:
        (item_type,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list):
            raise ConfigError(source, key, f"expected a list, got {value!r}")
        return [convert(item_type, item, source, f"{key}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        key_type, value_type = typing.get_args(tp) or (str, Any)
        if not isinstance(value, dict):
            raise ConfigError(source, key, f"expected a table, got {value!r}")
        return {k: convert(value_type, v, source, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, source, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, key, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(source, key, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(source, key, f"expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported option type {tp!r} at {key}")


def from_dict(cls: type, data: Any, source: str, key: str = "") -> Any:
    """Build dataclass ``cls`` from a TOML table, refusing unknown and missing keys."""
    if not isinstance(data, dict):
        raise ConfigError(source, key, f"expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{key}.{unknown[0]}" if key else unknown[0]
        raise ConfigError(source, where, f"unknown key (known: {', '.join(sorted(fields))})")
    values = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in data:
            values[name] = convert(hints[name], data[name], source, sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(source, sub, "required key is missing")
    return cls(**values)


def options_doc(cls: type) -> list[tuple[str, str, str]]:
    """(name, type, doc) for each documented option of a dataclass."""
    hints = typing.get_type_hints(cls)
    return [(f.name, _type_name(hints[f.name]), f.metadata.get("doc", ""))
            for f in dataclasses.fields(cls) if not f.metadata.get("internal")]


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


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_literal(v)}" for k, v in value.items()) + "}"
    return '""'


def _wrap_comment(text: str, indent: str = "") -> list[str]:
    import textwrap

    return [f"{indent}# {line}" for line in textwrap.wrap(text, 96)] or []


def render_options_toml(cls: type, table: str) -> list[str]:
    """Documented TOML for an options dataclass: every key with its default and doc.

    Lists of tables (e.g. support queues) are shown as one commented example entry.
    """
    hints = typing.get_type_hints(cls)
    simple: list[str] = [f"[{table}]"]
    nested: list[str] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        tp = hints[f.name]
        docline = f.metadata.get("doc", "")
        args = typing.get_args(tp)
        if typing.get_origin(tp) is list and args and dataclasses.is_dataclass(args[0]):
            nested.append("")
            nested += _wrap_comment(docline)
            inner = render_options_toml(args[0], f"{table}.{f.name}")
            nested.append(f"# [[{table}.{f.name}]]")
            nested += ["# " + line if line and not line.startswith("#") else line for line in inner[1:]]
            continue
        if dataclasses.is_dataclass(tp):
            nested.append("")
            nested += _wrap_comment(docline)
            nested += render_options_toml(tp, f"{table}.{f.name}")
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        simple += _wrap_comment(docline + (f" ({_type_name(tp)})" if typing.get_origin(tp) is Literal else ""))
        if default is None:
            simple.append(f"# {f.name} = ...  (required)")
        else:
            simple.append(f"{f.name} = {_toml_literal(default)}")
    return simple + nested
