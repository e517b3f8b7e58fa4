"""Rooms: creation (instant and reserved), configuration, destruction, creation policy, persistence."""

from __future__ import annotations

import pytest

from .. import harness
from .helpers import (NS_OWNER, NS_USER, Member, client, codes, error_of, is_presence_from, item, room_jid,
                      start)

pytestmark = pytest.mark.integration

ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig"


async def test_reserved_room_config_form_and_status_codes(component, prosody):
    await start(component, {"default_archiving": "persistent"})  # archiving follows persistence here
    room = room_jid("reserved")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.join(room, "Alice")
        await alice.subject(room)
        form = (await alice.muc.get_room_config(room))
        fields = form.get_fields()
        for var in ("roomname", "roomdesc", "lang", "persistentroom", "publicroom", "membersonly",
                    "moderatedroom", "whois", "passwordprotectedroom", "roomsecret", "changesubject",
                    "allowinvites", "allowpm", "maxusers", "presencebroadcast", "getmemberlist", "roomowners",
                    "roomadmins", "enablearchiving"):
            assert f"muc#roomconfig_{var}" in fields, var
        assert fields["FORM_TYPE"]["value"] in (ROOMCONFIG, [ROOMCONFIG])
        assert fields["muc#roomconfig_roomowners"]["value"] == ["alice@localhost"]
        assert fields["muc#roomconfig_enablearchiving"]["value"] is False

        # Others cannot read or change the configuration.
        await bob.join(room, "Bob", expect_error=True)
        assert await bob.expect_iq_error(bob.muc.get_room_config(room)) == ("forbidden", "auth")

        await alice.configure(room, roomname="Reserved", persistentroom=True, whois="anyone")
        own = await bob.join(room, "Bob")
        assert {"100", "110", "170"} <= codes(own), "non-anonymous and archived: both said on join"
        assert item(await alice.inbox.next(is_presence_from(f"{room}/Bob")))["jid"].startswith("bob@")
        info = await b.plugin["xep_0030"].get_info(jid=room, timeout=10)
        features = set(info["disco_info"]["features"])
        assert {"muc_persistent", "muc_nonanonymous"} <= features
        assert ("conference", "text", None, "Reserved") in info["disco_info"]["identities"]

        # Changing whois and archiving tells everyone with 104 and the matching codes.
        assert await bob.expect_iq_error(bob.configure(room, whois="moderators")) == ("forbidden", "auth")
        # (a persistent room archives by default)
        await alice.configure(room, whois="moderators", enablearchiving=False)
        notice = await bob.inbox.next(lambda s: s.xml.tag.endswith("}message") and codes(s))
        assert codes(notice) == {"104", "173", "171"}
        await alice.configure(room, enablearchiving=True)
        notice = await bob.inbox.next(lambda s: s.xml.tag.endswith("}message") and codes(s))
        assert codes(notice) == {"104", "170"}

        # Invalid values are refused as a whole.
        assert await alice.expect_iq_error(alice.configure(room, maxusers="many")) == ("not-acceptable", "modify")
        assert await alice.expect_iq_error(alice.configure(room, passwordprotectedroom=True)) == (
            "not-acceptable", "modify")
        assert await alice.expect_iq_error(alice.configure(room, roomowners=[])) == ("not-acceptable", "modify")


async def test_cancelling_initial_configuration_destroys_room(component, prosody):
    await start(component)
    room = room_jid("cancelled")
    async with client(prosody, "alice") as a:
        alice = Member(a)
        await alice.join(room, "Alice")
        await alice.muc.cancel_config(room)
        gone = await alice.inbox.next(is_presence_from(f"{room}/Alice", unavailable=True))
        assert gone.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}destroy") is not None
        # The room no longer exists: a new join creates it again.
        again = await alice.join(room, "Alice")
        assert "201" in codes(again)


async def test_destroy_with_reason_and_alternate_venue(component, prosody):
    app = await start(component)
    destroyed = []
    app.services["rooms.localhost"].hooks.on("muc.room_destroyed", lambda e: destroyed.append(e))
    room = room_jid("doomed")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice", persistentroom=True)
        await bob.join(room, "Bob")
        assert await bob.expect_iq_error(bob.muc.destroy(room, reason="mine now")) == ("forbidden", "auth")
        await alice.muc.destroy(room, reason="moving", altroom=room_jid("elsewhere"))
        gone = await bob.inbox.next(is_presence_from(f"{room}/Bob", unavailable=True))
        destroy = gone.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}destroy")
        assert destroy.get("jid") == room_jid("elsewhere")
        assert destroy.findtext(f"{{{NS_USER}}}reason") == "moving"
        assert (item(gone)["affiliation"], item(gone)["role"]) == ("none", "none")
        assert destroyed and destroyed[0].room == room and destroyed[0].reason == "moving"
        err = await bob.expect_iq_error(b.plugin["xep_0030"].get_info(jid=room, timeout=10))
        assert err == ("item-not-found", "cancel")


