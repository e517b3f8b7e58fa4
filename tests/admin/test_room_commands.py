"""Room commands end to end: a global admin, a room owner (scoped to their rooms) and a plain
user, with slixmpp's XEP-0050 client against a real Prosody, MUC and archive."""

from __future__ import annotations

import dataclasses
import json
import time
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from .. import harness
from .client import Commands, fields, labels, notes, options, rows
from .rooms_setup import BOBS, DOMAIN, LOBBY, ROOM_NODES, muc_client, start

pytestmark = pytest.mark.integration

SERVICE_NODES = {"admin-stats", "admin-reload", "admin-log-level"}


async def test_commands_listed_by_rights(component, prosody):
    await start(component, prosody)
    async with muc_client(prosody, "admin") as admin, muc_client(prosody, "alice") as alice, \
            muc_client(prosody, "carol") as carol:
        assert ROOM_NODES | SERVICE_NODES <= set(await Commands(admin, DOMAIN).nodes())
        # An owner gets the room commands, not creation nor the service commands.
        assert set(await Commands(alice, DOMAIN).nodes()) == ROOM_NODES - {"room-create"}
        # Someone who owns nothing sees nothing and is refused everything.
        assert await Commands(carol, DOMAIN).nodes() == []
        for node in ROOM_NODES | SERVICE_NODES:
            with pytest.raises(IqError) as err:
                await Commands(carol, DOMAIN).execute(node)
            assert (err.value.condition, err.value.iq["error"]["type"]) == ("forbidden", "auth"), node
        with pytest.raises(IqError) as err:
            await Commands(alice, DOMAIN).execute("room-create")
        assert err.value.condition == "forbidden"


async def test_rooms_list_is_scoped(component, prosody):
    await start(component, prosody)
    async with muc_client(prosody, "admin") as admin, muc_client(prosody, "alice") as alice:
        listed = await Commands(admin, DOMAIN).execute("rooms-list")
        assert listed["command"]["status"] == "completed"
        table = {r["room"]: r for r in rows(listed)}
        assert set(table) == {LOBBY, BOBS}
        assert table[LOBBY]["archive"] == "5" and table[BOBS]["archive"] == "1"
        assert table[LOBBY]["persistent"] == "yes" and table[LOBBY]["public"] == "yes"
        assert table[LOBBY]["occupants"] == "0"
        reported = [f["var"] for f in listed["command"]["form"]["reported"].values()]
        assert reported == ["room", "name", "occupants", "persistent", "public", "archive"]
        mine = await Commands(alice, DOMAIN, lang="zh").execute("rooms-list")
        assert [r["room"] for r in rows(mine)] == [LOBBY]
        assert rows(mine)[0]["persistent"] == "是"


async def test_room_info_for_owner_and_refusal_outside_scope(component, prosody):
    await start(component, prosody)
    async with muc_client(prosody, "alice") as alice, muc_client(prosody, "bob") as bob:
        commands = Commands(alice, DOMAIN)
        step = await commands.execute("room-info")
        assert options(step, "room") == [LOBBY]
        info = await commands.complete(step, {"room": LOBBY})
        values = fields(info)
        assert values["room"] == LOBBY and values["archive"] == "5"
        assert values["persistent"] == "yes" and values["archiving"] == "yes"
        assert values["first_message"].endswith("Z") and values["last_message"] >= values["first_message"]
        # A room she does not own, typed by hand: refused.
        step = await commands.execute("room-info")
        with pytest.raises(IqError) as err:
            await commands.complete(step, {"room": BOBS})
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("forbidden", "auth")
        # Bob owns bobs (and is only a participant in lobby).
        step = await Commands(bob, DOMAIN).execute("room-info")
        assert options(step, "room") == [BOBS]


async def test_room_info_unknown_room_is_a_form_error_for_admins(component, prosody):
    await start(component, prosody)
    async with muc_client(prosody, "admin") as admin:
        commands = Commands(admin, DOMAIN)
        step = await commands.execute("room-info")
        again = await commands.complete(step, {"room": "nowhere"})
        assert again["command"]["status"] == "executing"
        assert notes(again)[0][0] == "error" and "nowhere@rooms.localhost" in notes(again)[0][1]
        done = await commands.complete(again, {"room": "bobs"})  # a bare name is enough
        assert fields(done)["room"] == BOBS


