"""Messages: private messages, invitations, subject, relaying, and their refusals."""

from __future__ import annotations

import pytest

from .helpers import (NS_USER, OID, Member, client, codes, error_of, is_body, is_presence_from, occupant_id,
                      room_jid, start)

pytestmark = pytest.mark.integration


def is_error(msg_id: str):  # type: ignore[no-untyped-def]
    return lambda s: s["type"] == "error" and s["id"] == msg_id


async def test_private_messages_follow_the_room_setting(component, prosody):
    app = await start(component)
    archived = []
    app.services["rooms.localhost"].hooks.on("muc.message", lambda e: archived.append(e))
    room = room_jid("whispers")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b, client(prosody, "carol") as c:
        alice, bob, carol = Member(a), Member(b), Member(c)
        own = await alice.create(room, "Alice")
        await bob.join(room, "Bob")
        b.send_message(mto=f"{room}/Alice", mbody="psst", mtype="chat")
        got = await alice.inbox.next(is_body("psst"))
        assert got["type"] == "chat" and got["from"].full == f"{room}/Bob"
        assert got.xml.find(f"{{{NS_USER}}}x") is not None
        assert got.xml.find(f"{{{OID}}}occupant-id") is not None
        assert archived == [], "private messages are never archived"
        assert occupant_id(own) != occupant_id(got)

        # Not an occupant, unknown nick, groupchat type: refused.
        msg = c.make_message(mto=f"{room}/Alice", mbody="hi", mtype="chat")
        msg["id"] = "p1"
        msg.send()
        assert error_of(await carol.inbox.next(is_error("p1"))) == ("not-acceptable", "modify")
        msg = b.make_message(mto=f"{room}/Nobody", mbody="hi", mtype="chat")
        msg["id"] = "p2"
        msg.send()
        assert error_of(await bob.inbox.next(is_error("p2"))) == ("item-not-found", "cancel")
        msg = b.make_message(mto=f"{room}/Alice", mbody="hi", mtype="groupchat")
        msg["id"] = "p3"
        msg.send()
        assert error_of(await bob.inbox.next(is_error("p3"))) == ("bad-request", "modify")

        await alice.configure(room, allowpm="moderators")
        msg = b.make_message(mto=f"{room}/Alice", mbody="again", mtype="chat")
        msg["id"] = "p4"
        msg.send()
        assert error_of(await bob.inbox.next(is_error("p4"))) == ("not-allowed", "cancel")
        a.send_message(mto=f"{room}/Bob", mbody="moderators may", mtype="chat")
        await bob.inbox.next(is_body("moderators may"))


async def test_invitations_and_declines(component, prosody):
    await start(component)
    room = room_jid("party")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b, client(prosody, "carol") as c:
        alice, bob, carol = Member(a), Member(b), Member(c)
        await alice.create(room, "Alice", membersonly=True, allowinvites=False)
        a.plugin["xep_0045"].invite(room, "bob@localhost", reason="join us")
        invite = await bob.inbox.next(lambda s: s.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}invite") is not None)
        element = invite.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}invite")
        assert invite["from"].full == room
        assert element.get("from").startswith("alice@localhost")
        assert element.findtext(f"{{{NS_USER}}}reason") == "join us"
        assert "join us" in invite["body"]
        # The invitation made bob a member of the members-only room.
        await bob.join(room, "Bob")

        # Declines go back to the inviter.
        b.plugin["xep_0045"].decline(room, "alice@localhost/test", reason="busy")
        decline = await alice.inbox.next(lambda s: s.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}decline") is not None)
        assert decline.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}decline").get("from") == "bob@localhost"

        # Bob is a member without invite rights here; carol is not in the room at all.
        msg = b.make_message(mto=room)
        x = msg.xml.makeelement(f"{{{NS_USER}}}x", {})
        x.append(x.makeelement(f"{{{NS_USER}}}invite", {"to": "carol@localhost"}))
        msg.xml.append(x)
        msg["id"] = "i1"
        msg.send()
        assert error_of(await bob.inbox.next(is_error("i1"))) == ("forbidden", "auth")
        raw = c.make_message(mto=room)
        raw.xml.append(x)
        raw["id"] = "i2"
        raw.send()
        assert error_of(await carol.inbox.next(is_error("i2"))) == ("not-acceptable", "modify")
        await carol.inbox.quiet(lambda s: s.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}invite") is not None, 0.2)
        assert error_of(await carol.join(room, "Carol", expect_error=True)) == ("registration-required", "auth")


