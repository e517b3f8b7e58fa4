"""Logs: the JSON format, the domain and stanza id on every line of a request, and nothing secret or
personal at info, also under hostile load."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from slixmpp import Message

from component import logs
from component.app import App
from component.config import parse

from . import harness
from .test_fuzz import ROOMS, SUPPORT, fuzz_setup, stanzas  # noqa: F401 - the fixture is shared

MARKER = "a very private sentence 8812"


@contextlib.contextmanager
def logging_to(path: Path, level: str = "info", fmt: str = "json") -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level,
             {name: logging.getLogger(name).level for name in ("slixmpp", "sqlalchemy", "aiosqlite", "asyncio")})
    logs.setup(level, fmt, str(path))
    try:
        yield
    finally:
        for handler in list(root.handlers):
            handler.close()
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, lvl in saved[2].items():
            logging.getLogger(name).setLevel(lvl)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_json_format_one_object_per_line(tmp_path):
    out = tmp_path / "log.json"
    log = logging.getLogger("switchboard.test")
    with logging_to(out):
        log.info("two\nlines", extra={"domain": "rooms.localhost", "count": 3, "jid": "alice@localhost/phone"})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
        log.debug("not at info")
    first, second = lines(out)
    assert set(first) == {"ts", "level", "logger", "msg", "domain", "count", "jid"}
    assert first["msg"] == "two\nlines" and first["level"] == "info" and first["logger"] == "switchboard.test"
    assert first["count"] == "3" and isinstance(first["ts"], float)
    # A person's address is a pseudonym at info: stable, and not the address.
    assert first["jid"].startswith("~") and "alice" not in first["jid"]
    assert second["level"] == "error" and "ValueError: boom" in second["exc"]


def test_debug_keeps_addresses_and_text_format_stays_one_line(tmp_path):
    out = tmp_path / "log.txt"
    log = logging.getLogger("switchboard.test")
    with logging_to(out, "debug", "text"):
        def request() -> None:
            logs.begin_request("rooms.localhost", "evil\nid\u202e" + "x" * 100)
            log.debug("seen", extra={"jid": "alice@localhost"})

        contextvars.copy_context().run(request)  # the request's context ends with it
    text = out.read_text(encoding="utf-8")
    assert text.count("\n") == 1 and "jid=alice@localhost" in text
    assert "stanza=evil?id?" in text and "x" * 56 in text and "x" * 57 not in text


async def test_every_line_of_a_request_names_the_domain_and_the_stanza(tmp_path):
    text = harness.make_config_text(1, {"test.localhost": {"echo": {}}}, tmp_path / "state",
                                    harness.database_url(tmp_path))
    app = App(parse(text, str(tmp_path / "s.toml"), tmp_path))
    await app.start(connect=False)
    service = app.services["test.localhost"]
    plugin_log = logging.getLogger("switchboard.plugins.probe")

    async def handler(stanza):  # type: ignore[no-untyped-def]
        plugin_log.info("handling")
        await asyncio.sleep(0)
        asyncio.get_running_loop().call_soon(lambda: None)
        plugin_log.warning("still handling", extra={"from": str(stanza["from"])})
        return True

    service.on_message(handler, priority=100)
    out = tmp_path / "log.json"
    try:
        with logging_to(out):
            msg = Message()
            msg["from"], msg["to"], msg["id"], msg["type"] = "bob@localhost/x", "echo@test.localhost", "m-1", "chat"
            await asyncio.ensure_future(service._dispatch(msg, "message"))  # its own task, as when served
            plugin_log.info("outside any request")
    finally:
        await app.stop()
    handling, still, outside = [line for line in lines(out) if line["logger"] == "switchboard.plugins.probe"]
    for line in (handling, still):
        assert line["domain"] == "test.localhost" and line["stanza"] == "m-1", line
    assert still["from"].startswith("~")
    assert "domain" not in outside and "stanza" not in outside


@pytest.mark.integration
@pytest.mark.timeout(300)
async def test_nothing_secret_or_personal_at_info_under_hostile_load(fuzz_setup, prosody, tmp_path):
    app, eve, inbox = fuzz_setup
    out = tmp_path / "fuzz-log.json"

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(stanzas())
    def run(case: tuple[str, str, str]) -> None:
        _kind, _sid, xml = case
        asyncio.run_coroutine_threadsafe(send(xml), loop).result(timeout=30)

    async def send(xml: str) -> None:
        eve.send_raw(xml)
        await asyncio.sleep(0.01)

    loop = asyncio.get_running_loop()
    with logging_to(out):
        # What a person says, a room password, a support conversation: none of it may show.
        eve.send_message(mto=f"room@{ROOMS}", mbody=MARKER, mtype="groupchat")
        await inbox.next(lambda s: s.name == "message" and s["body"] == MARKER)
        eve.send_message(mto=f"help@{SUPPORT}", mbody=MARKER + " support", mtype="chat")
        await asyncio.to_thread(run)
        await eve.plugin["xep_0199"].ping(jid=ROOMS, timeout=10)
        for service in app.services.values():
            await service.idle()
    text = out.read_text(encoding="utf-8")
    records = lines(out)  # every line is one JSON object
    assert records, "the hostile load logged nothing at info"
    forbidden = [MARKER, "eve@localhost", f"eve@{harness.HOST}", harness.password("eve"),
                 *(harness.secret(domain) for domain in harness.DOMAINS)]
    leaked = [word for word in forbidden if word in text]
    assert not leaked, leaked
    for record in records:
        assert record["level"] in ("info", "warning", "error"), record
        if "stanza" in record:
            assert record.get("domain") in (ROOMS, SUPPORT), record
    assert any(record.get("stanza", "").startswith("fz") for record in records), \
        "no line of a fuzzed request carried its stanza id"
