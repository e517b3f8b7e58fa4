"""The same room life with aioxmpp's own MUC client (aioxmpp.muc.MUCClient)."""

from __future__ import annotations

import aioxmpp
import aioxmpp.errors
import aioxmpp.muc
import aioxmpp.muc.xso as muc_xso
import pytest

from . import aiox
from .helpers import Member, client, codes, is_body, is_presence_from, item, room_jid, start

pytestmark = pytest.mark.integration


def text_of(msg: aioxmpp.Message) -> str:
    return msg.body.any() if msg.body else ""


async def test_aioxmpp_owner_configures_and_moderates(component, prosody):
    await start(component)
    room_address = room_jid("aiox")
    async with aiox.client(prosody.ports.c2s, "alice") as alice_xmpp, client(prosody, "bob") as b:
        bob = Member(b)
        muc = alice_xmpp.summon(aioxmpp.muc.MUCClient)
        room, joined = muc.join(aioxmpp.JID.fromstr(room_address), "Alice")
        events = aiox.Events(room)
        await joined
        assert room.me.affiliation == "owner" and room.me.role == "moderator"

        form = aioxmpp.muc.ConfigurationForm.from_xso(await muc.get_room_config(room.jid))
        form.roomname.value = "Configured by aioxmpp"
        form.persistentroom.value = True
        form.moderatedroom.value = True
        await muc.set_room_config(room.jid, form.render_reply())

        await bob.join(room_address, "Bob")
        (member,), _ = await events.next("on_join")
        assert member.nick == "Bob" and member.role == "visitor", "moderated room: newcomers are visitors"
        assert str(member.direct_jid.bare()) == "bob@localhost", "moderators see real JIDs"

        await room.muc_set_role("Bob", "participant", reason="you may speak")
        (_presence, voiced), kwargs = await events.next("on_muc_role_changed")
        assert voiced.nick == "Bob" and voiced.role == "participant" and kwargs.get("reason") == "you may speak"
        bob.say(room_address, "hello aioxmpp")
        (msg, sender, _source), _ = await events.next("on_message", lambda m, *a, **k: text_of(m) == "hello aioxmpp")
        assert sender.nick == "Bob"

        reply = aioxmpp.Message(type_=aioxmpp.MessageType.GROUPCHAT)
        reply.body[None] = "hello slixmpp"
        room.send_message(reply)
        got = await bob.inbox.next(is_body("hello slixmpp"))
        assert got["from"].full == f"{room_address}/Alice"

        await room.set_topic({None: "set by aioxmpp"})
        topic = await bob.inbox.next(lambda s: s["subject"] == "set by aioxmpp")
        assert topic["from"].full == f"{room_address}/Alice"

        await muc.set_affiliation(room.jid, aioxmpp.JID.fromstr("carol@localhost"), "member", reason="welcome")
        members = await muc.get_affiliated(room.jid, "member")
        assert [str(getattr(i, "jid", i)) for i in members] == ["carol@localhost"]

        await room.kick(member, reason="enough")
        kicked = await bob.inbox.next(is_presence_from(f"{room_address}/Bob", unavailable=True))
        assert {"110", "307"} <= codes(kicked)
        (left, ), kwargs = await events.next("on_leave")
        assert left.nick == "Bob" and kwargs.get("muc_leave_mode") == aioxmpp.muc.LeaveMode.KICKED

        await bob.join(room_address, "Bob")
        (member,), _ = await events.next("on_join")
        await room.ban(member, reason="for good")
        banned = await bob.inbox.next(is_presence_from(f"{room_address}/Bob", unavailable=True))
        assert "301" in codes(banned) and item(banned)["affiliation"] == "outcast"
        await room.leave()


async def test_aioxmpp_occupant_nick_change_and_refusals(component, prosody):
    await start(component)
    room_address = room_jid("aiox2")
    async with client(prosody, "alice") as a, aiox.client(prosody.ports.c2s, "bob") as bob_xmpp:
        alice = Member(a)
        await alice.create(room_address, "Alice", passwordprotectedroom=True, roomsecret="pw")
        alice.say(room_address, "before bob")
        await alice.inbox.next(is_body("before bob"))
        muc = bob_xmpp.summon(aioxmpp.muc.MUCClient)

        room, joined = muc.join(aioxmpp.JID.fromstr(room_address), "Bob", password="wrong")
        with pytest.raises(aioxmpp.errors.XMPPAuthError) as err:
            await joined
        assert err.value.condition == aioxmpp.ErrorCondition.NOT_AUTHORIZED

        history = muc_xso.History()
        history.maxstanzas = 5
        room, joined = muc.join(aioxmpp.JID.fromstr(room_address), "Bob", password="pw", history=history)
        events = aiox.Events(room)
        await joined
        (msg, sender, _s), _ = await events.next("on_message", lambda m, *a, **k: text_of(m) == "before bob")
        assert sender.nick == "Alice"
        assert room.me.role == "participant" and room.me.affiliation == "none"

        await room.set_nick("Robert")
        (_member, old, new), kwargs = await events.next("on_nick_changed")
        assert (old, new) == ("Bob", "Robert")
        seen = await alice.inbox.next(is_presence_from(f"{room_address}/Bob", unavailable=True))
        assert "303" in codes(seen)
        await alice.inbox.next(is_presence_from(f"{room_address}/Robert"))

        alice.say(room_address, "welcome robert")
        (msg, sender, _s), _ = await events.next("on_message", lambda m, *a, **k: text_of(m) == "welcome robert")
        # Non-moderators cannot kick.
        with pytest.raises(aioxmpp.errors.XMPPAuthError) as err:
            await room.muc_set_role("Alice", "none")
        assert err.value.condition == aioxmpp.ErrorCondition.FORBIDDEN
        await room.leave()
        gone = await alice.inbox.next(is_presence_from(f"{room_address}/Robert", unavailable=True))
        assert item(gone)["role"] == "none"
