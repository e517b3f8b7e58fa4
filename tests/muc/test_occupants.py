"""Occupants: joining and leaving, nick changes, multi-session nicks, presence, join refusals."""

from __future__ import annotations

import pytest

from .helpers import (Member, client, codes, error_of, is_body, is_presence_from, item, occupant_id, room_jid,
                      start)

pytestmark = pytest.mark.integration


async def test_nick_change_and_conflict(component, prosody):
    await start(component)
    room = room_jid("nicks")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice")
        bob_self = await bob.join(room, "Bob")
        await alice.inbox.next(is_presence_from(f"{room}/Bob"))

        # Taken by someone else: conflict, and nothing changes.
        b.send_presence(pto=f"{room}/Alice")
        refused = await bob.inbox.next(lambda s: s["type"] == "error")
        assert error_of(refused) == ("conflict", "cancel")
        assert error_of(await Member(a).join(room, "Bob", expect_error=True)) == ("conflict", "cancel")

        b.send_presence(pto=f"{room}/Robert")
        old = await alice.inbox.next(is_presence_from(f"{room}/Bob", unavailable=True))
        assert "303" in codes(old) and item(old)["nick"] == "Robert"
        new = await alice.inbox.next(is_presence_from(f"{room}/Robert", unavailable=False))
        assert occupant_id(new) == occupant_id(bob_self), "the occupant id follows the person, not the nick"
        own_old = await bob.inbox.next(is_presence_from(f"{room}/Bob", unavailable=True))
        assert {"110", "303"} <= codes(own_old)
        own_new = await bob.inbox.next(is_presence_from(f"{room}/Robert"))
        assert "110" in codes(own_new)
        bob.say(room, "renamed")
        got = await alice.inbox.next(is_body("renamed"))
        assert got["from"].full == f"{room}/Robert"


async def test_multi_session_nick(component, prosody):
    await start(component)
    room = room_jid("sessions")
    async with client(prosody, "alice") as a, client(prosody, "bob", "phone") as b1, \
            client(prosody, "bob", "laptop") as b2:
        alice, phone, laptop = Member(a), Member(b1), Member(b2)
        await alice.create(room, "Alice")
        await phone.join(room, "Bob")
        first = await alice.inbox.next(is_presence_from(f"{room}/Bob"))
        await laptop.join(room, "Bob")
        update = await phone.inbox.next(is_presence_from(f"{room}/Bob"))
        assert "110" in codes(update), "the other session sees its occupant's updated presence as its own"
        await alice.inbox.next(is_presence_from(f"{room}/Bob"))

        laptop.say(room, "from the laptop")
        for member in (alice, phone, laptop):
            got = await member.inbox.next(is_body("from the laptop"))
            assert got["from"].full == f"{room}/Bob"
            assert occupant_id(got) == occupant_id(first)

        # One session leaves: the occupant stays for everyone else.
        await laptop.leave(room, "Bob")
        still = await alice.inbox.next(is_presence_from(f"{room}/Bob"))
        assert still["type"] != "unavailable" and item(still)["jid"].endswith("/phone")
        alice.say(room, "still there?")
        await phone.inbox.next(is_body("still there?"))
        await laptop.inbox.quiet(is_body("still there?"), 0.3)
        await phone.leave(room, "Bob")
        gone = await alice.inbox.next(is_presence_from(f"{room}/Bob", unavailable=True))
        assert item(gone)["role"] == "none"


async def test_presence_update_is_broadcast(component, prosody):
    await start(component)
    room = room_jid("status")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice")
        await bob.join(room, "Bob")
        await alice.inbox.next(is_presence_from(f"{room}/Bob"))
        b.send_presence(pto=f"{room}/Bob", pshow="away", pstatus="lunch")
        update = await alice.inbox.next(is_presence_from(f"{room}/Bob"))
        assert update["show"] == "away" and update["status"] == "lunch"
        assert item(update)["role"] == "participant"
        own = await bob.inbox.next(lambda s: is_presence_from(f"{room}/Bob")(s) and s["show"] == "away")
        assert "110" in codes(own)
        left = await bob.leave(room, "Bob", status="bye")
        assert "110" in codes(left)
        gone = await alice.inbox.next(is_presence_from(f"{room}/Bob", unavailable=True))
        assert gone["status"] == "bye"


async def test_join_refusals(component, prosody):
    await start(component)
    room = room_jid("guarded")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b, client(prosody, "carol") as c, \
            client(prosody, "dave") as d, client(prosody, "eve") as e:
        alice, bob, carol, dave, eve = Member(a), Member(b), Member(c), Member(d), Member(e)
        await alice.create(room, "Alice", passwordprotectedroom=True, roomsecret="sesame", maxusers="none")
        assert error_of(await bob.join(room, "Bob", expect_error=True)) == ("not-authorized", "auth")
        assert error_of(await bob.join(room, "Bob", password="wrong", expect_error=True)) == (
            "not-authorized", "auth")
        await bob.join(room, "Bob", password="sesame")
        info = await b.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert "muc_passwordprotected" in info["disco_info"]["features"]

        await alice.configure(room, maxusers="2")
        assert error_of(await carol.join(room, "Carol", password="sesame", expect_error=True)) == (
            "service-unavailable", "cancel")

        await alice.configure(room, passwordprotectedroom=False, maxusers="none", membersonly=True)
        # Bob was there before the room became members-only, without membership: removed (322).
        removed = await bob.inbox.next(is_presence_from(f"{room}/Bob", unavailable=True))
        assert "322" in codes(removed)
        assert error_of(await carol.join(room, "Carol", expect_error=True)) == ("registration-required", "auth")
        await alice.admin_set(room, jid="carol@localhost", affiliation="member")
        await carol.join(room, "Carol")

        await alice.admin_set(room, jid="eve@localhost", affiliation="outcast")
        assert error_of(await eve.join(room, "Eve", expect_error=True)) == ("forbidden", "auth")

        # A nick reserved by a member is theirs alone.
        await alice.admin_set(room, jid="dave@localhost", affiliation="member", nick="Dee")
        await alice.admin_set(room, jid="bob@localhost", affiliation="member")
        assert error_of(await bob.join(room, "Dee", expect_error=True)) == ("conflict", "cancel")
        await dave.join(room, "Dee")

        # No nick at all.
        d.send_presence(pto=room)
        err = await dave.inbox.next(lambda s: s["type"] == "error" and s["from"].full == room)
        assert error_of(err) == ("jid-malformed", "modify")


async def test_an_occupant_whose_client_bounces_a_message_is_removed_only_when_gone(component, prosody):
    await start(component)
    room = room_jid("bounces")
    stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice")
        await bob.join(room, "Bob")
        await alice.inbox.next(is_presence_from(f"{room}/Bob"))

        # An error that does not say the client is gone (a refusal) keeps the occupant.
        b.send_raw(f"<message xmlns='jabber:client' to='{room}' type='error'><error type='auth'>"
                   f"<forbidden xmlns='{stanzas}'/></error></message>")
        bob.say(room, "still here")
        await bob.inbox.next(is_body("still here"))  # reflected: still an occupant
        await alice.inbox.quiet(is_presence_from(f"{room}/Bob", unavailable=True), 0.5)

        # One that says so removes it (XEP-0045: 307 with 333).
        b.send_raw(f"<message xmlns='jabber:client' to='{room}' type='error'><error type='cancel'>"
                   f"<recipient-unavailable xmlns='{stanzas}'/></error></message>")
        gone = await alice.inbox.next(is_presence_from(f"{room}/Bob", unavailable=True))
        assert {"307", "333"} <= codes(gone)
