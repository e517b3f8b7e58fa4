"""What a benchmark runs against: one real Prosody and the component as a separate process.

Prosody serves both sides of every comparison: its own MUC (``mod_muc`` +
``mod_muc_mam`` on SQL storage) at ``conference.localhost`` and, through
XEP-0114, our rooms domain. The component runs as ``switchboard run`` in its
own process so that its CPU time can be read from /proc and it never shares an
event loop with the load generator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from component.localserver import LocalProsody

HOST = "localhost"
ROOMS = f"rooms.{HOST}"
SUPPORT = f"support.{HOST}"
NATIVE = f"conference.{HOST}"
GUEST = f"guest.{HOST}"  #: website visitors (anonymous) who may write to the support desk
SECRETS = {ROOMS: "bench-rooms-secret", SUPPORT: "bench-support-secret"}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def component_config(port: int, services: dict[str, dict[str, dict]], state_dir: Path, db_url: str,
                     admins: tuple[str, ...] = (f"admin@{HOST}",), log_level: str = "warning",
                     status_listen: str = "") -> str:
    lines = [f"state_dir = {_toml(str(state_dir))}", f"admins = {_toml(list(admins))}",
             "[server]", 'host = "127.0.0.1"', f"port = {port}",
             "[database]", f"url = {_toml(db_url)}",
             "[logging]", f"level = {_toml(log_level)}"]
    status_listen = status_listen or os.environ.get("BENCH_STATUS_LISTEN", "")
    if status_listen:
        # Scrape /metrics while a benchmark runs (the listener costs nothing unless scraped).
        lines += ["[status]", f"listen = {_toml(status_listen)}"]
    for domain, plugins in services.items():
        lines += ["[[services]]", f"domain = {_toml(domain)}", f"secret = {_toml(SECRETS[domain])}"]
        if _has_limits():
            # Prosody's own MUC has no per-sender rate limit: neither may the side it is compared with.
            lines += ["[services.limits]", "message_rate = 0"]
        for name, options in plugins.items():
            lines.append(f"[services.plugins.{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def _has_limits() -> bool:
    from dataclasses import fields

    from component.config import ServiceConfig

    return any(f.name == "limits" for f in fields(ServiceConfig))


class ComponentExited(RuntimeError):
    pass


class ComponentProcess:
    """``switchboard run`` in its own process (optionally under a profiler)."""

    def __init__(self, stack: "Stack", services: dict[str, dict[str, dict]], db_url: str, name: str,
                 status_listen: str = "") -> None:
        self.stack = stack
        self.status_listen = status_listen
        self.services = services
        self.db_url = db_url
        self.dir = stack.state / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "switchboard.toml"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60, profile_to: Path | None = None) -> None:
        # Right after a stop Prosody may still hold the previous stream for a moment and refuse
        # the new one (stream error "conflict", the process exits with 1): try again then.
        for attempt in range(8):
            try:
                return self._start(timeout, profile_to)
            except ComponentExited:
                if attempt == 7:
                    raise
                time.sleep(1.0)

    def _start(self, timeout: float, profile_to: Path | None) -> None:
        text = component_config(self.stack.prosody.ports.component, self.services, self.dir / "state",
                                self.db_url, log_level=os.environ.get("BENCH_COMPONENT_LOG_LEVEL", "warning"),
                                status_listen=self.status_listen)
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        command = [sys.executable]
        if profile_to is not None:
            command += ["-m", "cProfile", "-o", str(profile_to)]
        command += ["-m", "component.cli", "run", "--config", str(self.config_path)]
        since = self.stack.prosody.log_position()
        log = open(self.dir / "component.log", "ab")
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=str(self.stack.root), start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        wanted = len(self.services)
        while True:
            text = self.stack.prosody._log_since(since)
            if text.count("External component successfully authenticated") >= wanted:
                return
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise ComponentExited(f"the component exited with {code}; see {self.dir}/component.log")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the component did not connect within {timeout} s; see {self.dir}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 20) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Stack:
    """Prosody (native MUC on SQL) plus component processes, all state under `state`."""

    def __init__(self, state: Path) -> None:
        self.root = Path(__file__).resolve().parent.parent
        self.state = Path(state).resolve()
        self.state.mkdir(parents=True, exist_ok=True)
        self.prosody = LocalProsody(self.state / "prosody", host=HOST, components=dict(SECRETS),
                                    admins=[f"admin@{HOST}"], native_muc=True, native_storage="sql",
                                    allow_registration=True, guest_host=GUEST, guest_allowed=[SUPPORT])
        self.components: list[ComponentProcess] = []

    @property
    def c2s(self) -> int:
        return self.prosody.ports.c2s

    @property
    def prosody_pid(self) -> int:
        pid = self.prosody.pid
        assert pid is not None, "prosody is not running"
        return pid

    def start(self) -> None:
        self.prosody.start()

    def component(self, services: dict[str, dict[str, dict]], db_url: str | None = None,
                  name: str = "component", status_listen: str = "") -> ComponentProcess:
        url = db_url or f"sqlite+aiosqlite:///{self.state / name / 'switchboard.db'}"
        proc = ComponentProcess(self, services, url, name, status_listen)
        self.components.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.components):
            proc.stop()
        self.prosody.stop()