@pytest.mark.parametrize("policy, creator, allowed", [
    ("admins", "alice", False), ("admins", "admin", True), ("local", "alice", True), ("anyone", "bob", True)])
async def test_creation_policy(component, prosody, policy, creator, allowed):
    await start(component, {"creation": policy})
    room = room_jid(f"policy-{policy}-{creator}")
    async with client(prosody, creator) as c:
        member = Member(c)
        got = await member.join(room, "Creator", expect_error=not allowed)
        if not allowed:
            assert error_of(got) == ("not-allowed", "cancel")
        else:
            assert "201" in codes(got)


async def test_local_policy_refuses_other_domains(component, prosody):
    await start(component, {"creation": "local", "local_domain": "example.org"})
    async with client(prosody, "alice") as a:
        got = await Member(a).join(room_jid("foreign"), "A", expect_error=True)
        assert error_of(got) == ("not-allowed", "cancel")


async def test_persistent_room_survives_restart(component, prosody):
    app = await start(component)
    room = room_jid("durable")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice", persistentroom=True, membersonly=True, roomname="Durable")
        await alice.admin_set(room, jid="bob@localhost", affiliation="member", nick="Bobby")
        await alice.admin_set(room, jid="eve@localhost", affiliation="outcast", reason="spam")
        a.send_message(mto=room, msubject="kept across restarts", mtype="groupchat")
        await alice.inbox.next(lambda s: s["subject"] == "kept across restarts")
    await app.stop()
    await start(component)
    async with client(prosody, "bob") as b, client(prosody, "carol") as c, client(prosody, "eve") as e:
        bob, carol, eve = Member(b), Member(c), Member(e)
        own = await bob.join(room, "Bobby")
        assert item(own)["affiliation"] == "member"
        subject = await bob.subject(room)
        assert subject["subject"] == "kept across restarts" and subject["from"].full == f"{room}/Alice"
        assert error_of(await carol.join(room, "Carol", expect_error=True)) == ("registration-required", "auth")
        assert error_of(await eve.join(room, "Eve", expect_error=True)) == ("forbidden", "auth")
        members = await bob.admin_get(room, affiliation="member")
        assert members == [{"affiliation": "member", "jid": "bob@localhost", "nick": "Bobby"}]
        info = await b.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert ("conference", "text", None, "Durable") in info["disco_info"]["identities"]


async def test_temporary_room_disappears_with_last_occupant(component, prosody):
    await start(component)
    room = room_jid("ephemeral")
    async with client(prosody, "alice") as a:
        alice = Member(a)
        await alice.create(room, "Alice")
        await alice.leave(room, "Alice")
        err = await alice.expect_iq_error(a.plugin["xep_0030"].get_info(jid=room, timeout=10))
        assert err == ("item-not-found", "cancel")
        items = await a.plugin["xep_0030"].get_items(jid="rooms.localhost", timeout=10)
        assert room not in [i[0] for i in items["disco_items"]["items"]]


async def test_owner_query_without_form_is_bad_request(component, prosody):
    await start(component)
    room = room_jid("badowner")
    async with client(prosody, "alice") as a:
        alice = Member(a)
        await alice.create(room, "Alice")
        iq = a.make_iq_set(ito=room)
        iq.xml.append(iq.xml.makeelement(f"{{{NS_OWNER}}}query", {}))
        assert await alice.expect_iq_error(iq.send(timeout=10)) == ("bad-request", "modify")
    assert harness.HOST == "localhost"


async def test_unlocked_persistent_defaults(component, prosody):
    options = {"lock_new_rooms": False, "default_persistent": True, "default_public": False}
    app = await start(component, options)
    room = room_jid("instant")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        own = await alice.join(room, "Alice")
        assert {"201", "170"} <= codes(own), "created, and archived because persistent"
        await bob.join(room, "Bob")  # not locked: no configuration needed
    await app.stop()
    await start(component, options)
    async with client(prosody, "carol") as c:
        info = await c.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert {"muc_persistent", "muc_hidden"} <= set(info["disco_info"]["features"])
