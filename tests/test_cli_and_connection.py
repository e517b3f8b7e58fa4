"""The command line and the XEP-0114 connection: config errors, wrong secret, reconnects."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from component.localserver import LocalProsody

from . import harness

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "component.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_help_documents_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("run", "check-config", "dev"):
        assert command in result.stdout
    assert run_cli("run", "--help").stdout.count("--config") >= 1


def test_example_config_is_valid(monkeypatch):
    result = run_cli("check-config", "switchboard.example.toml",
                     env={"SWITCHBOARD_ROOMS_SECRET": "example-secret", "SWITCHBOARD_SUPPORT_SECRET": "s2"})
    assert result.returncode == 0, result.stderr
    assert "rooms.example.com" in result.stdout
    assert "example-secret" not in result.stdout + result.stderr


@pytest.mark.parametrize("body, key, message", [
    ('[[services]]\ndomain = "a.example"\nsecret = "s"\ncolour = "red"\n', "services[0].colour", "unknown key"),
    ('[server]\nport = "x"\n[[services]]\ndomain = "a.example"\nsecret = "s"\n', "server.port",
     "expected an integer"),
    ('[[services]]\ndomain = "a.example"\n', "services[0]", "exactly one of secret"),
    ('[[services]]\ndomain = "a.example"\nsecret_env = "SB_SURELY_UNSET"\n', "services[0].secret_env",
     "SB_SURELY_UNSET is empty or unset"),
    ('[[services]]\ndomain = "a.example"\nsecret = "s"\n[services.plugins.nonexistent]\n',
     "services[0].plugins.nonexistent", "no plugin named"),
    ('[[services]]\ndomain = "a.example"\nsecret = "s"\n[services.plugins.echo]\nprefix = 3\n',
     "services[0].plugins.echo.prefix", "expected a string"),
    ('admins = ["not a jid@@"]\n[[services]]\ndomain = "a.example"\nsecret = "s"\n', "admins[0]",
     "not a valid JID"),
    ("this is = = not toml", "", "not valid TOML"),
    ('state_dir = "x"\n', "services", "at least one"),
])
def test_bad_config_exits_2_naming_file_and_key(tmp_path, body, key, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    for args in (("check-config", str(path)), ("run", "--config", str(path))):
        result = run_cli(*args)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert str(path) in result.stderr
        assert key in result.stderr
        assert message in result.stderr


def test_missing_config_file_exits_2(tmp_path):
    result = run_cli("check-config", str(tmp_path / "absent.toml"))
    assert result.returncode == 2
    assert "absent.toml" in result.stderr and "cannot read" in result.stderr


@pytest.mark.integration
def test_wrong_secret_is_reported_and_exits_nonzero(prosody, tmp_path):
    text = harness.make_config_text(prosody.ports.component, {"extra.localhost": {"echo": {}}},
                                    tmp_path / "state", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
                                    secrets={"extra.localhost": "the-wrong-secret"})
    path = tmp_path / "wrong.toml"
    path.write_text(text)
    path.chmod(0o600)
    result = run_cli("run", "--config", str(path), "--log-level", "info", timeout=30)
    assert result.returncode == 1
    assert "refused the component secret for extra.localhost" in result.stderr
    assert "the-wrong-secret" not in result.stderr


@pytest.mark.integration
async def test_reconnects_after_server_restart(tmp_path):
    domain = "test.localhost"
    server = LocalProsody(tmp_path / "prosody", components={domain: harness.secret(domain)})
    server.start()
    try:
        server.register("alice", harness.password("alice"))
        app = await harness.start_app(server.ports.component, {domain: {"echo": {}}}, tmp_path)
        try:
            service = app.services[domain]
            await asyncio.to_thread(server.restart)
            await asyncio.wait_for(service.connected.wait(), 15)
            async with harness.slix_client(server.ports.c2s, "alice") as alice:
                assert await alice.plugin["xep_0199"].ping(jid=domain, timeout=10) >= 0
            # Down for a while: the component keeps retrying, then serves again.
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(1.5)
            assert not service.connected.is_set()
            await asyncio.to_thread(server.start)
            await asyncio.wait_for(service.connected.wait(), 15)
            async with harness.slix_client(server.ports.c2s, "alice") as alice:
                assert await alice.plugin["xep_0199"].ping(jid=domain, timeout=10) >= 0
        finally:
            await app.stop()
    finally:
        server.stop()


@pytest.mark.integration
async def test_default_log_level_shows_no_secret_and_no_body(prosody, tmp_path):
    domain = "extra.localhost"
    secret_file = tmp_path / "secret"
    secret_file.write_text(harness.secret(domain) + "\n")
    text = harness.make_config_text(prosody.ports.component, {domain: {"echo": {}}}, tmp_path / "state",
                                    harness.database_url(tmp_path))
    text = text.replace(f'secret = "{harness.secret(domain)}"', f'secret_file = "{secret_file}"')
    text = text.replace('level = "debug"', 'level = "info"')
    path = tmp_path / "switchboard.toml"
    path.write_text(text)
    path.chmod(0o644)  # world-readable but holds no secret itself: no warning expected
    log_start = prosody.log_position()  # only this run's authentication counts
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "component.cli", "run", "--config", str(path), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert await asyncio.to_thread(prosody.wait_component, domain, 30, since=log_start)
        async with harness.slix_client(prosody.ports.c2s, "alice") as alice:
            inbox = harness.Inbox(alice)
            reply = None
            for _attempt in range(3):
                # The server may log the handshake before it routes the domain to the new stream:
                # a message in between comes back as an error (or never), and is sent again.
                alice.send_message(mto=f"echo@{domain}", mbody="very private words 4711", mtype="chat")
                try:
                    reply = await inbox.next(lambda m: m["type"] in ("chat", "error"), timeout=8)
                except asyncio.TimeoutError:
                    continue
                if reply["type"] == "chat":
                    break
                await asyncio.sleep(0.5)
            assert reply is not None and reply["type"] == "chat", reply
            assert reply["body"] == "very private words 4711"
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "connected and authenticated" in log
    assert "very private words" not in log
    assert harness.secret(domain) not in log
    assert "readable by everyone" not in log


async def test_world_readable_config_with_secret_warns(tmp_path, caplog):
    from component.app import App
    from component.config import load

    path = tmp_path / "open.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n[[services]]\ndomain = "a.example"\nsecret = "s3cr3t"\n')
    for mode, warned in ((0o644, True), (0o640, False)):
        path.chmod(mode)
        caplog.clear()
        app = App(load(path))
        await app.start(connect=False)
        await app.stop()
        assert ("readable by everyone" in caplog.text) is warned
        assert "s3cr3t" not in caplog.text
