"""The basic life of a room with slixmpp's own MUC client: create, join, talk, leave."""

from __future__ import annotations

import pytest

from component.ids import timestamp_of

from .. import harness
from .helpers import DOMAIN, codes, is_presence_from, item, room_jid, start

pytestmark = pytest.mark.integration

SID = "urn:xmpp:sid:0"
OID = "urn:xmpp:occupant-id:0"


async def test_create_join_message_leave(component, prosody):
    await start(component)
    room = room_jid("lobby")
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=("xep_0045",)) as alice, \
            harness.slix_client(prosody.ports.c2s, "bob", plugins=("xep_0045",)) as bob:
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        bob_in = harness.Inbox(bob, kinds=("message", "presence"))
        alice.plugin["xep_0045"].join_muc(room, "Alice")
        own = await alice_in.next(is_presence_from(f"{room}/Alice"))
        assert {"110", "201"} <= codes(own)
        assert item(own)["affiliation"] == "owner" and item(own)["role"] == "moderator"
        assert own.xml.find(f"{{{OID}}}occupant-id") is not None
        subject = await alice_in.next(lambda s: s.xml.find("{jabber:client}subject") is not None)
        assert subject["from"].bare == room

        # Locked until configured: others cannot enter yet.
        bob.plugin["xep_0045"].join_muc(room, "Bob")
        refused = await bob_in.next(is_presence_from(f"{room}/Bob"))
        assert refused["type"] == "error"
        assert refused["error"]["condition"] == "item-not-found"
        assert refused["error"]["type"] == "cancel"

        # Instant room: accept the default configuration.
        form = alice.plugin["xep_0004"].make_form(ftype="submit")
        await alice.plugin["xep_0045"].set_room_config(room, form)

        bob.plugin["xep_0045"].join_muc(room, "Bob")
        bob_self = await bob_in.next(is_presence_from(f"{room}/Bob"))
        assert "110" in codes(bob_self) and "201" not in codes(bob_self)
        assert item(bob_self)["role"] == "participant"
        alice_seen_by_bob = [s for s in bob_in.items if s["from"].full == f"{room}/Alice"]
        assert alice_seen_by_bob, "bob gets alice's presence before his own"
        assert "jid" not in item(alice_seen_by_bob[0]), "semi-anonymous: participants do not see real JIDs"
        bob_seen = await alice_in.next(is_presence_from(f"{room}/Bob"))
        assert item(bob_seen)["jid"].startswith("bob@localhost/"), "moderators see real JIDs"
        assert bob_seen.xml.find(f"{{{OID}}}occupant-id").get("id") != own.xml.find(
            f"{{{OID}}}occupant-id").get("id")

        # A message with a forged stanza-id: reflected with the sender's id, stamped by the room.
        msg = bob.make_message(mto=room, mbody="hello", mtype="groupchat")
        msg["id"] = "client-id-1"
        forged = msg.xml.makeelement(f"{{{SID}}}stanza-id", {"id": "forged", "by": room})
        msg.xml.append(forged)
        msg.send()
        got = await alice_in.next(lambda s: s["type"] == "groupchat" and s["body"] == "hello")
        echoed = await bob_in.next(lambda s: s["type"] == "groupchat" and s["body"] == "hello")
        for copy in (got, echoed):
            assert copy["from"].full == f"{room}/Bob"
            assert copy["id"] == "client-id-1"
            ids = copy.xml.findall(f"{{{SID}}}stanza-id")
            assert len(ids) == 1 and ids[0].get("by") == room and ids[0].get("id") != "forged"
            timestamp_of(ids[0].get("id"))
            assert copy.xml.find(f"{{{OID}}}occupant-id").get("id") == bob_seen.xml.find(
                f"{{{OID}}}occupant-id").get("id")

        # Leave: everyone hears it.
        alice.plugin["xep_0045"].leave_muc(room, "Alice")
        gone = await bob_in.next(is_presence_from(f"{room}/Alice", unavailable=True))
        assert item(gone)["role"] == "none"
        alice_self_gone = await alice_in.next(is_presence_from(f"{room}/Alice", unavailable=True))
        assert "110" in codes(alice_self_gone)
        info = await bob.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert "http://jabber.org/protocol/muc" in info["disco_info"]["features"]
    assert DOMAIN
