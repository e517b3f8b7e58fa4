"""What clients and Prosody's own MUC tests expect of a room, driven by slixmpp's XEP-0045 plugin.

Configuration change notices (XEP-0045 10.2.1), absent users' affiliation changes (9.3-9.8),
a room secret that protects the room, presence probes to occupants, lenient form values.
"""

from __future__ import annotations

from xml.etree.ElementTree import fromstring

import pytest

from .. import harness
from .helpers import NS_USER, client, codes, error_of, is_presence_from, item, room_jid, start, Member

pytestmark = pytest.mark.integration


def is_room_message(room: str):  # type: ignore[no-untyped-def]
    return lambda s: s.xml.tag.endswith("}message") and s["from"].full == room


async def test_configuration_changes_are_announced_with_their_codes(component, prosody):
    await start(component, {"lock_new_rooms": False})
    room = room_jid("announced")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.join(room, "Alice")
        await bob.join(room, "Bob")
        await alice.configure(room, whois="anyone")
        notice = await bob.inbox.next(lambda s: is_room_message(room)(s) and codes(s))
        assert codes(notice) == {"104", "172"}
        await alice.configure(room, roomname="Renamed")
        notice = await bob.inbox.next(lambda s: is_room_message(room)(s) and codes(s))
        assert codes(notice) == {"104"}
        # Submitting what is already set announces nothing.
        await alice.configure(room, roomname="Renamed")
        await bob.inbox.quiet(lambda s: is_room_message(room)(s) and codes(s), 0.3)


async def test_absent_users_affiliation_changes_are_announced(component, prosody):
    await start(component, {"lock_new_rooms": False, "default_members_only": True})
    room = room_jid("members")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b, client(prosody, "carol") as c:
        alice, bob, carol = Member(a), Member(b), Member(c)
        await alice.join(room, "Alice")
        await alice.muc.set_affiliation(room, "member", jid="bob@localhost", timeout=10)
        await bob.join(room, "Bob")  # a member now; in a semi-anonymous room members see no real JIDs
        alice.inbox.items.clear()
        bob.inbox.items.clear()
        await alice.muc.set_affiliation(room, "member", jid="carol@localhost", reason="welcome", timeout=10)
        # The owner (a moderator) is told, with the real JID; the member is not.
        notice = await alice.inbox.next(lambda s: is_room_message(room)(s) and item(s))
        assert (item(notice)["jid"], item(notice)["affiliation"]) == ("carol@localhost", "member")
        assert notice.xml.findtext(f"{{{NS_USER}}}x/{{{NS_USER}}}item/{{{NS_USER}}}reason") == "welcome"
        assert "role" not in item(notice)
        # The user hears of it out of the room, with status 101.
        told = await carol.inbox.next(lambda s: is_room_message(room)(s) and "101" in codes(s))
        assert item(told)["affiliation"] == "member"
        await carol.join(room, "Carol")
        # Revoking the membership of someone absent: 321, since the room is members-only.
        await carol.leave(room, "Carol")
        alice.inbox.items.clear()
        await alice.muc.set_affiliation(room, "none", jid="carol@localhost", timeout=10)
        notice = await alice.inbox.next(lambda s: is_room_message(room)(s) and item(s))
        assert (item(notice)["affiliation"], codes(notice)) == ("none", {"321"})
        await bob.inbox.quiet(lambda s: is_room_message(room)(s) and item(s), 0.3)
        await carol.join(room, "Carol", expect_error=True)


async def test_a_room_secret_alone_protects_the_room(component, prosody):
    await start(component, {"lock_new_rooms": False})
    room = room_jid("secret")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.join(room, "Alice")
        await alice.configure(room, roomsecret="s3cret")  # without passwordprotectedroom
        refused = await bob.join(room, "Bob", password="wrong", expect_error=True)
        assert error_of(refused) == ("not-authorized", "auth")
        refused = await bob.join(room, "Bob", expect_error=True)
        assert error_of(refused) == ("not-authorized", "auth")
        info = await b.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert "muc_passwordprotected" in info["disco_info"]["features"]
        await bob.join(room, "Bob", password="s3cret")
        await bob.leave(room, "Bob")
        await alice.configure(room, roomsecret="")  # clearing it unprotects the room
        await bob.join(room, "Bob")


