"""Service commands (statistics, reload, log level) and the command plumbing, end to end
with slixmpp's XEP-0050 client against a real Prosody."""

from __future__ import annotations

import asyncio
import logging

import pytest
from slixmpp.exceptions import IqError

from .. import harness
from .client import Commands, fields, labels, notes, options

pytestmark = pytest.mark.integration

DOMAIN = "test.localhost"
SERVICE_NODES = {"admin-stats", "admin-reload", "admin-log-level"}
PLUGINS = {"echo": {}, "admin": {}}



async def test_admin_lists_service_commands_plain_user_sees_none_and_is_refused(component, prosody):
    await component({DOMAIN: PLUGINS})
    async with harness.slix_client(prosody.ports.c2s, "admin", plugins=("xep_0050",)) as admin, \
            harness.slix_client(prosody.ports.c2s, "bob", plugins=("xep_0050",)) as bob:
        assert SERVICE_NODES <= set(await Commands(admin, DOMAIN).nodes())
        assert not set(await Commands(bob, DOMAIN).nodes()) & SERVICE_NODES
        for node in SERVICE_NODES:
            with pytest.raises(IqError) as err:
                await Commands(bob, DOMAIN).execute(node)
            assert err.value.condition == "forbidden"
            assert err.value.iq["error"]["type"] == "auth"
            with pytest.raises(IqError) as err:
                await bob.plugin["xep_0030"].get_info(jid=DOMAIN, node=node, timeout=10)
            assert err.value.condition == "forbidden"
        # Titles follow the requester's language.
        names = await Commands(admin, DOMAIN, lang="zh").names()
        assert names["admin-stats"] == "服务统计"
        names = await Commands(admin, DOMAIN).names()
        assert names["admin-stats"] == "Service statistics"


async def test_statistics(component, prosody):
    app = await component({DOMAIN: PLUGINS})
    service = app.services[DOMAIN]

    async def queue_figures(request):
        return {"queued_customers": 7, "agents_online": 2}

    service.hooks.on("admin.stats", queue_figures)
    async with harness.slix_client(prosody.ports.c2s, "admin", plugins=("xep_0050",)) as admin:
        await admin.plugin["xep_0199"].ping(jid=DOMAIN, timeout=10)  # one stanza each way at least
        before_in = service.stanzas_in
        result = await Commands(admin, DOMAIN).execute("admin-stats")
        assert result["command"]["status"] == "completed"
        assert result["command"]["form"]["type"] == "result"
        values = fields(result)
        assert values["streams"] == "1/1"
        assert int(values["stanzas_in"]) >= before_in + 1  # at least this very request
        assert int(values["stanzas_out"]) >= 1
        assert float(values["in_per_second"]) >= 0
        assert values["rooms"] == "-"  # no MUC on this service
        assert values["queued_customers"] == "7"
        assert values["extra.agents_online"] == "2"
        assert int(values["database_bytes"]) > 0
        assert "connected" in values[f"service.{DOMAIN}"] and "admin" in values[f"service.{DOMAIN}"]
        h, m, s = (int(x) for x in values["uptime"].split(":"))
        assert 0 <= h * 3600 + m * 60 + s < 120

        result = await Commands(admin, DOMAIN, lang="zh").execute("admin-stats")
        assert labels(result)["queued_customers"] == "排队客户"
        assert labels(result)["extra.agents_online"] == "在线坐席"


def _write_config(prosody, tmp_path, plugins, **kwargs):
    text = harness.make_config_text(prosody.ports.component, {DOMAIN: plugins}, tmp_path / "state",
                                    harness.database_url(tmp_path), **kwargs)
    (tmp_path / "switchboard.toml").write_text(text)


