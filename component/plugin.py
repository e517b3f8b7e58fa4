"""Plugins: capabilities loaded per service from ``plugins/<name>/``.

A plugin package exports ``PLUGIN``, a subclass of :class:`Plugin`. The class
declares what the core needs to know before anything runs: dependencies, an
options dataclass, disco identities and features, and its schema migrations.
``setup()`` then registers stanza handlers, hooks and commands on the service.

Our plugin names never take slixmpp's ``xep_NNNN`` names: slixmpp keeps a
global plugin registry by name, and its ``xep_0045`` is a MUC *client*.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from .config import ConfigError, from_dict
from .storage import MigrationStep

if TYPE_CHECKING:
    from .cli_kit import CliCommand
    from .service import Service


@dataclasses.dataclass
class NoOptions:
    """A plugin without options."""


class Plugin:
    #: The plugin's name, equal to its package name under ``plugins/``.
    name: ClassVar[str] = ""
    #: Plugins that must run on the same service; they are set up first.
    depends: ClassVar[tuple[str, ...]] = ()
    #: Plugins set up first when they are configured, but not required.
    optional_depends: ClassVar[tuple[str, ...]] = ()
    #: The dataclass that validates this plugin's options table.
    Options: ClassVar[type] = NoOptions
    #: XEP-0030 identities of the service domain: (category, type, name).
    identities: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    #: XEP-0030 features of the service domain.
    features: ClassVar[tuple[str, ...]] = ()
    #: Schema history: step i brings this plugin's tables to version i + 1.
    migrations: ClassVar[Sequence[MigrationStep]] = ()
    #: Command-line commands this plugin brings (``component.cli_kit.CliCommand``); the core
    #: lists them in ``switchboard --help`` and dispatches to them.
    command_line: ClassVar[Sequence["CliCommand"]] = ()
    #: Works when several processes share the domain's balancing slots (docs/scaling.md): what it
    #: keeps in memory belongs to the JIDs whose stanzas reach it, or is a read copy kept fresh.
    shares_domain: ClassVar[bool] = False

    def __init__(self, service: "Service", options: Any) -> None:
        self.service = service
        self.options = options
        self.hooks = service.hooks
        self.log = logging.getLogger(f"switchboard.plugins.{self.name}")

    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.service.db

    @property
    def metrics(self):  # type: ignore[no-untyped-def]
        """Where this plugin declares what it measures (``component.metrics.Metrics``)."""
        return self.service.app.metrics

    async def setup(self) -> None:
        """Register handlers, hooks, services and commands. Runs once, before connecting."""

    async def on_connected(self) -> None:
        """The stream to the server is (re-)established."""

    async def stop(self) -> None:
        """The service stops: release what setup() took (reverse load order)."""


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def plugin_class(name: str, source: str = "<config>", key: str = "") -> type[Plugin]:
    """Import ``plugins.<name>`` and return its plugin class."""
    if not _NAME.match(name):
        raise ConfigError(source, key, f"invalid plugin name {name!r}")
    try:
        module = importlib.import_module(f"plugins.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"plugins.{name}", "plugins"):
            raise ConfigError(source, key, f"no plugin named {name!r}") from exc
        raise
    cls = getattr(module, "PLUGIN", None)
    if not (isinstance(cls, type) and issubclass(cls, Plugin)) or cls.name != name:
        raise ConfigError(source, key, f"package plugins.{name} does not export PLUGIN for {name!r}")
    return cls


def resolve(plugins: dict[str, dict[str, Any]], source: str = "<config>",
            key: str = "plugins") -> list[tuple[type[Plugin], Any]]:
    """Validate a service's plugin table; return (class, options) in dependency order."""
    classes: dict[str, type[Plugin]] = {}
    options: dict[str, Any] = {}
    for name, table in plugins.items():
        cls = plugin_class(name, source, f"{key}.{name}")
        classes[name] = cls
        options[name] = from_dict(cls.Options, table or {}, source, f"{key}.{name}")
    for name, cls in classes.items():
        for dep in cls.depends:
            if dep not in classes:
                raise ConfigError(source, f"{key}.{name}",
                                  f"plugin {name!r} requires plugin {dep!r} on the same service")
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ConfigError(source, key, "plugin dependency cycle: " + " -> ".join(chain + (name,)))
        visiting.add(name)
        cls = classes[name]
        for dep in (*cls.depends, *cls.optional_depends):
            if dep in classes:
                visit(dep, chain + (name,))
        visiting.discard(name)
        ordered.append(name)

    for name in classes:  # config order breaks ties
        visit(name, ())
    return [(classes[name], options[name]) for name in ordered]