async def test_subject_changes_and_join_order(component, prosody):
    await start(component)
    room = room_jid("topics")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice", persistentroom=True)
        await bob.join(room, "Bob")
        msg = b.make_message(mto=room, msubject="bob's topic", mtype="groupchat")
        msg["id"] = "s1"
        msg.send()
        assert error_of(await bob.inbox.next(is_error("s1"))) == ("forbidden", "auth")
        a.send_message(mto=room, msubject="today: tests", mtype="groupchat")
        changed = await bob.inbox.next(lambda s: s["subject"] == "today: tests")
        assert changed["from"].full == f"{room}/Alice" and not changed["body"]
        alice.say(room, "after the topic")
        await bob.inbox.next(is_body("after the topic"))
        await alice.configure(room, changesubject=True)
        b.send_message(mto=room, msubject="bob may now", mtype="groupchat")
        await alice.inbox.next(lambda s: s["subject"] == "bob may now")

    async with client(prosody, "carol") as c:
        carol = Member(c)
        presence = await carol.join(room, "Carol", maxhistory="10")
        order = []
        while True:
            # Only the room's: a server with offline storage (ejabberd) may hand Carol messages
            # that earlier tests sent her while she was away.
            stanza = await carol.inbox.next(lambda s: s.xml.tag.endswith("}message") and s["from"].bare == room)
            order.append(stanza["subject"] or stanza["body"])
            if stanza["subject"]:
                break
        assert order == ["after the topic", "bob may now"], "history first, then the subject, last"
        assert presence is not None


async def test_everything_else_is_relayed_untouched(component, prosody):
    await start(component)
    room = room_jid("relay")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice")
        await bob.join(room, "Bob")
        original = alice.say(room, "helo", id="orig-1")
        first = await bob.inbox.next(is_body("helo"))
        stanza_id = first.xml.find("{urn:xmpp:sid:0}stanza-id").get("id")

        correction = a.make_message(mto=room, mbody="hello", mtype="groupchat")
        correction.xml.append(correction.xml.makeelement("{urn:xmpp:message-correct:0}replace", {"id": "orig-1"}))
        correction.send()
        fixed = await bob.inbox.next(is_body("hello"))
        assert fixed.xml.find("{urn:xmpp:message-correct:0}replace").get("id") == "orig-1"

        reaction = b.make_message(mto=room, mtype="groupchat")
        reactions = reaction.xml.makeelement("{urn:xmpp:reactions:0}reactions", {"id": stanza_id})
        emoji = reactions.makeelement("{urn:xmpp:reactions:0}reaction", {})
        emoji.text = "👍"
        reactions.append(emoji)
        reaction.xml.append(reactions)
        reaction.xml.append(reaction.xml.makeelement("{http://jabber.org/protocol/chatstates}active", {}))
        reaction.send()
        got = await alice.inbox.next(lambda s: s.xml.find("{urn:xmpp:reactions:0}reactions") is not None)
        assert got.xml.find("{urn:xmpp:reactions:0}reactions/{urn:xmpp:reactions:0}reaction").text == "👍"
        assert got.xml.find("{http://jabber.org/protocol/chatstates}active") is not None
        assert got.xml.find(f"{{{OID}}}occupant-id") is not None

        # Refusals: outsiders and wrong types.
        async with client(prosody, "carol") as c:
            carol = Member(c)
            msg = c.make_message(mto=room, mbody="let me in", mtype="groupchat")
            msg["id"] = "g1"
            msg.send()
            assert error_of(await carol.inbox.next(is_error("g1"))) == ("not-acceptable", "modify")
            msg = c.make_message(mto=room_jid("nowhere"), mbody="?", mtype="groupchat")
            msg["id"] = "g2"
            msg.send()
            assert error_of(await carol.inbox.next(is_error("g2"))) == ("item-not-found", "cancel")
            msg = b.make_message(mto=room, mbody="normal type", mtype="normal")
            msg["id"] = "g3"
            msg.send()
            assert error_of(await bob.inbox.next(is_error("g3"))) == ("bad-request", "modify")
        assert original is not None and codes(first) == set()
        await alice.inbox.quiet(is_presence_from(f"{room}/Carol"), 0.1)
