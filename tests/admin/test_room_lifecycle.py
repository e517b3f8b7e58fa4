"""Creating, changing and destroying rooms by command, through the real MUC service: what the
occupants see, and how ownership changes who may run the room commands."""

from __future__ import annotations

import pytest

from .. import harness
from .client import Commands, fields, notes, rows
from .rooms_setup import BOBS, DOMAIN, LOBBY, ROOM_NODES, muc_client, start

pytestmark = pytest.mark.integration

NS_USER = "http://jabber.org/protocol/muc#user"


def user_item(stanza):
    found = stanza.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}item")
    return dict(found.attrib) if found is not None else {}


async def test_create_room_with_an_owner_who_then_administers_it(component, prosody):
    app = await start(component, prosody)
    muc = app.services[DOMAIN].hooks.service("muc")
    team = f"team@{DOMAIN}"
    async with muc_client(prosody, "admin") as admin, muc_client(prosody, "carol") as carol:
        assert await Commands(carol, DOMAIN).nodes() == []
        done = await Commands(admin, DOMAIN).run("room-create", {
            "name": "Team", "title": "The team", "description": "Where we meet", "persistent": True,
            "public": False, "members_only": True, "archiving": True, "owner": "carol@localhost"})
        assert done["command"]["status"] == "completed", notes(done)
        assert muc.room_exists(team)
        assert muc.affiliation(team, "carol@localhost") == "owner"
        config = muc.room_config(team)
        assert config["muc#roomconfig_roomname"] == "The team"
        assert config["muc#roomconfig_membersonly"] is True and config["muc#roomconfig_publicroom"] is False
        # Carol owns a room now: she gets the room commands, scoped to it.
        assert set(await Commands(carol, DOMAIN).nodes()) == ROOM_NODES - {"room-create"}
        listed = await Commands(carol, DOMAIN).execute("rooms-list")
        assert [(r["room"], r["name"], r["public"]) for r in rows(listed)] == [(team, "The team", "no")]
        # Creating it again is a form error, not a failure.
        step = await Commands(admin, DOMAIN).execute("room-create")
        again = await Commands(admin, DOMAIN).complete(step, {"name": "team"})
        assert notes(again)[0][0] == "error" and "already exists" in notes(again)[0][1]


async def test_affiliations_change_for_occupants_and_rights(component, prosody):
    app = await start(component, prosody)
    muc = app.services[DOMAIN].hooks.service("muc")
    async with muc_client(prosody, "alice") as alice, muc_client(prosody, "bob") as bob, \
            muc_client(prosody, "dave") as dave:
        bob_in = harness.Inbox(bob, kinds=("presence",))
        await bob.plugin["xep_0045"].join_muc_wait(LOBBY, "Bob", maxstanzas=0, timeout=10)
        owner = Commands(alice, DOMAIN)
        await owner.run("room-affiliation", {"room": LOBBY, "jid": "bob@localhost", "affiliation": "admin"})
        update = await bob_in.next(lambda p: p["from"].full == f"{LOBBY}/Bob" and
                                   user_item(p).get("affiliation") == "admin")
        assert user_item(update)["role"] == "moderator"
        assert muc.affiliation(LOBBY, "bob@localhost") == "admin"

        # Dave becomes an owner: the room commands appear for him, for this room only.
        assert await Commands(dave, DOMAIN).nodes() == []
        await owner.run("room-affiliation", {"room": LOBBY, "jid": "dave@localhost", "affiliation": "owner"})
        step = await Commands(dave, DOMAIN).execute("room-info")
        info = await Commands(dave, DOMAIN).complete(step, {"room": LOBBY})
        values = fields(info)
        assert set(values["owners"]) == {"alice@localhost", "dave@localhost"}
        assert values["admins"] == ["bob@localhost"]

        # Back to none: dave loses the commands again.
        await owner.run("room-affiliation", {"room": LOBBY, "jid": "dave@localhost", "affiliation": "none"})
        assert await Commands(dave, DOMAIN).nodes() == []

        # The last owner cannot leave the room ownerless: said next to the form.
        step = await owner.execute("room-affiliation")
        again = await owner.complete(step, {"room": LOBBY, "jid": "alice@localhost", "affiliation": "member"})
        assert again["command"]["status"] == "executing" and notes(again)[0][0] == "error"
        assert muc.affiliation(LOBBY, "alice@localhost") == "owner"


async def test_destroy_room_tells_occupants_and_the_archive_goes_with_it(component, prosody):
    app = await start(component, prosody)
    service = app.services[DOMAIN]
    muc, archive = service.hooks.service("muc"), service.hooks.service("archive")
    async with muc_client(prosody, "admin") as admin, muc_client(prosody, "bob") as bob:
        bob_in = harness.Inbox(bob, kinds=("presence",))
        await bob.plugin["xep_0045"].join_muc_wait(LOBBY, "Bob", maxstanzas=0, timeout=10)
        commands = Commands(admin, DOMAIN)
        step = await commands.execute("room-destroy")
        confirm = await commands.submit(step, {"room": LOBBY, "reason": "moving house", "alternate": BOBS})
        summary = " ".join(v for k, v in fields(confirm).items() if k.startswith("summary"))
        assert "1 occupant(s)" in summary
        done = await commands.complete(confirm, {"confirm": True})
        assert done["command"]["status"] == "completed"
        gone = await bob_in.next(lambda p: p["from"].full == f"{LOBBY}/Bob" and p["type"] == "unavailable")
        destroy = gone.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}destroy")
        assert destroy is not None and destroy.get("jid") == BOBS
        assert destroy.findtext(f"{{{NS_USER}}}reason") == "moving house"
        assert not muc.room_exists(LOBBY)
        # The archive's default policy deletes it with the room; the note says what happened.
        assert await archive.count(LOBBY) == 0
        assert "5 archived messages were deleted" in notes(done)[0][1]
        assert [r["room"] for r in rows(await commands.execute("rooms-list"))] == [BOBS]
