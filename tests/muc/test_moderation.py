"""Roles and affiliations: kick, ban, voice, moderator, admin lists, levels, the last owner."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from .helpers import (Member, client, codes, error_of, is_body, is_presence_from, item, room_jid, start)

pytestmark = pytest.mark.integration


async def refused(coro) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    try:
        await coro
    except IqError as exc:
        return exc.iq["error"]["condition"], exc.iq["error"]["type"]
    raise AssertionError("expected a refusal")


async def test_kick_and_ban(component, prosody):
    await start(component)
    room = room_jid("court")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b, client(prosody, "carol") as c:
        alice, bob, carol = Member(a), Member(b), Member(c)
        await alice.create(room, "Alice")
        await bob.join(room, "Bob")
        await carol.join(room, "Carol")

        # A participant cannot kick.
        assert await refused(bob.admin_set(room, nick="Carol", role="none")) == ("forbidden", "auth")
        assert await refused(alice.admin_set(room, nick="Nobody", role="none")) == ("item-not-found", "cancel")

        await alice.admin_set(room, nick="Carol", role="none", reason="calm down")
        kicked = await carol.inbox.next(is_presence_from(f"{room}/Carol", unavailable=True))
        assert {"110", "307"} <= codes(kicked)
        actor = kicked.xml.find("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}"
                                "item/{http://jabber.org/protocol/muc#user}actor")
        assert actor is not None and actor.get("nick") == "Alice"
        seen = await bob.inbox.next(is_presence_from(f"{room}/Carol", unavailable=True))
        assert "307" in codes(seen) and "110" not in codes(seen)
        await carol.join(room, "Carol")  # a kick is not a ban

        await alice.admin_set(room, jid="carol@localhost", affiliation="outcast", reason="spam")
        banned = await carol.inbox.next(is_presence_from(f"{room}/Carol", unavailable=True))
        assert {"110", "301"} <= codes(banned) and item(banned)["affiliation"] == "outcast"
        assert error_of(await carol.join(room, "Carol", expect_error=True)) == ("forbidden", "auth")
        outcasts = await alice.admin_get(room, affiliation="outcast")
        assert outcasts == [{"affiliation": "outcast", "jid": "carol@localhost"}]
        assert await refused(bob.admin_get(room, affiliation="outcast")) == ("forbidden", "auth")
        await alice.admin_set(room, jid="carol@localhost", affiliation="none")
        await carol.join(room, "Carol")


async def test_voice_in_moderated_room(component, prosody):
    await start(component)
    room = room_jid("stage")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice", moderatedroom=True)
        own = await bob.join(room, "Bob")
        assert item(own)["role"] == "visitor"
        bob.say(room, "can I speak?", id="v1")
        err = await bob.inbox.next(lambda s: s["type"] == "error" and s["id"] == "v1")
        assert error_of(err) == ("forbidden", "auth")

        # A voice request reaches the moderators as a form; approving it gives voice.
        b.plugin["xep_0045"].request_voice(room, "participant")
        request = await alice.inbox.next(lambda s: s.xml.find("{jabber:x:data}x") is not None)
        form = request["form"]
        assert form.get_fields()["muc#roomnick"]["value"] == "Bob"
        answer = a.make_message(mto=room)
        submit = a.plugin["xep_0004"].make_form(ftype="submit")
        submit.add_field(var="FORM_TYPE", value="http://jabber.org/protocol/muc#request")
        submit.add_field(var="muc#role", value="participant")
        submit.add_field(var="muc#roomnick", value="Bob")
        submit.add_field(var="muc#request_allow", ftype="boolean", value=True)
        answer.append(submit)
        answer.send()
        voiced = await bob.inbox.next(lambda s: is_presence_from(f"{room}/Bob")(s) and item(s)["role"] == "participant")
        assert "110" in codes(voiced)
        bob.say(room, "thank you")
        await alice.inbox.next(is_body("thank you"))

        # Revoke again through muc#admin; the voice list shows participants.
        assert [i["nick"] for i in await alice.admin_get(room, role="participant")] == ["Bob"]
        assert await refused(bob.admin_get(room, role="participant")) == ("forbidden", "auth")
        await alice.admin_set(room, nick="Bob", role="visitor")
        silenced = await bob.inbox.next(lambda s: is_presence_from(f"{room}/Bob")(s) and item(s)["role"] == "visitor")
        assert silenced is not None


async def test_nobody_acts_above_their_level_and_last_owner(component, prosody):
    await start(component)
    room = room_jid("ladder")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b, client(prosody, "carol") as c, \
            client(prosody, "dave") as d:
        alice, bob, carol, dave = Member(a), Member(b), Member(c), Member(d)
        await alice.create(room, "Alice")
        await alice.admin_set(room, jid="bob@localhost", affiliation="admin")
        assert item(await bob.join(room, "Bob"))["role"] == "moderator"
        await carol.join(room, "Carol")
        await dave.join(room, "Dave")

        # An admin cannot touch owners or make admins; a moderator by role cannot touch moderators.
        assert await refused(bob.admin_set(room, jid="alice@localhost", affiliation="outcast")) == (
            "not-allowed", "cancel")
        assert await refused(bob.admin_set(room, jid="carol@localhost", affiliation="admin")) == (
            "not-allowed", "cancel")
        assert await refused(bob.admin_set(room, nick="Alice", role="none")) == ("not-allowed", "cancel")
        await bob.admin_set(room, nick="Carol", role="moderator")
        await dave.inbox.next(lambda s: is_presence_from(f"{room}/Carol")(s) and item(s)["role"] == "moderator")
        assert await refused(carol.admin_set(room, nick="Bob", role="participant")) == ("not-allowed", "cancel")
        assert await refused(carol.admin_set(room, nick="Dave", role="moderator")) == ("not-allowed", "cancel")
        await carol.admin_set(room, nick="Dave", role="visitor")  # moderators silence participants
        # Members cannot change affiliations at all.
        assert await refused(carol.admin_set(room, jid="dave@localhost", affiliation="member")) == (
            "forbidden", "auth")

        # The last owner stays; with a second owner the first may step down.
        assert await refused(alice.admin_set(room, jid="alice@localhost", affiliation="admin")) == (
            "conflict", "cancel")
        await alice.admin_set(room, jid="carol@localhost", affiliation="owner")
        changed = await dave.inbox.next(lambda s: is_presence_from(f"{room}/Carol")(s)
                                        and item(s)["affiliation"] == "owner")
        assert item(changed)["role"] == "moderator"
        await alice.admin_set(room, jid="alice@localhost", affiliation="member")
        demoted = await dave.inbox.next(lambda s: is_presence_from(f"{room}/Alice")(s)
                                        and item(s)["affiliation"] == "member")
        assert item(demoted)["role"] == "participant"
        owners = await carol.admin_get(room, affiliation="owner")
        assert [o["jid"] for o in owners] == ["carol@localhost"]


async def test_membership_loss_in_members_only_room(component, prosody):
    await start(component)
    room = room_jid("club")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice", membersonly=True)
        await alice.admin_set(room, jid="bob@localhost", affiliation="member")
        await bob.join(room, "Bob")
        members = await bob.admin_get(room, affiliation="member")
        assert [m["jid"] for m in members] == ["bob@localhost"]
        await alice.admin_set(room, jid="bob@localhost", affiliation="none", reason="membership ended")
        removed = await bob.inbox.next(is_presence_from(f"{room}/Bob", unavailable=True))
        assert {"110", "321"} <= codes(removed)
        assert error_of(await bob.join(room, "Bob", expect_error=True)) == ("registration-required", "auth")
