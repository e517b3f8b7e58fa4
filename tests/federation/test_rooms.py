"""A user of another server in our rooms, through server-to-server: create, chat, retract, archive,
invitations, kick and ban, and the ``local`` creation policy."""

from __future__ import annotations

import uuid

import pytest
from slixmpp import JID

from ..muc.helpers import NS_USER, Member, codes, error_of, is_presence_from
from ..recall.roomkit import CLIENT_PLUGINS, mam_messages, retract_of, stanza_id
from .conftest import LOCAL, ROOMS, local, remote

pytestmark = pytest.mark.timeout(60)

ROOM_PLUGINS = {"muc": {"lock_new_rooms": False, "default_archiving": "on"}, "mam": {},
                "recall": {"window_seconds": 0}}


def new_room() -> str:
    return f"fed-{uuid.uuid4().hex[:8]}@{ROOMS}"


def groupchat_with(body: str):  # type: ignore[no-untyped-def]
    return lambda s: s.xml.tag.endswith("}message") and s["type"] == "groupchat" and s["body"] == body


async def test_remote_user_creates_chats_retracts_and_reads_the_archive(federation, switchboard):
    await switchboard({ROOMS: ROOM_PLUGINS})
    room = new_room()
    async with federation.remote_client("rita", CLIENT_PLUGINS) as r, \
            federation.local_client("alice", CLIENT_PLUGINS) as a:
        rita, alice = Member(r), Member(a)
        created = await rita.join(room, "Rita")
        assert "201" in codes(created)  # the remote user created it and owns it
        await alice.join(room, "Alice")
        await rita.inbox.next(is_presence_from(f"{room}/Alice"))

        rita.say(room, "hello from afar")
        heard = await alice.inbox.next(groupchat_with("hello from afar"))
        assert heard["from"] == JID(f"{room}/Rita")
        own = await rita.inbox.next(groupchat_with("hello from afar"))
        alice.say(room, "hi back")
        await rita.inbox.next(groupchat_with("hi back"))

        # Retraction of her own message, relayed to the local occupant.
        sid = stanza_id(own, room)
        r.plugin["xep_0424"].send_retraction(JID(room), sid, mtype="groupchat")
        notice = await alice.inbox.next(lambda s: s.xml.tag.endswith("}message") and retract_of(s) is not None)
        assert retract_of(notice).get("id") == sid and notice["from"] == JID(f"{room}/Rita")

        # The archive answers her over s2s: the local reply in full, her own message a tombstone.
        archived = [inner for _id, inner in await mam_messages(r, room)]
        bodies = [m.findtext("{jabber:client}body") for m in archived]
        assert "hi back" in bodies and "hello from afar" not in bodies
        assert any(m.find("{urn:xmpp:message-retract:1}retracted") is not None for m in archived)


async def test_remote_user_is_invited_kicked_and_banned(federation, switchboard):
    await switchboard({ROOMS: ROOM_PLUGINS})
    room = new_room()
    async with federation.local_client("alice", CLIENT_PLUGINS) as a, \
            federation.remote_client("rita", CLIENT_PLUGINS) as r:
        alice, rita = Member(a), Member(r)
        await alice.join(room, "Alice")

        # A mediated invitation (XEP-0045 7.8.2) reaches the other server's user, from the room.
        msg = a.make_message(mto=room)
        x = msg.xml.makeelement(f"{{{NS_USER}}}x", {})
        x.append(x.makeelement(f"{{{NS_USER}}}invite", {"to": remote("rita")}))
        msg.xml.append(x)
        msg.send()
        invite = await rita.inbox.next(lambda s: s.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}invite") is not None)
        assert invite["from"].bare == room
        assert invite.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}invite").get("from", "").startswith(local("alice"))

        await rita.join(room, "Rita")
        await alice.admin_set(room, nick="Rita", role="none", reason="cool down")
        kicked = await rita.inbox.next(is_presence_from(f"{room}/Rita", unavailable=True))
        assert {"307", "110"} <= codes(kicked)

        await rita.join(room, "Rita")
        await alice.admin_set(room, jid=remote("rita"), affiliation="outcast")
        banned = await rita.inbox.next(is_presence_from(f"{room}/Rita", unavailable=True))
        assert "301" in codes(banned)
        refused = await rita.join(room, "Rita", expect_error=True)
        assert error_of(refused)[0] == "forbidden"
        assert {"jid": remote("rita"), "affiliation": "outcast"}.items() <= \
            (await alice.admin_get(room, affiliation="outcast"))[0].items()


async def test_local_creation_policy_refuses_remote_users(federation, switchboard):
    await switchboard({ROOMS: {"muc": {"creation": "local", "local_domain": LOCAL, "lock_new_rooms": False}}})
    async with federation.remote_client("rita", CLIENT_PLUGINS) as r, \
            federation.local_client("alice", CLIENT_PLUGINS) as a:
        refused = await Member(r).join(new_room(), "Rita", expect_error=True)
        assert error_of(refused) == ("not-allowed", "cancel")
        room = new_room()
        assert "201" in codes(await Member(a).join(room, "Alice"))
        # The remote user may still join a room a local user created.
        await Member(r).join(room, "Rita")
