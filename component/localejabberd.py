"""Run a throw-away ejabberd for tests and local runs, like `localserver.LocalProsody`.

`LocalEjabberd` renders ``ejabberd-config/test.yml.in`` into a state folder
(config, Mnesia spool, logs and an inetrc of its own all live there), runs the
Erlang VM as a foreground child process and waits until its ports answer.

It starts ``erl`` directly rather than through ``ejabberdctl``: the script
sources Debian's ``ejabberdctl.cfg`` (which overrides the config path) and
switches to the ``ejabberd`` user. Without an Erlang node name no epmd is
needed either; accounts are created over ejabberd's HTTP admin API instead.

Standard library only, synchronous: used from pytest fixtures and scripts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass
from pathlib import Path

from .localprocess import PortTaken, ServerProcess, accepts, answers_c2s, free_ports, reap

__all__ = ["EjabberdPorts", "LocalEjabberd", "TEMPLATE_PATH", "available"]

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "ejabberd-config" / "test.yml.in"

_DEBIAN_HINT = "install the Debian package: apt-get install ejabberd (then keep its own service stopped)"
_ERL = "/usr/bin/erl"
# Debian installs ejabberd's applications here (ejabberdctl sets the same).
_ERL_LIBS = "/usr/lib/x86_64-linux-gnu"
_STARTED = "is started in the node"
_PLACEHOLDER = re.compile(r"@@([A-Z][A-Z0-9_]*)@@")


def available() -> bool:
    return Path(_ERL).exists() and any(Path(_ERL_LIBS).glob("ejabberd-*"))


@dataclass
class EjabberdPorts:
    c2s: int
    component: int
    http: int
    s2s: int


_BLOCK = re.compile(r"^#@@BEGIN (\w+)@@\n(.*?)^#@@END \1@@\n", re.MULTILINE | re.DOTALL)


def render(template: str, values: dict[str, object], blocks: dict[str, list[dict[str, object]]] | None = None) -> str:
    """Repeat blocks once per instance, then replace placeholders in non-comment lines by JSON
    values (valid YAML flow style)."""
    template = _BLOCK.sub(lambda m: "".join(render(m.group(2), {**values, **inst})
                                            for inst in (blocks or {}).get(m.group(1), [])), template)
    out = []
    for line in template.splitlines(keepends=True):
        if not line.lstrip().startswith("#"):
            def repl(m: re.Match[str]) -> str:
                try:
                    return json.dumps(values[m.group(1)])
                except KeyError:
                    raise ValueError(f"unknown placeholder @@{m.group(1)}@@ in {line!r}") from None
            line = _PLACEHOLDER.sub(repl, line)
        out.append(line)
    return "".join(out)


class LocalEjabberd(ServerProcess):
    """An ejabberd on a loopback address whose whole state lives in `state_dir`."""

    #: The VM stops its applications in order on SIGTERM (OTP 20+); that takes longer than Prosody.
    STOP_TIMEOUT = 15.0

    def __init__(self, state_dir: Path, host: str = "localhost", components: dict[str, str] = {},  # noqa: B006
                 admins: list[str] = [], ip: str = "127.0.0.1",  # noqa: B006 - copied below
                 ports: EjabberdPorts | None = None, federation: bool = False, log_level: str = "info",
                 balancing: dict[str, int] = {}, extra_listeners: str = "") -> None:  # noqa: B006
        self.state_dir = Path(state_dir).resolve()
        self.host = host
        self.components = dict(components)
        self.admins = list(admins)
        self.ip = ip
        # s2s on 5269 of `ip`, open to other servers. ejabberd finds its peers
        # by SRV records (its own DNS client) and then the system's
        # getaddrinfo, so /etc/hosts names them (not an inetrc).
        self.federation = federation
        self.log_level = log_level
        #: Raw YAML list items added to `listen:` (e.g. a documented snippet under test).
        self.extra_listeners = extra_listeners
        #: Component domains balanced over N connection slots by bare destination: {domain: N}.
        self.balancing = dict(balancing)
        self._may_redraw = ports is None  # see ``start``
        self._draw_ports(ports)
        self.config_path = self.state_dir / "ejabberd.yml"
        self.inetrc_path = self.state_dir / "inetrc"
        self.spool_path = self.state_dir / "spool"
        self.log_dir = self.state_dir / "logs"
        self.log_path = self.log_dir / "ejabberd.log"
        self.console_path = self.state_dir / "ejabberd.console.log"
        ServerProcess.__init__(self)

    # ---- config ---------------------------------------------------------

    def _draw_ports(self, ports: EjabberdPorts | None) -> None:
        # Every port in one draw: two draws could give the same port twice (each is free when drawn).
        drawn = free_ports(len(self.components) + (4 if ports is None else 0))
        if ports is None:
            c2s, component, http, s2s = drawn[-4:]
            ports = EjabberdPorts(c2s, component, http, 5269 if self.federation else s2s)
        self.ports = ports
        #: Each component domain's own listener (only that domain routed to streams on it).
        self.component_ports = dict(zip(self.components, drawn))

    def render(self) -> str:
        values: dict[str, object] = {
            "HOSTS": [self.host],
            "IP": self.ip,
            "C2S_PORT": self.ports.c2s,
            "COMPONENT_PORT": self.ports.component,
            "HTTP_PORT": self.ports.http,
            "S2S_PORT": self.ports.s2s,
            "SERVICES": {domain: {"password": secret} for domain, secret in self.components.items()},
            "ADMINS": self.admins,
            "LOG_LEVEL": self.log_level,
            "S2S_ACCESS": "all" if self.federation else "none",
            "BALANCING": {domain: {"type": "bare_destination", "component_number": n}
                          for domain, n in self.balancing.items()},
        }
        blocks = {"SERVICE_LISTENER": [
            {"SERVICE_PORT": port, "SERVICE_HOSTS": {domain: {"password": self.components[domain]}}}
            for domain, port in self.component_ports.items()]}
        text = render(TEMPLATE_PATH.read_text(encoding="utf-8"), values, blocks)
        if self.extra_listeners:
            text = text.replace("\nlisten:\n", "\nlisten:\n" + self.extra_listeners.rstrip("\n") + "\n", 1)
        return text

    def write_config(self) -> Path:
        for path in (self.state_dir, self.spool_path, self.log_dir):
            path.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.render())
        # Not Debian's inetrc, which names "hostalias" and reads /etc/resolv.conf only.
        self.inetrc_path.write_text('{lookup, [file, native]}.\n{host, {127,0,0,1}, ["localhost"]}.\n',
                                    encoding="utf-8")
        return self.config_path

    # ---- lifecycle ------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        """Start it and wait until its ports answer.

        The Erlang VM takes seconds to start and bind its ports: when another program took one
        first, ejabberd exits (``eaddrinuse``), and at its first start it draws its ports again."""
        self._start_drawing_again(lambda: self._start(timeout), lambda: self._draw_ports(None))

    def _start(self, timeout: float) -> None:
        if self.is_running():
            return
        if not available():
            raise RuntimeError(f"ejabberd not found; {_DEBIAN_HINT}")
        self.write_config()
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        console_start = self.console_path.stat().st_size if self.console_path.exists() else 0
        self._console = open(self.console_path, "ab")
        env = {**os.environ, "EJABBERD_CONFIG_PATH": str(self.config_path),
               "EJABBERD_LOG_PATH": str(self.log_path), "ERL_INETRC": str(self.inetrc_path),
               "ERL_LIBS": _ERL_LIBS, "ERL_CRASH_DUMP": str(self.state_dir / "erl_crash.dump"),
               "ERL_CRASH_DUMP_BYTES": "0", "HOME": str(self.state_dir)}
        self._proc = subprocess.Popen(
            [_ERL, "-noinput", "+K", "true", "-mnesia", "dir", json.dumps(str(self.spool_path)),
             "-s", "ejabberd"],
            stdin=subprocess.DEVNULL, stdout=self._console, stderr=subprocess.STDOUT,
            cwd=self.state_dir, env=env, start_new_session=True)
        self._finalizer = weakref.finalize(self, reap, self._proc)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self._cleanup()
                error = PortTaken if "eaddrinuse" in self._log_since(self._log_start) else RuntimeError
                raise error(f"ejabberd exited with status {rc} during start-up\n{self._diagnostics(console_start)}")
            if (_STARTED in self._log_since(self._log_start) and answers_c2s(self.ports.c2s, self.ip)
                    and all(accepts(p, self.ip) for p in (self.ports.component, self.ports.http,
                                                           *self.component_ports.values()))):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"ejabberd did not start within {timeout} s\n{self._diagnostics(console_start)}")
            time.sleep(0.1)

    # ---- accounts and admin API -----------------------------------------

    def api(self, command: str, **arguments: object) -> object:
        """Call one ejabberd admin command over HTTP (allowed from loopback by the test config)."""
        request = urllib.request.Request(
            f"http://{self.ip}:{self.ports.http}/api/{command}", data=json.dumps(arguments).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"ejabberd {command} failed ({exc.code}): {exc.read().decode(errors='replace')}") \
                from None

    def register(self, user: str, password: str) -> None:
        """Create `user`@host, or reset its password if it already exists."""
        try:
            self.api("register", user=user, host=self.host, password=password)
        except RuntimeError as exc:
            if "already registered" not in str(exc):
                raise
            self.api("change_password", user=user, host=self.host, newpass=password)

    # ---- logs -----------------------------------------------------------

    def wait_component(self, domain: str, timeout: float = 30, *, since: int | None = None) -> bool:
        """Wait until an external component has authenticated for `domain` (per the log)."""
        return self.wait_for_log(f"external component handshake authentication for {domain}", timeout,
                                 since=since)