async def test_reload_applies_admins_level_and_options_live_without_dropping_the_stream(
        component, prosody, tmp_path):
    app = await component({DOMAIN: PLUGINS})
    service = app.services[DOMAIN]
    transport, connected_at = service.xmpp.transport, service.connected_at
    root_level = logging.getLogger().level
    try:
        async with harness.slix_client(prosody.ports.c2s, "admin", plugins=("xep_0050",)) as admin, \
                harness.slix_client(prosody.ports.c2s, "bob", plugins=("xep_0050",)) as bob:
            commands = Commands(admin, DOMAIN)
            # Unchanged file: nothing to do.
            _write_config(prosody, tmp_path, PLUGINS)
            result = await commands.execute("admin-reload")
            assert result["command"]["status"] == "completed"
            assert "no changes" in notes(result)[0][1]

            # Bob becomes an admin, the level goes to warning, admin's TTL changes, the port changes.
            _write_config(prosody, tmp_path, {"echo": {}, "admin": {"session_ttl": 42.0}},
                          admins=("admin@localhost", "bob@localhost"))
            text = (tmp_path / "switchboard.toml").read_text()
            text = text.replace('level = "debug"', 'level = "warning"')
            text = text.replace(f"port = {prosody.ports.component}", f"port = {prosody.ports.component + 1}")
            (tmp_path / "switchboard.toml").write_text(text)
            preview = await commands.execute("admin-reload")
            assert preview["command"]["status"] == "executing"
            assert preview["command"]["actions"] == {"complete"}
            shown = fields(preview)
            assert "bob@localhost" in "\n".join(shown["live"])
            assert "server" in "\n".join(shown["restart"])
            assert not await Commands(bob, DOMAIN).nodes()  # a preview changes nothing
            done = await commands.complete(preview)
            assert done["command"]["status"] == "completed"
            kind, text = notes(done)[0]
            assert kind == "warn" and "server" in text and "admins" in text
            assert "plugins.admin" in text.split("Applied:")[1]
            assert service.commands.SESSION_TTL == 42.0
            assert logging.getLogger().level == logging.WARNING
            assert SERVICE_NODES <= set(await Commands(bob, DOMAIN).nodes())
            # The stream was never dropped.
            assert service.xmpp.transport is transport and service.connected_at == connected_at

            # An invalid file changes nothing and says why.
            (tmp_path / "switchboard.toml").write_text("admins = 3\n")
            result = await commands.execute("admin-reload")
            kind, text = notes(result)[0]
            assert kind == "error" and "admins" in text
            assert SERVICE_NODES <= set(await Commands(bob, DOMAIN).nodes())
    finally:
        logging.getLogger().setLevel(root_level)


async def test_log_level_form_validation_and_change(component, prosody):
    await component({DOMAIN: PLUGINS})
    logger = logging.getLogger("switchboard.plugins.echo")
    saved = logger.level
    try:
        async with harness.slix_client(prosody.ports.c2s, "admin", plugins=("xep_0050",)) as admin:
            commands = Commands(admin, DOMAIN)
            step = await commands.execute("admin-log-level")
            assert options(step, "level") == ["debug", "info", "warning", "error"]
            assert "switchboard.plugins.echo" in options(step, "logger")
            # Bad input: the same form again with an error note, what was typed kept.
            again = await commands.complete(step, {"level": "verbose", "logger": "switchboard.plugins.echo"})
            assert again["command"]["status"] == "executing"
            kind, text = notes(again)[0]
            assert kind == "error" and "verbose" in text
            assert fields(again)["logger"] == "switchboard.plugins.echo"
            assert again["command"]["sessionid"] == step["command"]["sessionid"]
            done = await commands.complete(again, {"level": "error", "logger": "switchboard.plugins.echo"})
            assert done["command"]["status"] == "completed"
            assert logger.level == logging.ERROR
            assert "error" in notes(done)[0][1]
    finally:
        logger.setLevel(saved)


async def test_session_expiry_ended_sessions_and_foreign_sessions(component, prosody):
    app = await component({DOMAIN: {"echo": {}, "admin": {"session_ttl": 0.3}}})
    assert app.services[DOMAIN].commands.SESSION_TTL == 0.3
    async with harness.slix_client(prosody.ports.c2s, "admin", plugins=("xep_0050",)) as admin, \
            harness.slix_client(prosody.ports.c2s, "admin", resource="other", plugins=("xep_0050",)) as other:
        commands = Commands(admin, DOMAIN)
        step = await commands.execute("admin-log-level")
        await asyncio.sleep(0.5)
        with pytest.raises(IqError) as err:
            await commands.complete(step, {"level": "info"})
        assert err.value.condition == "not-allowed"
        assert err.value.iq["error"]["type"] == "cancel"
        assert err.value.iq["error"].xml.find("{http://jabber.org/protocol/commands}session-expired") is not None
        # A canceled session is over too.
        step = await commands.execute("admin-log-level")
        canceled = await commands.cancel(step)
        assert canceled["command"]["status"] == "canceled"
        with pytest.raises(IqError) as err:
            await commands.complete(step, {"level": "info"})
        assert err.value.condition == "not-allowed"
        # Another resource cannot drive my session; a made-up id is bad-sessionid.
        step = await commands.execute("admin-log-level")
        with pytest.raises(IqError) as err:
            await Commands(other, DOMAIN).complete(step, {"level": "info"})
        assert err.value.condition == "bad-request"
        fake = await commands.execute("admin-log-level")
        fake["command"]["sessionid"] = "no-such-session"
        with pytest.raises(IqError) as err:
            await commands.complete(fake, {"level": "info"})
        assert err.value.condition == "bad-request"
        assert err.value.iq["error"].xml.find("{http://jabber.org/protocol/commands}bad-sessionid") is not None
