"""``switchboard rooms``: the room operations from the command line, against the database of
a running component (the archive is shared; the CLI never connects to the XMPP server)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from component.cli import EXIT_CONFIG, build_parser, execute
from component.cli_kit import Progress
from component.config import ConfigError
from component.ids import new_id
from plugins.admin.cli import purge
from plugins.mam.hooks import ArchiveRecord

from .. import harness
from .rooms_setup import BOBS, DOMAIN, LOBBY, plugins, start

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def write_config(prosody, tmp_path) -> Path:
    path = tmp_path / "cli.toml"
    path.write_text(harness.make_config_text(prosody.ports.component, {DOMAIN: plugins()}, tmp_path / "state",
                                             harness.database_url(tmp_path)))
    path.chmod(0o600)
    return path


async def cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    """The real command line, in its own process. Awaited in a thread: the component of the test runs
    on this loop, and a write transaction of its caught mid-way by a blocked loop would hold SQLite's
    lock until the command gave up ("database is locked")."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "component.cli", *args, "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "error"})


async def inproc(config: Path, *args: str) -> subprocess.CompletedProcess:
    """The same command parsed and run in this process (fast; for the many small cases)."""
    parsed = build_parser().parse_args([*args, "--config", str(config)])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = await execute(parsed, out, err)
        except ConfigError as error:
            code, _ = EXIT_CONFIG, err.write(str(error))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