async def test_presence_probes_are_answered_to_occupants_only(component, prosody):
    await start(component, {"lock_new_rooms": False})
    room = room_jid("probed")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b, client(prosody, "eve") as e:
        alice, bob, eve = Member(a), Member(b), Member(e)
        await alice.join(room, "Alice")
        a.send_presence(pto=f"{room}/Alice", pstatus="busy here")
        await alice.inbox.next(lambda s: is_presence_from(f"{room}/Alice")(s)
                               and s.xml.findtext("{jabber:client}status") == "busy here")
        await bob.join(room, "Bob")
        bob.inbox.items.clear()
        b.send_presence(pto=f"{room}/Alice", ptype="probe")
        answer = await bob.inbox.next(is_presence_from(f"{room}/Alice"))
        # (read from the XML: slixmpp's lang-aware ["status"] misses it when the presence carries xml:lang)
        assert answer["type"] != "error" and answer.xml.findtext("{jabber:client}status") == "busy here"
        assert (item(answer)["role"], item(answer)["affiliation"]) == ("moderator", "owner")
        assert "jid" not in item(answer), "a semi-anonymous room hides real JIDs from participants"
        # The owner (a moderator) sees the real JID.
        alice.inbox.items.clear()
        a.send_presence(pto=f"{room}/Bob", ptype="probe")
        answer = await alice.inbox.next(is_presence_from(f"{room}/Bob"))
        assert item(answer)["jid"].startswith("bob@localhost/")
        # Someone outside the room is refused.
        e.send_presence(pto=f"{room}/Alice", ptype="probe")
        refused = await eve.inbox.next(is_presence_from(f"{room}/Alice"))
        assert refused["type"] == "error" and error_of(refused) == ("not-acceptable", "cancel")


async def test_harmless_form_values_are_accepted(component, prosody):
    await start(component, {"lock_new_rooms": False})
    room = room_jid("lenient")
    async with client(prosody, "alice") as a:
        alice = Member(a)
        await alice.join(room, "Alice")
        await alice.configure(room, presencebroadcast=["moderator", "participant", "visitor", "none"],
                              getmemberlist=["none", "moderator"])
        fields = (await alice.muc.get_room_config(room)).get_fields()
        assert fields["muc#roomconfig_presencebroadcast"]["value"] == ["moderator", "participant", "visitor"]
        assert fields["muc#roomconfig_getmemberlist"]["value"] == ["moderator"]
        # A role that does not exist is still refused.
        assert await alice.expect_iq_error(alice.configure(room, presencebroadcast=["king"])) == (
            "not-acceptable", "modify")


def registration(xmpp, room: str, nick: str):  # type: ignore[no-untyped-def]
    """The muc#register form submitted (XEP-0045 7.10.2)."""
    iq = xmpp.make_iq_set(ito=room)
    iq.append(fromstring(
        "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>"
        "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field>"
        f"<field var='muc#register_roomnick'><value>{nick}</value></field></x></query>"))
    return iq.send(timeout=10)


async def test_nickname_registration(component, prosody):
    await start(component, {"lock_new_rooms": False})
    room = room_jid("register")
    plugins = ("xep_0045", "xep_0077")
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=plugins) as a, \
            harness.slix_client(prosody.ports.c2s, "bob", plugins=plugins) as b, \
            harness.slix_client(prosody.ports.c2s, "carol", plugins=plugins) as c:
        alice, bob, carol = Member(a), Member(b), Member(c)
        await alice.join(room, "Alice")
        info = await b.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert "jabber:iq:register" in info["disco_info"]["features"]
        # Not registered yet: the form (slixmpp's XEP-0077 plugin asks).
        asked = await b.plugin["xep_0077"].get_registration(jid=room, timeout=10)
        fields = asked.xml.find("{jabber:iq:register}query/{jabber:x:data}x")
        assert fields is not None and any(f.get("var") == "muc#register_roomnick" for f in fields)
        await registration(b, room, "Bobby")
        # A member now, with the nick reserved.
        assert {"jid": "bob@localhost", "affiliation": "member", "nick": "Bobby"} in await alice.admin_get(
            room, affiliation="member")
        asked = await b.plugin["xep_0077"].get_registration(jid=room, timeout=10)
        assert asked.xml.find("{jabber:iq:register}query/{jabber:iq:register}registered") is not None
        assert asked.xml.findtext("{jabber:iq:register}query/{jabber:iq:register}username") == "Bobby"
        # Another user can neither register nor take that nick.
        assert await carol.expect_iq_error(registration(c, room, "Bobby")) == ("conflict", "cancel")
        assert error_of(await carol.join(room, "Bobby", expect_error=True)) == ("conflict", "cancel")
        # ... nor set someone else's reserved nick through the admin list, not being an owner or admin.
        assert await carol.expect_iq_error(carol.admin_set(room, jid="carol@localhost", affiliation="member",
                                                           nick="Bobby")) == ("forbidden", "auth")
        # A nick in use in the room by someone else is refused too.
        assert await carol.expect_iq_error(registration(c, room, "Alice")) == ("conflict", "cancel")
        # Outcasts are refused.
        await alice.admin_set(room, jid="carol@localhost", affiliation="outcast")
        assert await carol.expect_iq_error(registration(c, room, "Carol")) == ("forbidden", "auth")
        # Giving the registration up ends the membership.
        await b.plugin["xep_0077"].cancel_registration(jid=room, timeout=10)
        assert await alice.admin_get(room, affiliation="member") == []
        # In a members-only room, only members may register.
        await alice.configure(room, membersonly=True)
        await alice.admin_set(room, jid="carol@localhost", affiliation="none")
        assert await carol.expect_iq_error(registration(c, room, "Carol")) == ("registration-required", "auth")
