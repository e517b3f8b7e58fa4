"""The status listener: /health follows Prosody going away and coming back; /metrics moves under traffic."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from component.app import App
from component.config import ConfigError, parse
from component.localserver import LocalProsody
from component.status import DB_TIMEOUT
from plugins.support import hooks as support_hooks

from . import harness

ROOMS = "rooms.localhost"
SUPPORT = "support.localhost"
ROOM = f"status@{ROOMS}"


async def get(port: int, path: str, accept: str = "", method: str = "GET") -> tuple[int, str, str]:
    """(status, content type, body) of one request to the listener."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    headers = f"Accept: {accept}\r\n" if accept else ""
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    lines = head.split("\r\n")
    ctype = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("content-type")), "")
    return int(lines[0].split()[1]), ctype, body


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, missing: float | None = None, **labels: str) -> float:
    """The sum of a metric's samples matching ``labels`` (``missing`` when there is none)."""
    found = [v for (n, ls), v in samples(text).items() if n == name and labels.items() <= dict(ls).items()]
    if not found and missing is not None:
        return missing
    assert found, f"no sample {name} {labels}"
    return sum(found)


def config_text(port: int, tmp_path: Path, services: dict, listen: str = "127.0.0.1:0") -> str:
    text = harness.make_config_text(port, services, tmp_path / "state", harness.database_url(tmp_path))
    return text + f"[status]\nlisten = {harness.toml_value(listen)}\n"


async def poll(check, timeout: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.mark.integration
async def test_health_follows_prosody_and_metrics_move_under_traffic(tmp_path):
    server = LocalProsody(tmp_path / "prosody", components={ROOMS: harness.secret(ROOMS)})
    await asyncio.to_thread(server.start)
    app = None
    try:
        await asyncio.to_thread(server.register, "alice", harness.password("alice"))
        services = {ROOMS: {"muc": {"lock_new_rooms": False}, "mam": {}}}
        app = App(parse(config_text(server.ports.component, tmp_path, services), str(tmp_path / "s.toml"),
                        tmp_path))
        await app.start()
        await app.wait_connected(20)
        port = app.status.port

        async def healthy():  # type: ignore[no-untyped-def]
            return (await get(port, "/health"))[0] == 200

        # The streams are up; the database's first answer may take a moment on a loaded machine.
        await poll(healthy, what="/health to turn 200")
        assert await get(port, "/health") == (200, "text/plain; charset=utf-8", "ok\n")
        code, ctype, body = await get(port, "/health", accept="application/json")
        assert code == 200 and ctype == "application/json" and json.loads(body) == {"healthy": True, "problems": []}
        code, ctype, before = await get(port, "/metrics")
        assert code == 200 and ctype.startswith("text/plain; version=")
        assert value(before, "switchboard_stream_connected", domain=ROOMS) == 1
        assert value(before, "switchboard_muc_rooms", domain=ROOMS) == 0

        async with harness.slix_client(server.ports.c2s, "alice", plugins=("xep_0045",)) as alice:
            inbox = harness.Inbox(alice)
            await alice.plugin["xep_0045"].join_muc_wait(ROOM, "alice", maxstanzas=0, timeout=10)
            for i in range(5):
                alice.send_message(mto=ROOM, mbody=f"hello {i}", mtype="groupchat")
                await inbox.next(lambda m, i=i: m["type"] == "groupchat" and m["body"] == f"hello {i}")
            _, _, during = await get(port, "/metrics")
            assert value(during, "switchboard_muc_rooms", domain=ROOMS) == 1
            assert value(during, "switchboard_muc_occupants", domain=ROOMS) == 1
        after = during
        grew = lambda name, **labels: value(after, name, **labels) - value(before, name, 0, **labels)  # noqa: E731
        assert grew("switchboard_stanzas_total", domain=ROOMS, direction="in", kind="message") == 5
        assert grew("switchboard_stanzas_total", domain=ROOMS, direction="out", kind="message") >= 5
        assert grew("switchboard_stanzas_total", domain=ROOMS, direction="in", kind="presence") >= 1
        assert value(after, "switchboard_archive_writes_total", domain=ROOMS) >= 5
        assert value(after, "switchboard_archive_batch_size_count", domain=ROOMS) >= 1
        assert value(after, "switchboard_hook_seconds_count", event="message") >= 5
        assert value(after, "switchboard_db_seconds_count") >= 1
        gc.collect()  # a full collection is timed
        _, _, collected = await get(port, "/metrics")
        assert value(collected, "switchboard_gc_pause_seconds_count", generation="2") >= 1
        assert value(after, "switchboard_archive_commit_seconds_count", domain=ROOMS) >= 1
        assert not [k for k in samples(after) if k[0] == "switchboard_handler_errors_total"]
        # Labels stay bounded: no JID of a person or a room anywhere.
        assert "alice" not in after and ROOM not in after

        await asyncio.to_thread(server.stop)

        async def unhealthy():  # type: ignore[no-untyped-def]
            code, _, body = await get(port, "/health")
            return (code, body) if code == 503 else None

        code, body = await poll(unhealthy, what="/health to turn 503")
        assert body == f"{ROOMS}: stream not connected\n"
        _, _, down = await get(port, "/metrics")
        assert value(down, "switchboard_stream_connected", domain=ROOMS) == 0

        await asyncio.to_thread(server.start)
        await poll(healthy, what="/health to turn 200 again")
        _, _, back = await get(port, "/metrics")
        assert value(back, "switchboard_stream_reconnects_total", domain=ROOMS) == 1
        assert value(back, "switchboard_event_loop_lag_seconds_count") >= 1
    finally:
        if app is not None:
            await app.stop()
        await asyncio.to_thread(server.stop)


async def test_listener_refuses_what_it_does_not_serve_and_reports_the_database(tmp_path):
    services = {ROOMS: {"muc": {}}}
    # Not connected at all: the listener still answers, /health names every reason.
    app = App(parse(config_text(1, tmp_path, services), str(tmp_path / "s.toml"), tmp_path))
    await app.start(connect=False)
    from component.status import StatusServer

    status = StatusServer(app, "127.0.0.1:0")
    await status.start()
    try:
        assert (await get(status.port, "/nothing"))[0] == 404
        assert (await get(status.port, "/metrics", method="POST"))[0] == 405
        reader, writer = await asyncio.open_connection("127.0.0.1", status.port)
        writer.write(b"garbage\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 400 ")
        writer.close()
        code, _, body = await get(status.port, "/health", accept="application/json")
        assert code == 503 and json.loads(body)["problems"] == [f"{ROOMS}: stream not connected"]
        if harness.POSTGRES is None:
            # Another process holds the database exclusively: /health says it does not answer, and
            # turns healthy (but for the stream) once the lock is gone.
            await app.db.engine.dispose()  # the pool's connections would keep the lock from being taken
            locker = sqlite3.connect(app.db.url.database, isolation_level=None)
            locker.execute("PRAGMA locking_mode=EXCLUSIVE")
            locker.execute("BEGIN EXCLUSIVE")
            try:
                code, _, body = await get(status.port, "/health", accept="application/json")
            finally:
                locker.execute("ROLLBACK")
                locker.close()
            problems = json.loads(body)["problems"]
            assert code == 503 and problems[1:] == [f"database: no answer within {DB_TIMEOUT:g} s"], problems

            async def database_back():  # type: ignore[no-untyped-def]
                return json.loads((await get(status.port, "/health", accept="application/json"))[2])[
                    "problems"] == [f"{ROOMS}: stream not connected"]

            await poll(database_back, what="the database to answer again")
    finally:
        await status.stop()
        await app.stop()


async def test_listen_address_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="status.listen"):
        parse(config_text(1, tmp_path, {ROOMS: {"muc": {}}}, listen="localhost"), "s.toml", tmp_path)
    # An address already taken: a configuration error naming it, before any stream connects.
    taken = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    app = App(parse(config_text(1, tmp_path, {ROOMS: {"muc": {}}}, listen=f"127.0.0.1:{port}"), "s.toml",
                    tmp_path))
    try:
        with pytest.raises(ConfigError, match=f"status.listen: cannot listen on 127.0.0.1:{port}"):
            await app.start()
        assert not app.services[ROOMS].connected.is_set()
    finally:
        await app.stop()
        taken.close()
        await taken.wait_closed()