async def test_list_info_and_export(component, prosody, tmp_path):
    await start(component, prosody)
    config = write_config(prosody, tmp_path)

    listed = await cli(config, "rooms", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ROOM", "NAME", "OCCUPANTS", "PERSISTENT", "PUBLIC", "ARCHIVING", "ARCHIVE"]
    assert any(line.startswith(LOBBY) and line.split()[-1] == "5" for line in lines), listed.stdout + listed.stderr
    listed = await inproc(config, "rooms", "list", "--json")
    assert {r["room"]: r["archive"] for r in json.loads(listed.stdout)} == {LOBBY: 5, BOBS: 1}

    info = await inproc(config, "rooms", "info", "lobby", "--json")
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["room"] == LOBBY and data["messages"]["total"] == 5 and data["config"]["persistentroom"] is True
    assert not any("password" in key for key in data["config"])

    out = tmp_path / "lobby.json"
    exported = await cli(config, "rooms", "export", LOBBY, "--format", "json", "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "100% 5/5" in exported.stderr and f"exported 5 message(s) of {LOBBY}" in exported.stderr
    messages = json.loads(out.read_text())["messages"]
    assert [m["body"] for m in messages] == ["alice 0", "alice 1", "alice 2", "bob 0", "bob 1"]
    assert not (tmp_path / "lobby.json.part").exists()

    exported = await inproc(config, "rooms", "export", "bobs", "--quiet")
    assert exported.returncode == 0 and exported.stderr == ""
    document = ET.fromstring(exported.stdout)
    bodies = [m.findtext("{jabber:client}body")
              for m in document.iter("{jabber:client}message")]
    assert bodies == ["bob alone"]


async def test_purge_needs_confirmation_and_refuses_bad_requests(component, prosody, tmp_path):
    app = await start(component, prosody)
    archive = app.services[DOMAIN].hooks.service("archive")
    config = write_config(prosody, tmp_path)

    refused = await cli(config, "rooms", "purge", "lobby", "--author", "bob@localhost")
    assert refused.returncode == 1 and "add --yes" in refused.stderr and "2 message(s)" in refused.stderr
    assert await archive.count(LOBBY) == 5

    done = await cli(config, "rooms", "purge", "lobby", "--author", "bob@localhost", "--yes")
    assert done.returncode == 0, done.stderr
    assert "deleted 2 message(s)" in done.stdout and "purging lobby@rooms.localhost" in done.stderr
    assert await archive.count(LOBBY) == 3

    for args, message in ((("rooms", "purge", "nowhere", "--all", "--yes"), "no room nowhere@rooms.localhost"),
                          (("rooms", "purge", "lobby", "--yes"), "say what to delete"),
                          (("rooms", "purge", "lobby", "--all", "--before", "2020-01-01", "--yes"),
                           "cannot be combined"),
                          (("rooms", "purge", "lobby", "--before", "soon", "--yes"), "--before: not a date"),
                          (("rooms", "list", "--service", "extra.localhost"), "no service extra.localhost"),
                          (("rooms", "list", "--as", "not a jid@@"), "--as: not a JID")):
        result = await inproc(config, *args)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    assert await archive.count(LOBBY) == 3

    done = await inproc(config, "rooms", "purge", "lobby", "--all", "--yes", "--quiet")
    assert done.returncode == 0 and "deleted 3" in done.stdout and done.stderr == ""
    assert await archive.count(LOBBY) == 0 and await archive.count(BOBS) == 1

    # A room that is gone but left its archive: exported and purged, not described.
    gone = f"gone@{DOMAIN}"
    await archive.store_many([ArchiveRecord(archive=gone, stanza_id=new_id(), timestamp=time.time(),
                                            stanza=f"<message xmlns='jabber:client' type='groupchat' "
                                                   f"from='{gone}/x'><body>left {i}</body></message>",
                                            with_jid=f"{gone}/x") for i in range(3)])
    exported = await inproc(config, "rooms", "export", "gone", "--format", "json", "--quiet")
    assert [m["body"] for m in json.loads(exported.stdout)["messages"]] == ["left 0", "left 1", "left 2"]
    assert (await inproc(config, "rooms", "info", "gone")).returncode == 1
    assert (await inproc(config, "rooms", "purge", "gone", "--all", "--yes", "-q")).returncode == 0
    assert await archive.count(gone) == 0

    bad = tmp_path / "bad.toml"
    bad.write_text("admins = 3\n")
    result = await cli(bad, "rooms", "list")
    assert result.returncode == 2 and "admins" in result.stderr


async def test_rights_follow_the_acting_account(component, prosody, tmp_path):
    """``--as``: the room owner's rights, as the ad-hoc room commands apply them."""
    app = await start(component, prosody)
    archive = app.services[DOMAIN].hooks.service("archive")
    config = write_config(prosody, tmp_path)

    listed = await inproc(config, "rooms", "list", "--json", "--as", "bob@localhost")
    assert [r["room"] for r in json.loads(listed.stdout)] == [BOBS]
    listed = await inproc(config, "rooms", "list", "--json", "--as", "carol@localhost")
    assert json.loads(listed.stdout) == []

    for args in (("rooms", "purge", "lobby", "--all", "--yes"), ("rooms", "export", "lobby"),
                 ("rooms", "info", "lobby")):
        refused = await inproc(config, *args, "--as", "bob@localhost")
        assert refused.returncode == 1 and "bob@localhost may not administer " + LOBBY in refused.stderr, refused
    assert await archive.count(LOBBY) == 5

    done = await inproc(config, "rooms", "purge", "bobs", "--all", "--yes", "-q", "--as", "bob@localhost")
    assert done.returncode == 0 and "deleted 1" in done.stdout
    # An admin by the configuration is an admin here too.
    listed = await inproc(config, "rooms", "list", "--json", "--as", f"admin@{harness.HOST}")
    assert {r["room"] for r in json.loads(listed.stdout)} == {LOBBY, BOBS}


async def test_purge_in_slices_reports_progress_and_keeps_the_boundary(component, prosody):
    app = await component({DOMAIN: plugins()})
    archive = app.services[DOMAIN].hooks.service("archive")
    room = f"history@{DOMAIN}"
    now = time.time()
    records = []
    for day in range(100):  # one message a day for 100 days, oldest first
        stamp = now - (100 - day) * 86400
        records.append(ArchiveRecord(archive=room, stanza_id=new_id(stamp), timestamp=stamp,
                                     stanza=f"<message xmlns='jabber:client' type='groupchat' from='{room}/n'>"
                                            f"<body>day {day}</body></message>",
                                     author="alice@localhost" if day % 2 else "bob@localhost",
                                     with_jid=f"{room}/n"))
    await archive.store_many(records)
    assert await archive.count(room) == 100
    stream = io.StringIO()
    progress = Progress("purging", 60, stream=stream)
    seen = []
    progress.update = lambda done: seen.append(done)  # every step, not throttled
    cut = now - 40 * 86400 - 1  # the 60 messages older than 40 days
    removed = await purge(archive, room, before=cut, author=None, progress=progress)
    assert removed == 60 and await archive.count(room) == 40
    assert seen == sorted(seen) and seen[-1] == 60 and len(seen) == 20
    removed = await purge(archive, room, before=None, author="alice@localhost")
    assert removed == 20 and await archive.count(room) == 20
    progress = Progress("x", 3, stream=stream)
    progress.update(3)
    progress.finish()
    assert "100% 3/3" in stream.getvalue() and stream.getvalue().endswith("\n")
