"""Run a throw-away Prosody for `make run`, tests and benchmarks.

`LocalProsody` renders ``prosody-config/dev.cfg.lua.in`` into a state folder
(config, data, pid file and logs all live there), runs ``prosody`` as a
foreground child process and waits until its ports accept connections.

Standard library only, synchronous: it is used from pytest fixtures, scripts
and the Makefile alike.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from .localprocess import PortTaken, ServerProcess, accepts, answers_c2s, free_port, free_ports, reap

__all__ = ["ProsodyPorts", "free_port", "LocalProsody", "TEMPLATE_PATH"]

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "prosody-config" / "dev.cfg.lua.in"
#: Our own Prosody modules (the guest host's limits).
MODULES_PATH = TEMPLATE_PATH.parent / "modules"

_DEBIAN_HINT = "install the Debian packages: apt-get install prosody prosody-modules lua-dbi-sqlite3"
# Not "warn" or "error": start() reads info lines to know the ports are up.
_LOG_LEVELS = ("debug", "info")
_STORAGES = ("internal", "sql")
# Logged by Prosody when a listener cannot bind; the process keeps running,
# so without this check a port taken by someone else would look "ready".
_BIND_FAILURE = "Failed to open server port"
# portmanager's line once a service listens, e.g.
#   "Activated service 'c2s' on [127.0.0.1]:5222"
_ACTIVATED = re.compile(r"\tActivated service '([\w-]+)' on ([^\n]*)")


@dataclass
class ProsodyPorts:
    c2s: int
    component: int
    http: int


def _find_binary(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    fallback = Path("/usr/bin") / name
    if fallback.is_file() and os.access(fallback, os.X_OK):
        return str(fallback)
    raise RuntimeError(f"{name} not found; {_DEBIAN_HINT}")


def _lua_str(value: str) -> str:
    """A Lua string literal for `value`."""
    out = ['"']
    for ch in value:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            # Three digits, so a following digit cannot extend the escape.
            out.append(f"\\{ord(ch):03d}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _lua_list(values: list[str]) -> str:
    return "{ " + ", ".join(_lua_str(v) for v in values) + " }" if values else "{ }"


_PLACEHOLDER = re.compile(r"@@([A-Z][A-Z0-9_]*)@@")


def _block_re(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"^--@@BEGIN {name}@@[^\n]*\n(.*?)^--@@END {name}@@[^\n]*\n?", re.MULTILINE | re.DOTALL
    )


def _substitute(text: str, values: dict[str, str]) -> str:
    """Replace placeholders in code lines; comment lines are left verbatim."""
    lines = []
    for line in text.splitlines(keepends=True):
        if not line.lstrip().startswith("--"):

            def repl(m: re.Match[str]) -> str:
                try:
                    return values[m.group(1)]
                except KeyError:
                    raise ValueError(f"unknown placeholder @@{m.group(1)}@@ in {line!r}") from None

            line = _PLACEHOLDER.sub(repl, line)
        lines.append(line)
    return "".join(lines)


def render_config(template: str, values: dict[str, str], blocks: dict[str, list[dict[str, str]]]) -> str:
    """Expand blocks then placeholders.

    `blocks` maps a block name to the list of its instances, each with extra
    placeholder values: an empty list drops the block, one entry keeps it.
    Blocks are expanded in the order given, so an inner block must come after
    the block that contains it.
    """
    for name in blocks:
        if not _block_re(name).search(template):
            raise ValueError(f"block {name} not found in the template")
    for name, instances in blocks.items():
        pattern = _block_re(name)

        def expand(m: re.Match[str]) -> str:
            body = m.group(1)
            return "".join(_substitute(body, {**values, **inst}) if inst else body for inst in instances)

        # A block nested in a dropped block is already gone: nothing to do.
        template = pattern.sub(expand, template)
    return _substitute(template, values)


class LocalProsody(ServerProcess):
    """A Prosody on loopback whose whole state lives in `state_dir`."""

    def __init__(
        self,
        state_dir: Path,
        host: str = "localhost",
        components: dict[str, str] = {},  # noqa: B006 - never mutated, copied below
        admins: list[str] = [],  # noqa: B006 - never mutated, copied below
        ports: ProsodyPorts | None = None,
        native_muc: bool = False,
        native_storage: str = "internal",
        log_level: str = "info",
        *,
        allow_registration: bool = False,
        guest_host: str | None = None,
        guest_allowed: list[str] = [],  # noqa: B006 - never mutated, copied below
        guest_rate: float = 5,
        guest_burst: int = 20,
        peer_hosts: dict[str, str] | None = None,
    ) -> None:
        if native_storage not in _STORAGES:
            raise ValueError(f"native_storage must be one of {_STORAGES}, not {native_storage!r}")
        if log_level not in _LOG_LEVELS:
            raise ValueError(f"log_level must be one of {_LOG_LEVELS}, not {log_level!r}")
        self.state_dir = Path(state_dir).resolve()
        self.host = host
        #: Federation when given: {name: address} of the peer servers; s2s then listens on 5269.
        self.peer_hosts = dict(peer_hosts) if peer_hosts is not None else None
        self.components = dict(components)
        self.admins = list(admins)
        self.native_muc = native_muc
        self.native_storage = native_storage
        self.log_level = log_level
        self.allow_registration = allow_registration
        # A guest host: anonymous logins (the chat widget) limited to `guest_allowed` domains,
        # `guest_rate` stanzas per second with bursts of `guest_burst`.
        self.guest_host = guest_host
        self.guest_allowed = list(guest_allowed)
        self.guest_rate = float(guest_rate)
        self.guest_burst = int(guest_burst)
        self._may_redraw = ports is None  # see ``start``
        self.ports = ports if ports is not None else ProsodyPorts(*free_ports(3))

        self.config_path = self.state_dir / "prosody.cfg.lua"
        self.log_path = self.state_dir / "prosody.log"
        # Whatever Prosody prints before its logging is set up (config syntax
        # errors, missing Lua libraries) ends up here.
        self.console_path = self.state_dir / "prosody.console.log"
        self.pid_path = self.state_dir / "prosody.pid"
        self.data_path = self.state_dir / "data"
        self.certs_path = self.state_dir / "certs"
        self.sql_path = self.state_dir / "prosody.sqlite"
        self.hosts_path = self.state_dir / "hosts"
        self.muc_domain = f"conference.{host}" if native_muc else None

        ServerProcess.__init__(self)

    # ---- config ---------------------------------------------------------

    def render(self) -> str:
        template = TEMPLATE_PATH.read_text(encoding="utf-8")
        values = {
            "HOST": _lua_str(self.host),
            "ADMINS": _lua_list(self.admins),
            "DATA_PATH": _lua_str(str(self.data_path)),
            "PID_FILE": _lua_str(str(self.pid_path)),
            "CERTS_PATH": _lua_str(str(self.certs_path)),
            "LOG_FILE": _lua_str(str(self.log_path)),
            "LOG_LEVEL": _lua_str(self.log_level),
            "C2S_PORT": str(int(self.ports.c2s)),
            "COMPONENT_PORT": str(int(self.ports.component)),
            "HTTP_PORT": str(int(self.ports.http)),
            "ALLOW_REGISTRATION": "true" if self.allow_registration else "false",
            "GLOBAL_MODULES": _lua_list(["dialback"] if self.peer_hosts is not None else []),
            "MUC_DOMAIN": _lua_str(self.muc_domain or ""),
            "NATIVE_STORAGE": _lua_str(self.native_storage),
            "SQL_DATABASE": _lua_str(str(self.sql_path)),
            "MODULES_PATH": _lua_str(str(MODULES_PATH)),
        }
        blocks = {
            "COMPONENT": [
                {"COMPONENT_DOMAIN": _lua_str(domain), "COMPONENT_SECRET": _lua_str(secret)}
                for domain, secret in self.components.items()
            ],
            "GUEST": [{"GUEST_HOST": _lua_str(self.guest_host), "GUEST_ALLOWED": _lua_list(self.guest_allowed),
                       "GUEST_RATE": repr(self.guest_rate), "GUEST_BURST": str(self.guest_burst)}]
            if self.guest_host else [],
            "NO_S2S": [] if self.peer_hosts is not None else [{}],
            "S2S": [{"HOSTS_FILE": _lua_str(str(self.hosts_path))}] if self.peer_hosts is not None else [],
            "NATIVE_MUC": [{}] if self.native_muc else [],
            "SQL": [{}] if self.native_muc and self.native_storage == "sql" else [],
        }
        return render_config(template, values, blocks)

    def write_config(self) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Prosody's umask is 027; keep the folder private to the same degree.
        self.data_path.mkdir(mode=0o750, exist_ok=True)
        self.certs_path.mkdir(mode=0o750, exist_ok=True)
        if self.peer_hosts is not None:
            self.hosts_path.write_text("".join(f"{address} {name}\n" for name, address in self.peer_hosts.items()),
                                       encoding="utf-8")
        text = self.render()
        # Secrets inside: readable by the owner (and group) only.
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return self.config_path

    # ---- lifecycle ------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        """Start it and wait until its ports are open (at its first start, with ports drawn again
        when another program took one first)."""

        def draw() -> None:
            self.ports = ProsodyPorts(*free_ports(3))
        self._start_drawing_again(lambda: self._start(timeout), draw)

    def _start(self, timeout: float) -> None:
        if self.is_running():
            return
        if self._proc is not None:
            # Died on its own (or was killed from outside) since the last start.
            self._proc.wait()
            self._cleanup()
        prosody = _find_binary("prosody")
        self.write_config()
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        console_start = self.console_path.stat().st_size if self.console_path.exists() else 0
        self._console = open(self.console_path, "ab")
        self._proc = subprocess.Popen(
            [prosody, "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            cwd=self.state_dir,
            # Own process group: Ctrl-C in a terminal running `make run` or
            # pytest must not reach Prosody before we stop it in order.
            start_new_session=True,
        )
        self._finalizer = weakref.finalize(self, reap, self._proc)

        # Readiness comes from Prosody's own "Activated service" lines: a TCP
        # probe alone would be fooled by another process holding a port
        # (Prosody only logs a bind failure and keeps running).
        wanted = {"c2s": self.ports.c2s, "http": self.ports.http}
        # Prosody opens the component port only when at least one external
        # component is configured (mod_component provides the listener).
        if self.components:
            wanted["component"] = self.ports.component
        if self.peer_hosts is not None:
            wanted["s2s"] = 5269
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self._cleanup()
                raise RuntimeError(
                    f"prosody exited with status {rc} during start-up\n{self._diagnostics(console_start)}"
                )
            log = self._log_since(self._log_start)
            if _BIND_FAILURE in log:
                self.kill()
                raise PortTaken(f"prosody could not bind its ports {wanted}\n{self._diagnostics(console_start)}")
            activated = {m.group(1): m.group(2) for m in _ACTIVATED.finditer(log)}
            pending = {
                name: port for name, port in wanted.items() if f"[127.0.0.1]:{port}" not in activated.get(name, "")
            }
            # Hosts and their modules load one after another before the event
            # loop starts, so a port can listen while later hosts (the native
            # MUC) are still loading. A c2s stream answered means the loop runs
            # and start-up is over.
            if (
                not pending
                and all(accepts(port) for name, port in wanted.items() if name != "c2s")
                and answers_c2s(self.ports.c2s)
            ):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"prosody did not open {pending or wanted} within {timeout} s\n{self._diagnostics(console_start)}"
                )
            time.sleep(0.05)

    # ---- accounts -------------------------------------------------------

    def register(self, user: str, password: str) -> None:
        """Create `user`@host, or reset its password if it already exists."""
        prosodyctl = _find_binary("prosodyctl")
        # prosodyctl reads data_path from the rendered config, so it works
        # before start() and while the server runs alike.
        if not self.is_running():
            self.write_config()
        result = subprocess.run(
            [prosodyctl, "--config", str(self.config_path), "register", user, self.host, password],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = (result.stdout + result.stderr).strip()
        # internal_hashed overwrites an existing account, so this is rarely
        # hit; other auth backends may refuse instead.
        if result.returncode != 0 and "exist" not in output.lower():
            raise RuntimeError(f"prosodyctl register {user}@{self.host} failed ({result.returncode}): {output}")

    # ---- logs -----------------------------------------------------------

    def wait_component(self, domain: str, timeout: float = 30, *, since: int | None = None) -> bool:
        """Wait until an external component has authenticated for `domain` (per the log)."""
        return (self.wait_for_log(f"{domain}:component", timeout, since=since)
                and self.wait_for_log("External component successfully authenticated", timeout, since=since))
