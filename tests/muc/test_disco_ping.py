"""Discovery of the service and rooms, XEP-0410 self-ping (also across a restart), IQ forwarding."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from .helpers import DOMAIN, Member, client, is_presence_from, room_jid, start

pytestmark = pytest.mark.integration


async def ping_error(member: Member, target: str) -> tuple[str, str] | None:
    try:
        await member.xmpp.plugin["xep_0199"].send_ping(target, timeout=10)
    except IqError as exc:
        return exc.iq["error"]["condition"], exc.iq["error"]["type"]
    return None


async def test_service_and_room_discovery(component, prosody):
    await start(component)
    public, hidden, locked = room_jid("public"), room_jid("hidden"), room_jid("locked")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(public, "Alice", roomname="Public room", roomdesc="for everyone", lang="en")
        await alice.create(hidden, "Alice", publicroom=False)
        await alice.join(locked, "Alice")
        a.send_message(mto=public, msubject="the topic", mtype="groupchat")
        await alice.inbox.next(lambda s: s["subject"] == "the topic")

        info = await b.plugin["xep_0030"].get_info(jid=DOMAIN, timeout=10)
        assert ("conference", "text", None, "Chatrooms") in info["disco_info"]["identities"]
        assert "http://jabber.org/protocol/muc" in info["disco_info"]["features"]
        items = await b.plugin["xep_0030"].get_items(jid=DOMAIN, timeout=10)
        listed = {jid: name for jid, _node, name in items["disco_items"]["items"]}
        assert listed == {public: "Public room"}, "hidden and locked rooms are not listed"

        info = await b.plugin["xep_0030"].get_info(jid=public, timeout=10)
        features = set(info["disco_info"]["features"])
        assert {"http://jabber.org/protocol/muc", "muc_temporary", "muc_public", "muc_open", "muc_unsecured",
                "muc_unmoderated", "muc_semianonymous", "urn:xmpp:sid:0", "urn:xmpp:occupant-id:0",
                "http://jabber.org/protocol/muc#stable_id",
                "http://jabber.org/protocol/muc#self-ping-optimization"} <= features
        form = info["disco_info"]["form"].get_fields()
        assert form["FORM_TYPE"]["value"] in ("http://jabber.org/protocol/muc#roominfo",
                                              ["http://jabber.org/protocol/muc#roominfo"])
        assert form["muc#roominfo_description"]["value"] == "for everyone"
        assert form["muc#roominfo_occupants"]["value"] == "1"
        assert form["muc#roominfo_subject"]["value"] == "the topic"
        assert form["muc#roominfo_lang"]["value"] == "en"

        hidden_info = await b.plugin["xep_0030"].get_info(jid=hidden, timeout=10)
        assert "muc_hidden" in hidden_info["disco_info"]["features"]
        with pytest.raises(IqError) as err:
            await b.plugin["xep_0030"].get_info(jid=locked, timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("item-not-found", "cancel")
        owner_view = await a.plugin["xep_0030"].get_info(jid=locked, timeout=10)
        assert "http://jabber.org/protocol/muc" in owner_view["disco_info"]["features"]
        with pytest.raises(IqError) as err:
            await b.plugin["xep_0030"].get_info(jid=room_jid("nothing-here"), timeout=10)
        assert (err.value.condition, err.value.iq["error"]["type"]) == ("item-not-found", "cancel")


async def test_self_ping_and_iq_forwarding(component, prosody):
    await start(component)
    room = room_jid("pings")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b, client(prosody, "carol") as c:
        alice, bob, carol = Member(a), Member(b), Member(c)
        a.register_plugin("xep_0092")
        b.register_plugin("xep_0092")
        await alice.create(room, "Alice")
        await bob.join(room, "Bob")
        assert await ping_error(bob, f"{room}/Bob") is None, "joined: the room answers the self-ping"
        assert await ping_error(carol, f"{room}/Bob") == ("not-acceptable", "cancel"), "not joined"
        assert await ping_error(bob, f"{room}/Nobody") == ("item-not-found", "cancel"), "nick gone"

        # An IQ to another occupant reaches its real JID and the answer comes back through the room.
        version = await b.plugin["xep_0092"].get_version(f"{room}/Alice", timeout=10)
        assert version["software_version"]["name"], version
        assert version["from"].full == f"{room}/Alice"
        assert await ping_error(bob, f"{room}/Alice") is None, "pinging another occupant is forwarded"

        # After a nick change the old nick is gone.
        b.send_presence(pto=f"{room}/Robert")
        await bob.inbox.next(is_presence_from(f"{room}/Robert"))
        assert await ping_error(bob, f"{room}/Bob") == ("item-not-found", "cancel")
        assert await ping_error(bob, f"{room}/Robert") is None


async def test_self_ping_after_restart_says_rejoin(component, prosody):
    app = await start(component)
    room = room_jid("restart")
    async with client(prosody, "alice") as a, client(prosody, "bob") as b:
        alice, bob = Member(a), Member(b)
        await alice.create(room, "Alice", persistentroom=True)
        await bob.join(room, "Bob")
        assert await ping_error(bob, f"{room}/Bob") is None
        await app.stop()
        shutdown = await bob.inbox.next(is_presence_from(f"{room}/Bob", unavailable=True))
        assert "332" in {s.get("code") for s in shutdown.xml.iter("{http://jabber.org/protocol/muc#user}status")}
        await start(component)
        assert await ping_error(bob, f"{room}/Bob") == ("not-acceptable", "cancel")
        again = await bob.join(room, "Bob")
        assert again is not None
        assert await ping_error(bob, f"{room}/Bob") is None
