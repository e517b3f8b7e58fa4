"""Unit tests of the admin plugin's pure parts and of the command engine's helpers."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import pytest
from slixmpp.plugins.xep_0004.stanza import Form

from component.adhoc import RIGHTS, RightsQuery, Scope, _refilled, rights_scope
from component.config import ConfigError, parse
from component.hooks import HookBus
from plugins.admin import export
from plugins.admin.service import (RateMeter, format_time, human_bytes, human_duration, parse_time, plan_reload,
                                   read_config, set_log_level)
from plugins.echo.plugin import EchoOptions

BASE = """
admins = ["admin@example.com"]
[server]
port = 5347
[logging]
level = "info"
[[services]]
domain = "rooms.example.com"
secret = "s1"
name = "Rooms"
[services.plugins.echo]
prefix = "> "
"""


def config(text: str = BASE):
    return parse(text, "test.toml")


def running(prefix: str = "> ") -> dict:
    return {"rooms.example.com": {"echo": EchoOptions(prefix=prefix)}}


def options_of(text: str) -> dict:
    from component.plugin import resolve
    cfg = config(text)
    return {s.domain: {cls.name: o for cls, o in resolve(s.plugins)} for s in cfg.services}


def plan(new_text: str):
    return plan_reload(config(), running(), config(new_text), options_of(new_text))


def test_reload_plan_nothing_changed():
    assert not plan(BASE).changes


def test_reload_plan_live_changes():
    text = BASE.replace('admins = ["admin@example.com"]', 'admins = ["boss@example.com"]')
    text = text.replace('level = "info"', 'level = "debug"').replace('name = "Rooms"', 'name = "Salons"')
    text = text.replace('prefix = "> "', 'prefix = ">> "')
    p = plan(text)
    assert p.admins_added == ["boss@example.com"] and p.admins_removed == ["admin@example.com"]
    assert p.log_level == ("info", "debug")
    assert p.names == {"rooms.example.com": "Salons"}
    assert [(c.plugin, c.options.prefix, c.previous.prefix) for c in p.options] == [("echo", ">> ", "> ")]
    assert p.restart == []


@pytest.mark.parametrize("old, new, expected", [
    ("port = 5347", "port = 5348", "server"),
    ('level = "info"', 'level = "info"\nfile = "x.log"', "logging.file"),
    ('secret = "s1"', 'secret = "s2"', "rooms.example.com: secret"),
    ("[[services]]", '[database]\nurl = "sqlite+aiosqlite:///other.db"\n[[services]]', "database"),
    ('[services.plugins.echo]\nprefix = "> "', "", "rooms.example.com: plugins -echo"),
    ("", '[[services]]\ndomain = "more.example.com"\nsecret = "x"', "services: new domain more.example.com"),
])
def test_reload_plan_names_what_needs_a_restart(old, new, expected):
    text = BASE.replace(old, new) if old else BASE + new
    p = plan(text)
    assert expected in p.restart, p.restart


def test_read_config_validates_plugin_options(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(BASE.replace('prefix = "> "', "prefix = 3"))
    with pytest.raises(ConfigError) as err:
        read_config(str(path))
    assert "plugins.echo.prefix" in str(err.value)
    path.write_text(BASE)
    cfg, options = read_config(str(path))
    assert options["rooms.example.com"]["echo"].prefix == "> "


def test_rate_meter():
    meter = RateMeter(window=60)
    assert meter.rates(100.0, 10, 10) is None
    meter.sample(100.0, 0, 0)
    assert meter.rates(110.0, 100, 50) == (10.0, 5.0)
    for t in range(110, 300, 10):
        meter.sample(float(t), t * 2, t)
    in_rate, out_rate = meter.rates(300.0, 600, 300)
    assert in_rate == pytest.approx(2.0) and out_rate == pytest.approx(1.0)
    assert len(meter._samples) <= 8  # old samples leave the window
    # Counters that went backwards (a restart) never give negative rates.
    assert meter.rates(310.0, 0, 0) == (0.0, 0.0)


def test_times_and_sizes():
    assert parse_time("2024-03-01") == 1709251200.0
    assert parse_time("2024-03-01T12:00:00Z") == 1709294400.0
    assert parse_time("2024-03-01T14:00:00+02:00") == 1709294400.0
    for bad in ("", "yesterday", "2024-13-01"):
        with pytest.raises(ValueError):
            parse_time(bad)
    assert format_time(1709294400.0) == "2024-03-01T12:00:00Z" and format_time(None) == ""
    assert human_bytes(None) == "-" and human_bytes(512) == "512 B" and human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 1024 ** 3) == "3.0 GiB"
    assert human_duration(59) == "00:00:59" and human_duration(90061) == "1d 01:01:01"


def test_set_log_level_restores_library_policy():
    root, slix = logging.getLogger(), logging.getLogger("slixmpp")
    saved = root.level, slix.level
    try:
        set_log_level("debug")
        assert root.level == logging.DEBUG and slix.level == logging.DEBUG
        previous = set_log_level("warning")
        assert previous == "debug" and root.level == logging.WARNING and slix.level == logging.WARNING
        with pytest.raises(ValueError):
            set_log_level("loud")
    finally:
        root.setLevel(saved[0])
        slix.setLevel(saved[1])


def record(i: int, body: str = "hi", author: str = "alice@example.com", retracted: bool = False):
    room = "room@rooms.example.com"
    stanza = (f"<message xmlns='jabber:client' type='groupchat' from='{room}/Al &amp; Co' id='c{i}'>"
              f"<body>{escape(body)}</body></message>")
    return SimpleNamespace(stanza_id=f"ID{i:03d}", timestamp=1709294400.0 + i, stanza=stanza, author=author,
                           occupant_id=f"occ{i}", retracted=retracted)


def test_xml_export_is_mam_results_in_a_pie_archive():
    out = []
    writer = export.Writer("xml", "room@rooms.example.com", True, out.append)
    writer.begin()
    writer.add(record(1, "a < b & \"c\""))
    writer.add(record(2))
    writer.end()
    text = "".join(out)
    assert "ns0:" not in text
    document = ET.fromstring(text)
    assert document.tag == "{urn:xmpp:pie:0#mam}archive"
    results = document.findall("{urn:xmpp:mam:2}result")
    assert [r.get("id") for r in results] == ["ID001", "ID002"]
    message = results[0].find("{urn:xmpp:forward:0}forwarded/{jabber:client}message")
    assert message.findtext("{jabber:client}body") == 'a < b & "c"'
    assert message.get("from") == "room@rooms.example.com/Al & Co"
    stamp = results[0].find("{urn:xmpp:forward:0}forwarded/{urn:xmpp:delay}delay").get("stamp")
    assert stamp == "2024-03-01T12:00:01.000Z"
    jid = message.find("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}item")
    assert jid.get("jid") == "alice@example.com"
    # Without the right to see real JIDs, none is added.
    out.clear()
    writer = export.Writer("xml", "room@rooms.example.com", False, out.append)
    writer.begin()
    writer.add(record(1))
    writer.end()
    assert "alice@example.com" not in "".join(out)


def test_json_export():
    out = []
    writer = export.Writer("json", "room@rooms.example.com", False, out.append)
    writer.begin()
    writer.add(record(1, "你好"))
    writer.add(record(2, "gone", retracted=True))
    writer.end()
    data = json.loads("".join(out))
    assert data["archive"] == "room@rooms.example.com"
    first, second = data["messages"]
    assert first["body"] == "你好" and first["nick"] == "Al & Co" and "author" not in first
    assert first["timestamp"] == "2024-03-01T12:00:01.000Z" and first["occupant_id"] == "occ1"
    assert second["retracted"] is True and second["body"] == ""
    with pytest.raises(ValueError):
        export.Writer("csv", "r", False, out.append)


def test_refilled_form_keeps_field_order_and_hides_secrets():
    form = Form()
    form["type"] = "form"
    form.add_field(var="level", ftype="list-single", value="info",
                   options=[{"label": "debug", "value": "debug"}, {"label": "info", "value": "info"}])
    form.add_field(var="secret", ftype="text-private")
    form.add_field(var="lines", ftype="text-multi")
    submitted = Form()
    submitted["type"] = "submit"
    submitted.add_field(var="level", value="debug")
    submitted.add_field(var="secret", value="hunter2")
    submitted.add_field(var="lines", value=["one", "two"])
    again = _refilled(form, submitted.xml)
    level = again.xml.find("{jabber:x:data}field[@var='level']")
    assert [c.tag.rpartition("}")[2] for c in level] == ["value", "option", "option"]
    assert again.get_fields()["level"]["value"] == "debug"
    assert again.get_fields()["secret"]["value"] in (None, "")
    assert again.get_fields()["lines"]["value"] == ["one", "two"]
    assert form.get_fields()["level"]["value"] == "info"  # the original is untouched


async def test_rights_scope_unions_answers_and_admins_get_everything():
    hooks = HookBus()
    service = SimpleNamespace(hooks=hooks, is_admin=lambda jid: str(jid).startswith("admin@"))
    hooks.on(RIGHTS, lambda q: ["a", "b"] if q.kind == "room" and q.requester == "o@x" else None)
    hooks.on(RIGHTS, lambda q: ["c"] if q.kind == "room" and q.requester == "o@x" else None)
    hooks.on(RIGHTS, lambda q: ["q1"] if q.kind == "queue" else None)
    scope = await rights_scope(service, "o@x/res", "room")
    assert scope == Scope(names=frozenset({"a", "b", "c"}))
    assert scope.allows("a") and not scope.allows("z") and scope.filter(["z", "c", "a"]) == ["c", "a"]
    assert await rights_scope(service, "admin@x", "room") == Scope(everything=True)
    assert not await rights_scope(service, "nobody@x", "room")
    assert await rights_scope(service, "nobody@x", "queue") == Scope(names=frozenset({"q1"}))
    assert RightsQuery("o@x", "room").kind == "room"
