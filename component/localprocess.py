"""What the throw-away servers of `make run`, the tests and the benchmarks share.

A server (Prosody, ejabberd) runs as a foreground child in a process group of its own, writes a log
file and a console file in its state folder, and is stopped, killed or waited on through its log.
Standard library only, synchronous, like its users.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
import weakref
from pathlib import Path
from typing import IO, Callable

__all__ = ["free_port", "free_ports", "accepts", "answers_c2s", "reap", "tail", "ServerProcess", "PortTaken"]


def _ephemeral_floor() -> int:
    """The lowest port the kernel gives outgoing connections (Linux: ip_local_port_range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


#: Its own generator, from the system: the global one can be seeded (property tests do, for
#: reproducible examples), and two test workers drawing alike would start two servers on one port.
_PORTS = random.SystemRandom()


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports on 127.0.0.1, free a moment ago, every socket held until all are chosen.

    Chosen below the kernel's ephemeral range: a port from that range (what binding port 0 gives)
    can be taken as the local port of any outgoing connection between choosing it and the server
    binding it, and then the server fails to start (seen: ejabberd's eaddrinuse in a loaded run).
    """
    floor = _ephemeral_floor()
    low = max(1024, floor - 12000)
    chosen: list[int] = []
    socks = []
    try:
        while len(chosen) < count:
            port = _PORTS.randrange(low, floor)
            if port in chosen:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
            chosen.append(port)
        return chosen
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (see ``free_ports``)."""
    return free_ports(1)[0]


def accepts(port: int, ip: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def answers_c2s(port: int, host: str = "127.0.0.1") -> bool:
    # No "to": the server answers with a stream header and an
    # improper-addressing error, which is all this needs.
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(
                b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
            )
            return b"<stream:stream" in s.recv(4096)
    except OSError:
        return False


def reap(proc: subprocess.Popen[bytes]) -> None:
    # Last resort at garbage collection / interpreter exit: never leave a
    # server running behind a crashed test session.
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            # Logs are small in tests; reading the last 64 kB is plenty.
            f.seek(max(0, size - 65536))
            data = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


class PortTaken(RuntimeError):
    """A server could not listen on one of its ports: another program took it after it was drawn."""


class ServerProcess:
    """Stop, kill, restart and log reading of a server child; subclasses start it.

    A subclass sets ``log_path`` and ``console_path``, and its ``start()`` sets ``_proc``,
    ``_console``, ``_finalizer`` (``weakref.finalize(self, reap, proc)``) and ``_log_start``.
    """

    #: Seconds ``stop()`` waits after SIGTERM before SIGKILL.
    STOP_TIMEOUT = 10.0

    log_path: Path
    console_path: Path

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._console: IO[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._log_start = 0  # log offset where the current run begins

    #: Its ports were drawn here and nobody was told them yet (before its first start): a port
    #: another program took meanwhile may be drawn again.
    _may_redraw = False

    def start(self) -> None:
        raise NotImplementedError

    def _start_drawing_again(self, start: Callable[[], None], draw: Callable[[], None], attempts: int = 3) -> None:
        """``start()``; when a port it drew was taken (``PortTaken``) before it bound it, and it may
        choose its ports again, ``draw()`` new ones and start once more.

        A port is free when drawn, but every other server started meanwhile on this machine draws from
        the same range."""
        may_draw, self._may_redraw = self._may_redraw, False
        for attempt in range(attempts):
            try:
                start()
                return
            except PortTaken as taken:
                if not may_draw or attempt == attempts - 1:
                    raise RuntimeError(str(taken)) from None
                draw()

    def stop(self, timeout: float | None = None) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                proc.wait(self.STOP_TIMEOUT if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                proc.wait()
        self._cleanup()

    def restart(self) -> None:
        # Same object, so the same ports, config and data folder.
        self.stop()
        self.start()

    def kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._signal(signal.SIGKILL)
            proc.wait()
        self._cleanup()

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_running() else None

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- logs -----------------------------------------------------------

    def log_position(self) -> int:
        """Current end of the log, to pass as `since` to wait_for_log."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def wait_for_log(self, needle: str, timeout: float = 10, *, since: int | None = None) -> bool:
        """Wait until `needle` appears in the log after `since` (default: this run's start)."""
        start = self._log_start if since is None else since
        deadline = time.monotonic() + timeout
        while needle not in self._log_since(start):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    # ---- internals ------------------------------------------------------

    def _signal(self, sig: int) -> None:
        assert self._proc is not None
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass

    def _cleanup(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._console is not None:
            self._console.close()
            self._console = None
        self._proc = None

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def _diagnostics(self, console_start: int) -> str:
        parts = [f"--- {self.log_path} (tail) ---", self.log_tail()]
        try:
            with open(self.console_path, "rb") as f:
                f.seek(console_start)
                console = f.read().decode("utf-8", "replace").strip()
        except FileNotFoundError:
            console = ""
        if console:
            parts += [f"--- {self.console_path} ---", console[-4000:]]
        return "\n".join(parts)