async def test_purge_with_preview_prev_confirmation_and_bad_input(component, prosody):
    app = await start(component, prosody)
    archive = app.services[DOMAIN].hooks.service("archive")
    async with muc_client(prosody, "admin") as admin:
        commands = Commands(admin, DOMAIN)
        first = await commands.execute("room-purge")
        assert first["command"]["actions"] == {"next"}
        # Bad date: the same stage again with an error note.
        again = await commands.submit(first, {"room": LOBBY, "mode": "before", "before": "last tuesday"})
        assert again["command"]["status"] == "executing" and notes(again)[0][0] == "error"
        assert fields(again)["before"] == "last tuesday"
        # By one user: the preview counts bob's 2 messages.
        preview = await commands.submit(again, {"room": LOBBY, "mode": "author", "author": "bob@localhost"})
        assert preview["command"]["actions"] == {"complete", "prev"}
        assert "2 message(s) of lobby@rooms.localhost by bob@localhost" in fields(preview)["summary"]
        # Back: the first stage shows what was chosen.
        back = await commands.prev(preview)
        assert fields(back)["mode"] == "author" and fields(back)["author"] == "bob@localhost"
        assert back["command"]["actions"] == {"next"}
        preview = await commands.submit(back, {"room": LOBBY, "mode": "before",
                                               "before": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))})
        assert "5 message(s)" in fields(preview)["summary"]
        # Not confirmed: nothing happens, the question again.
        again = await commands.complete(preview, {"confirm": False})
        assert again["command"]["status"] == "executing" and notes(again)[0][0] == "error"
        assert await archive.count(LOBBY) == 5
        # Go back and narrow to bob, then confirm.
        back = await commands.prev(again)
        preview = await commands.submit(back, {"room": LOBBY, "mode": "author", "author": "bob@localhost"})
        done = await commands.complete(preview, {"confirm": True})
        assert done["command"]["status"] == "completed"
        assert "Deleted 2" in notes(done)[0][1]
        assert await archive.count(LOBBY) == 3
        assert await archive.count(BOBS) == 1
        # Cancel in the middle leaves everything.
        step = await commands.execute("room-purge")
        preview = await commands.submit(step, {"room": LOBBY, "mode": "all"})
        assert "3 message(s)" in fields(preview)["summary"]
        canceled = await commands.cancel(preview)
        assert canceled["command"]["status"] == "canceled"
        assert await archive.count(LOBBY) == 3


async def test_owner_purges_own_room_only(component, prosody):
    app = await start(component, prosody)
    archive = app.services[DOMAIN].hooks.service("archive")
    async with muc_client(prosody, "alice") as alice:
        commands = Commands(alice, DOMAIN)
        step = await commands.execute("room-purge")
        with pytest.raises(IqError) as err:
            await commands.submit(step, {"room": BOBS, "mode": "all"})
        assert err.value.condition == "forbidden"
        assert await archive.count(BOBS) == 1
        step = await commands.execute("room-purge")
        preview = await commands.submit(step, {"room": LOBBY, "mode": "all"})
        done = await commands.complete(preview, {"confirm": True})
        assert "Deleted 5" in notes(done)[0][1]
        assert await archive.count(LOBBY) == 0


async def test_export_xml_and_json(component, prosody):
    await start(component, prosody)
    async with muc_client(prosody, "admin") as admin, muc_client(prosody, "alice") as alice:
        commands = Commands(admin, DOMAIN)
        done = await commands.run("room-export", {"room": LOBBY, "format": "xml"})
        assert done["command"]["status"] == "completed"
        values = fields(done)
        assert values["count"] == "5" and values["total"] == "5"
        document = ET.fromstring("\n".join(values["export"]))
        assert document.tag == "{urn:xmpp:pie:0#mam}archive" and document.get("jid") == LOBBY
        results = document.findall("{urn:xmpp:mam:2}result")
        assert len(results) == 5
        ids = [r.get("id") for r in results]
        assert ids == sorted(ids)
        message = results[0].find("{urn:xmpp:forward:0}forwarded/{jabber:client}message")
        assert message.findtext("{jabber:client}body") == "alice 0"
        assert message.get("from") == f"{LOBBY}/Alice"
        assert results[0].find("{urn:xmpp:forward:0}forwarded/{urn:xmpp:delay}delay").get("stamp").endswith("Z")
        # Admins see the real JIDs.
        item = message.find("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}item")
        assert item.get("jid") == "alice@localhost"

        done = await commands.run("room-export", {"room": LOBBY, "format": "json"})
        data = json.loads("\n".join(fields(done)["export"]))
        assert data["archive"] == LOBBY
        assert [m["body"] for m in data["messages"]] == ["alice 0", "alice 1", "alice 2", "bob 0", "bob 1"]
        assert [m["nick"] for m in data["messages"]] == ["Alice"] * 3 + ["Bob"] * 2
        assert data["messages"][3]["author"] == "bob@localhost"
        assert all(m["occupant_id"] for m in data["messages"])

        # A date range in the future holds nothing; a bad range is refused in the form.
        tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
        done = await commands.run("room-export", {"room": LOBBY, "format": "json", "start": tomorrow})
        assert json.loads("\n".join(fields(done)["export"]))["messages"] == []
        step = await commands.execute("room-export")
        again = await commands.complete(step, {"room": LOBBY, "format": "json", "start": tomorrow,
                                               "end": "2000-01-01"})
        assert notes(again)[0][0] == "error"

        # The owner exports her room too.
        done = await Commands(alice, DOMAIN).run("room-export", {"room": LOBBY, "format": "json"})
        assert len(json.loads("\n".join(fields(done)["export"]))["messages"]) == 5


