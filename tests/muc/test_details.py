"""Details clients notice: rejoin of a joined session, assigned nicks (210), presence broadcast by role,
owner/admin lists through the form, invitations to password rooms, localized forms."""

from __future__ import annotations

import pytest

from .helpers import (NS_USER, Member, client, codes, is_body, is_presence_from, item, room_jid, start)

pytestmark = pytest.mark.integration


async def test_rejoin_of_a_joined_session_resends_the_room(component, prosody):
    await start(component)
    room = room_jid("rejoin")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice", persistentroom=True)
        await bob.join(room, "Bob")
        alice.say(room, "while bob is here")
        await bob.inbox.next(is_body("while bob is here"))
        bob.inbox.items.clear()
        again = await bob.join(room, "Bob", maxhistory="5")
        assert "110" in codes(again) and "201" not in codes(again)
        assert any(is_presence_from(f"{room}/Alice")(s) for s in bob.inbox.items), "the occupant list again"
        await bob.inbox.next(is_body("while bob is here"))
        await bob.subject(room)
        # Nobody saw Bob leave or join twice.
        await alice.inbox.quiet(is_presence_from(f"{room}/Bob", unavailable=True), 0.3)


async def test_reserved_nick_is_assigned_with_210(component, prosody):
    await start(component, {"enforce_reserved_nicks": True})
    room = room_jid("registered")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice")
        await alice.admin_set(room, jid="bob@localhost", affiliation="member", nick="Bobby")
        b.send_presence(pto=f"{room}/Whatever")
        own = await bob.inbox.next(lambda s: s["type"] != "error" and "110" in codes(s))
        assert own["from"].full == f"{room}/Bobby" and "210" in codes(own)
        seen = await alice.inbox.next(is_presence_from(f"{room}/Bobby"))
        assert item(seen)["affiliation"] == "member"


async def test_presence_broadcast_roles(component, prosody):
    await start(component)
    room = room_jid("quiet")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b, client(prosody, "carol") as c:
        alice, bob, carol = Member(a), Member(b), Member(c)
        await alice.create(room, "Alice", moderatedroom=True, presencebroadcast=["moderator", "participant"])
        own = await bob.join(room, "Bob")
        assert item(own)["role"] == "visitor"
        await alice.inbox.quiet(is_presence_from(f"{room}/Bob"), 0.3)
        await carol.join(room, "Carol")
        assert not any(is_presence_from(f"{room}/Bob")(s) for s in carol.inbox.items), "visitors are not listed"
        # Given voice, Bob becomes visible.
        await alice.admin_set(room, nick="Bob", role="participant")
        await carol.inbox.next(is_presence_from(f"{room}/Bob"))


async def test_owner_and_admin_lists_through_the_form(component, prosody):
    await start(component)
    room = room_jid("staffed")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice")
        await bob.join(room, "Bob")
        await alice.configure(room, roomadmins=["bob@localhost"], roomowners=["alice@localhost", "carol@localhost"])
        promoted = await bob.inbox.next(lambda s: is_presence_from(f"{room}/Bob")(s)
                                        and item(s).get("affiliation") == "admin")
        assert item(promoted)["role"] == "moderator"
        owners = await alice.admin_get(room, affiliation="owner")
        assert sorted(o["jid"] for o in owners) == ["alice@localhost", "carol@localhost"]
        form = await alice.muc.get_room_config(room)
        assert form.get_fields()["muc#roomconfig_roomadmins"]["value"] == ["bob@localhost"]
        await alice.configure(room, roomadmins=[])
        demoted = await bob.inbox.next(lambda s: is_presence_from(f"{room}/Bob")(s)
                                       and item(s).get("affiliation") == "none")
        assert item(demoted)["role"] == "participant"


async def test_invitation_to_password_room_and_chinese_texts(component, prosody):
    await start(component)
    room = room_jid("secret")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice", passwordprotectedroom=True, roomsecret="pw")
        msg = a.make_message(mto=room)
        msg["lang"] = "zh"
        x = msg.xml.makeelement(f"{{{NS_USER}}}x", {})
        x.append(x.makeelement(f"{{{NS_USER}}}invite", {"to": "bob@localhost"}))
        msg.xml.append(x)
        msg.send()
        invite = await bob.inbox.next(lambda s: s.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}invite") is not None)
        assert invite.xml.findtext(f"{{{NS_USER}}}x/{{{NS_USER}}}password") == "pw"
        assert "邀请" in invite["body"] and "pw" in invite["body"]
        iq = a.make_iq_get(ito=room)
        iq["lang"] = "zh"
        iq.xml.append(iq.xml.makeelement("{http://jabber.org/protocol/muc#owner}query", {}))
        result = await iq.send(timeout=10)
        labels = [f.get("label") for f in result.xml.iter("{jabber:x:data}field")]
        assert "设为永久聊天室" in labels
        await bob.join(room, "Bob", password="pw")