async def test_support_figures_by_queue_and_offer_answers(tmp_path):
    services = {SUPPORT: {"mam": {}, "support": {"queues": [{"name": "help"}, {"name": "sales"}]},
                          "support_reports": {}, "support_bot": {}}}
    app = App(parse(config_text(1, tmp_path, services), str(tmp_path / "s.toml"), tmp_path))
    await app.start(connect=False)
    try:
        hooks = app.services[SUPPORT].hooks
        text = app.metrics.render().decode()
        for queue in ("help", "sales"):
            for state in ("queued", "offered", "active"):
                assert value(text, "switchboard_support_tickets", domain=SUPPORT, queue=queue, state=state) == 0
            assert value(text, "switchboard_support_agents_available", queue=queue) == 0
        event = support_hooks.TicketEvent
        await hooks.fire(support_hooks.TICKET_EVENT, event("t1", "help", "offered", 100.0))
        await hooks.fire(support_hooks.TICKET_EVENT, event("t1", "help", "accepted", 103.5, "agent@localhost"))
        await hooks.fire(support_hooks.TICKET_EVENT, event("t2", "help", "offered", 100.0))
        await hooks.fire(support_hooks.TICKET_EVENT, event("t2", "help", "offer_timeout", 130.0))
        from plugins.support_bot import hooks as bot_hooks

        await hooks.collect(bot_hooks.ANSWERED, bot_hooks.BotAnswered("t3", "help", "e1", 0.9, "kb"))
        await hooks.collect(bot_hooks.HANDOFF, bot_hooks.BotHandoff("t4", "help", "c@localhost", "asked", 1))
        text = app.metrics.render().decode()
        assert value(text, "switchboard_support_offer_answer_seconds_sum", outcome="accepted") == 3.5
        assert value(text, "switchboard_support_offer_answer_seconds_count", outcome="timeout") == 1
        assert value(text, "switchboard_support_ticket_events_total", queue="help", kind="offered") == 2
        assert value(text, "switchboard_support_bot_answers_total", queue="help", source="kb") == 1
        assert value(text, "switchboard_support_bot_handoffs_total", queue="help", reason="asked") == 1
        assert "c@localhost" not in text and "agent@localhost" not in text
    finally:
        await app.stop()


def test_dashboard_asks_only_for_metrics_we_export():
    root = Path(__file__).resolve().parent.parent
    dashboard = json.loads((root / "contrib" / "grafana" / "switchboard.json").read_text(encoding="utf-8"))
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"switchboard_(\w+?)(?:_bucket|_sum|_count|_total)?\{", target["expr"])}
    source = "\n".join(p.read_text(encoding="utf-8") for folder in ("component", "plugins")
                       for p in (root / folder).rglob("*.py"))
    missing = sorted(name for name in asked if f'"{name}"' not in source and f'"switchboard_" + "{name}"' not in source
                     and f'PREFIX + "{name}"' not in source)
    assert asked and not missing, missing