async def test_export_inline_limit_warns_and_points_to_the_cli(component, prosody):
    app = await start(component, prosody, admin={"export_max_inline": 2})
    async with muc_client(prosody, "admin") as admin:
        done = await Commands(admin, DOMAIN).run("room-export", {"room": LOBBY, "format": "json"})
        kind, text = notes(done)[0]
        assert kind == "warn" and "2 of 5" in text and "switchboard rooms export" in text
        assert len(json.loads("\n".join(fields(done)["export"]))["messages"]) == 2
        # The size cap too: the first message already fills a tiny budget.
        plugin = app.services[DOMAIN].plugins["admin"]
        plugin.options = dataclasses.replace(plugin.options, export_max_inline=100, export_max_inline_chars=10)
        done = await Commands(admin, DOMAIN).run("room-export", {"room": LOBBY, "format": "xml"})
        assert "1 of 5" in notes(done)[0][1]
        assert len(ET.fromstring("\n".join(fields(done)["export"])).findall("{urn:xmpp:mam:2}result")) == 1


async def test_room_stats(component, prosody):
    await start(component, prosody)
    async with muc_client(prosody, "admin") as admin:
        commands = Commands(admin, DOMAIN)
        done = await commands.run("room-stats", {"room": LOBBY})
        values = fields(done)
        assert values["messages"] == "5" and values["messages_24h"] == "5" and values["messages_7d"] == "5"
        today = time.strftime("%Y-%m-%d", time.gmtime())
        assert values[f"day.{today}"] == "5"
        assert sum(int(v) for k, v in values.items() if k.startswith("day.")) == 5
        table = await commands.run("room-stats", {"room": "*"})
        counts = {r["room"]: (r["day"], r["total"]) for r in rows(table)}
        assert counts == {LOBBY: ("5", "5"), BOBS: ("1", "1")}
        zh = await Commands(admin, DOMAIN, lang="zh").run("room-stats", {"room": LOBBY})
        assert labels(zh)["messages"] == "全部消息"


async def test_announcement_to_one_room_and_to_all(component, prosody):
    await start(component, prosody)
    async with muc_client(prosody, "admin") as admin, muc_client(prosody, "alice") as alice, \
            muc_client(prosody, "bob") as bob:
        alice_in, bob_in = harness.Inbox(alice), harness.Inbox(bob)
        await alice.plugin["xep_0045"].join_muc_wait(LOBBY, "Alice", maxstanzas=0, timeout=10)
        await bob.plugin["xep_0045"].join_muc_wait(BOBS, "Bob", maxstanzas=0, timeout=10)

        def announcement(room, body):
            return lambda m: m["type"] == "groupchat" and m["from"].full == room and m["body"] == body

        step = await Commands(admin, DOMAIN).execute("room-announce")
        assert "*" in options(step, "room")
        done = await Commands(admin, DOMAIN).complete(step, {"room": "*", "message": ["Maintenance", "at noon"]})
        assert "2 room(s)" in notes(done)[0][1]
        await alice_in.next(announcement(LOBBY, "Maintenance\nat noon"))
        await bob_in.next(announcement(BOBS, "Maintenance\nat noon"))

        # The owner announces in her room only; "all rooms" is not hers to choose.
        owner = Commands(alice, DOMAIN)
        step = await owner.execute("room-announce")
        assert options(step, "room") == [LOBBY]
        with pytest.raises(IqError) as err:
            await owner.complete(step, {"room": "*", "message": "everyone!"})
        assert err.value.condition == "forbidden"
        step = await owner.execute("room-announce")
        empty = await owner.complete(step, {"room": LOBBY, "message": ""})
        assert notes(empty)[0][0] == "error"
        await owner.complete(empty, {"room": LOBBY, "message": "Hello lobby"})
        await alice_in.next(announcement(LOBBY, "Hello lobby"))
        await bob_in.quiet(lambda m: m["body"] in ("everyone!", "Hello lobby"), wait=0.3)


