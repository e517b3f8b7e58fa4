"""systemd integration: readiness and watchdog notifications to a fake NOTIFY_SOCKET, and the unit files."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from component import systemd
from component.app import App
from component.config import parse

from . import harness

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "contrib" / "systemd"
DOMAIN = "extra.localhost"


@pytest.fixture
def notify_socket(monkeypatch):
    """A datagram socket standing in for systemd's (abstract namespace: no path length limit)."""
    name = f"@switchboard-test-{secrets.token_hex(6)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:])
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    yield sock
    sock.close()


async def next_message(sock: socket.socket, timeout: float = 20) -> str:
    loop = asyncio.get_running_loop()
    return (await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)).decode()


async def test_ready_status_watchdog_and_stopping(prosody, tmp_path, notify_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "300000")  # a pet every 0.15 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    text = harness.make_config_text(prosody.ports.component, {DOMAIN: {"echo": {}}}, tmp_path / "state",
                                    harness.database_url(tmp_path))
    app = App(parse(text, str(tmp_path / "s.toml"), tmp_path))
    running = asyncio.ensure_future(app.run())
    try:
        seen: list[str] = []
        while not any("READY=1" in m for m in seen):
            seen.append(await next_message(notify_socket))
        ready = next(m for m in seen if "READY=1" in m)
        assert ready.splitlines() == ["READY=1", "STATUS=connected 1/1"]
        assert app.services[DOMAIN].connected.is_set()  # not before the stream is authenticated
        pets = 0
        while pets < 3:
            pets += (await next_message(notify_socket)) == "WATCHDOG=1"
    finally:
        app.request_stop()
        assert await asyncio.wait_for(running, 20) == 0
    rest = []
    while True:
        try:
            rest.append(notify_socket.recv(4096).decode())
        except BlockingIOError:
            break
    assert "STOPPING=1\nSTATUS=stopping" in rest


def test_no_socket_no_watchdog(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "@switchboard-nobody-listens")
    assert systemd.notify("READY=1") is False  # refused, logged, never raised
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert systemd.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_interval() == 1.0
    monkeypatch.setenv("WATCHDOG_USEC", "0")
    assert systemd.watchdog_interval() is None


UNIT_FILES = ("switchboard.service", "switchboard@.service")


@pytest.mark.parametrize("name", UNIT_FILES)
def test_units_are_hardened(name):
    text = (UNITS / name).read_text(encoding="utf-8")
    for line in ("Type=notify", "NotifyAccess=main", "DynamicUser=yes", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "StateDirectory=", "WatchdogSec=", "Restart=on-failure",
                 "ProtectHome=yes", "PrivateTmp=yes", "LoadCredential="):
        assert line in text, line


def test_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # verify checks that ExecStart's program exists: give it one at the unit's path.
    units = tmp_path / "units"
    units.mkdir()
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name in UNIT_FILES:
        text = (UNITS / name).read_text(encoding="utf-8")
        (units / name).write_text(text.replace("/usr/local/bin/switchboard", str(fake_bin / "switchboard")),
                                  encoding="utf-8")
    (fake_bin / "switchboard").write_text("#!/bin/sh\n")
    (fake_bin / "switchboard").chmod(0o755)
    instance = units / "switchboard@rooms.service"
    instance.symlink_to(units / "switchboard@.service")
    result = subprocess.run([analyze, "verify", str(units / "switchboard.service"), str(instance)],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    # Outside a booted systemd, verify may still complain about the host (no D-Bus, missing
    # prosody.service); only lines about our files count.
    ours = [line for line in (result.stdout + result.stderr).splitlines()
            if "switchboard" in line and "prosody.service" not in line]
    assert not ours, "\n".join(ours)
