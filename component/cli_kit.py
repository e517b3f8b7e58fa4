"""What a plugin's command-line commands stand on.

A plugin declares its commands on its class (``Plugin.command_line``), the way
it declares options and migrations: each :class:`CliCommand` names a top-level
word (``rooms``, ``kb``, ``report``…) and builds its argparse sub-tree. The core
(``component/cli.py``) finds them in the installed plugins, lists them in
``switchboard --help`` and dispatches; it knows no plugin by name.

A command's action is ``async def action(ctx: CliContext, args) -> int``. It runs
against the database of a configuration file with the plugins set up but no
stream connected (like prosodyctl's commands next to a running server), and
goes through the same public services and rights checks as its XEP-0050 twin.
By default it acts as the operator (whoever can read the configuration file:
a global admin's rights); ``--as JID`` applies that account's rights instead.

Exit codes: 0 done, 1 refused or failed (the message says why), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TextIO

from slixmpp import JID
from slixmpp.jid import InvalidJID

from .adhoc import Context, Scope, rights_scope

if TYPE_CHECKING:
    from .app import App
    from .service import Service

EXIT_FAILED = 1
EXIT_USAGE = 2

Action = Callable[["CliContext", argparse.Namespace], Awaitable[int]]


class CliError(Exception):
    """An operation that cannot be done; the message says why (exit status 1)."""


class CliRefused(CliError):
    """The acting account may not do this (``--as``)."""


@dataclass(frozen=True)
class CliCommand:
    """One top-level command a plugin brings.

    ``build(parser, common)`` adds the command's arguments, or its actions as
    sub-parsers; every parser that runs an action takes ``parents=[common]``
    (``--config``, ``--service``, ``--as``, ``--lang``, ``--verbose``) and sets
    ``action`` with ``set_defaults``. With ``leaf=True`` the command runs an
    action itself and the core gives its parser the common options.
    """

    name: str
    help: str
    build: Callable[[argparse.ArgumentParser, argparse.ArgumentParser], None]
    description: str = ""
    leaf: bool = False
    #: Other plugins the command's service must run (the declaring plugin always).
    needs: tuple[str, ...] = ()


#: The configuration file when --config is not given (containers, service managers).
CONFIG_ENV = "SWITCHBOARD_CONFIG"


def config_option(parser: argparse.ArgumentParser) -> None:
    """``--config``; required unless SWITCHBOARD_CONFIG names the file."""
    default = os.environ.get(CONFIG_ENV) or None
    parser.add_argument("--config", "-c", required=default is None, default=default,
                        help=f"the TOML configuration file (default: ${CONFIG_ENV})")


def common_options() -> argparse.ArgumentParser:
    """The options every plugin command takes (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    config_option(common)
    common.add_argument("--service", metavar="DOMAIN",
                        help="the service domain (default: the first one running the plugin)")
    common.add_argument("--as", dest="as_jid", metavar="JID",
                        help="act with this account's rights, as its ad-hoc commands would "
                             "(default: the operator, with a global admin's rights)")
    common.add_argument("--lang", choices=("en", "zh"), default=None, help="language of texts (default en)")
    common.add_argument("--verbose", "-v", action="store_true", help="log everything (debug)")
    return common


@dataclass
class Actor:
    """Who a command acts as: the operator (``jid`` None) or an account named with ``--as``."""

    jid: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> "Actor":
        if not text:
            return cls()
        try:
            jid = JID(text)
        except InvalidJID as exc:
            raise CliError(f"--as: not a JID: {text!r}") from exc
        if not jid.user:
            raise CliError(f"--as: give an account (user@domain), not {text!r}")
        return cls(jid.bare)

    @property
    def is_operator(self) -> bool:
        return self.jid is None

    def __str__(self) -> str:
        return self.jid or "operator"


@dataclass
class CliContext:
    """What an action gets: the app (plugins set up, not connected), its service, the actor."""

    app: "App"
    service: "Service"
    actor: Actor
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    lang: str = "en"

    @property
    def hooks(self) -> Any:
        return self.service.hooks

    def public(self, name: str) -> Any:
        """Another plugin's public service; a clear error when it does not run here."""
        provided = self.service.hooks.service(name, None)
        if provided is None:
            raise CliError(f"no {name} service runs on {self.service.domain}")
        return provided

    def is_admin(self) -> bool:
        return self.actor.is_operator or self.service.is_admin(self.actor.jid or "")

    async def scope(self, kind: str) -> Scope:
        """The actor's scope of ``kind`` (rooms, queues…), as the ad-hoc commands compute it."""
        if self.actor.is_operator:
            return Scope(everything=True)
        return await rights_scope(self.service, self.actor.jid or "", kind)

    def adhoc_context(self) -> Context:
        """An ad-hoc command context for code shared with XEP-0050 (operator: the first admin)."""
        who = self.actor.jid or next(iter(sorted(self.app.admins)), f"operator@{self.service.domain}")
        ctx = Context(self.service, JID(who), self.lang)
        return ctx

    def say(self, text: str) -> None:
        """A line for the person at the terminal (standard error, so output stays clean)."""
        self.err.write(text + "\n")

    def json(self, data: Any) -> None:
        self.out.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")

    def table(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        print_table(rows, columns, self.out)


def print_table(rows: list[dict[str, Any]], columns: list[str], out: TextIO) -> None:
    cells = [[str("" if row.get(c) is None else row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")


class Progress:
    """A one-line progress bar on standard error (redrawn at most ten times a second)."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.label = label
        self.total = max(total, 0)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self._drawn = 0.0

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and now - self._drawn >= 0.1:
            self._drawn = now
            self._draw()

    def _draw(self) -> None:
        total = max(self.total, self.done, 1)
        filled = int(self.WIDTH * self.done / total)
        percent = int(100 * self.done / total)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                          f"{percent:3d}% {self.done}/{max(self.total, self.done)}")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


def confirm(prompt: str, without_terminal: str, assume_yes: bool, stream: TextIO | None = None) -> bool:
    """Ask ``prompt`` on the terminal; without one (a script) only ``--yes`` confirms, else
    :class:`CliError` with ``without_terminal`` (what would happen)."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise CliError(f"{without_terminal}; add --yes to confirm")
    stream = stream or sys.stderr
    stream.write(f"{prompt} [y/N] ")
    stream.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")