class _MucView:
    """The real MUC service with operations added or hidden (what a MUC version offers)."""

    def __init__(self, real, hide=(), **extra):
        self._real, self._hide, self._extra = real, set(hide), extra

    def __getattr__(self, name):
        if name in self._hide:
            raise AttributeError(name)
        if name in self._extra:
            return self._extra[name]
        return getattr(self._real, name)


def _swap_muc(app, view):
    hooks = app.services[DOMAIN].hooks
    hooks._services["muc"] = view  # noqa: SLF001 - tests stand in another MUC version


async def test_room_info_lists_affiliations_when_muc_can(component, prosody):
    app = await start(component, prosody)
    real = app.services[DOMAIN].hooks.service("muc")
    _swap_muc(app, _MucView(real, affiliations=lambda room: {"alice@localhost": "owner", "dave@localhost": "member",
                                                             "eve@localhost": "outcast"}))
    async with muc_client(prosody, "admin") as admin:
        values = fields(await Commands(admin, DOMAIN).run("room-info", {"room": LOBBY}))
        assert values["owners"] == ["alice@localhost"] and values["members"] == ["dave@localhost"]
        assert values["outcasts"] == ["eve@localhost"] and values["admins"] in ([], [""], None)


async def test_create_destroy_affiliation_when_muc_lacks_them(component, prosody):
    app = await start(component, prosody)
    real = app.services[DOMAIN].hooks.service("muc")
    _swap_muc(app, _MucView(real, hide=("create_room", "destroy_room", "set_affiliation")))
    async with muc_client(prosody, "admin") as admin:
        for node in ("room-create", "room-destroy", "room-affiliation"):
            with pytest.raises(IqError) as err:
                await Commands(admin, DOMAIN).execute(node)
            assert (err.value.condition, err.value.iq["error"]["type"]) == ("feature-not-implemented", "cancel")
            assert "lacks" in err.value.text


async def test_create_destroy_affiliation_call_the_muc_service(component, prosody):
    app = await start(component, prosody)
    real = app.services[DOMAIN].hooks.service("muc")
    calls = []

    async def create_room(room, *, owner, config, actor):
        calls.append(("create", room, owner, config["muc#roomconfig_persistentroom"], actor))

    def destroy_room(room, *, reason, alternate, actor):
        calls.append(("destroy", room, reason, alternate, actor))

    async def set_affiliation(room, jid, affiliation, *, actor, reason):
        calls.append(("affiliation", room, jid, affiliation, actor, reason))

    _swap_muc(app, _MucView(real, create_room=create_room, destroy_room=destroy_room,
                            set_affiliation=set_affiliation))
    archive = app.services[DOMAIN].hooks.service("archive")
    async with muc_client(prosody, "admin") as admin, muc_client(prosody, "alice") as alice:
        commands = Commands(admin, DOMAIN)
        step = await commands.execute("room-create")
        again = await commands.complete(step, {"name": "lobby", "persistent": True})
        assert "already exists" in notes(again)[0][1]
        again = await commands.complete(again, {"name": "no/slash"})
        assert notes(again)[0][0] == "error"
        done = await commands.complete(again, {"name": "Team", "persistent": False, "owner": "carol@localhost"})
        assert done["command"]["status"] == "completed"
        assert calls.pop() == ("create", "team@rooms.localhost", "carol@localhost", False, "admin@localhost")

        owner = Commands(alice, DOMAIN)
        done = await owner.run("room-affiliation", {"room": LOBBY, "jid": "dave@localhost",
                                                    "affiliation": "member", "reason": "welcome"})
        assert calls.pop() == ("affiliation", LOBBY, "dave@localhost", "member", "alice@localhost", "welcome")
        step = await owner.execute("room-affiliation")
        again = await owner.complete(step, {"room": LOBBY, "jid": "not a jid@@", "affiliation": "member"})
        assert notes(again)[0][0] == "error" and not calls
        with pytest.raises(IqError) as err:
            await owner.complete(again, {"room": BOBS, "jid": "dave@localhost", "affiliation": "owner"})
        assert err.value.condition == "forbidden" and not calls

        step = await owner.execute("room-destroy")
        confirm = await owner.submit(step, {"room": LOBBY, "reason": "moving", "alternate": BOBS,
                                            "delete_archive": True})
        summary = " ".join(v for k, v in fields(confirm).items() if k.startswith("summary"))
        assert "lobby@rooms.localhost" in summary and "5 messages" in summary and "deleted" in summary
        again = await owner.complete(confirm, {"confirm": False})
        assert notes(again)[0][0] == "error" and not calls
        done = await owner.complete(again, {"confirm": True})
        assert calls.pop() == ("destroy", LOBBY, "moving", BOBS, "alice@localhost")
        assert "5 archived messages were deleted" in notes(done)[0][1]
        assert await archive.count(LOBBY) == 0
