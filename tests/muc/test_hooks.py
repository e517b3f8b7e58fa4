"""The contract with other plugins (plugins/muc/hooks.py), seen from a real client."""

from __future__ import annotations

import time
from xml.etree.ElementTree import Element, SubElement

import pytest

from component.errors import StanzaError
from plugins.muc import hooks

from .. import harness
from .helpers import DOMAIN, client, is_presence_from, room_jid, start

pytestmark = pytest.mark.integration

SID = "urn:xmpp:sid:0"


async def open_room(owner, inbox, room: str, nick: str, **fields: object) -> None:
    owner.plugin["xep_0045"].join_muc(room, nick)
    await inbox.next(is_presence_from(f"{room}/{nick}"))
    form = owner.plugin["xep_0004"].make_form(ftype="submit")
    for var, value in fields.items():
        form.add_field(var=f"muc#roomconfig_{var}", value=value)
    await owner.plugin["xep_0045"].set_room_config(room, form)


async def test_message_hook_refuses_swallows_and_archives_before_broadcast(component, prosody):
    app = await start(component)
    bus = app.services[DOMAIN].hooks
    room = room_jid("hooks")
    seen: list[hooks.GroupchatMessage] = []
    broadcast: list[str] = []

    async def on_message(event: hooks.GroupchatMessage):
        seen.append(event)
        body = event.stanza.find("{jabber:client}body")
        if body is not None and body.text == "refuse me":
            raise StanzaError("not-acceptable", "refused by a test handler")
        if body is not None and body.text == "swallow me":
            return True
        return None

    bus.on(hooks.MESSAGE, on_message)
    bus.on(hooks.BROADCAST, lambda event: broadcast.append(event.stanza_id))
    async with client(prosody, "alice") as alice, client(prosody, "bob") as bob:
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        bob_in = harness.Inbox(bob, kinds=("message", "presence"))
        await open_room(alice, alice_in, room, "Alice")
        bob.plugin["xep_0045"].join_muc(room, "Bob")
        await bob_in.next(is_presence_from(f"{room}/Bob"))

        refused = bob.make_message(mto=room, mbody="refuse me", mtype="groupchat")
        refused["id"] = "r1"
        refused.send()
        error = await bob_in.next(lambda s: s["type"] == "error" and s["id"] == "r1")
        assert error["error"]["condition"] == "not-acceptable"
        assert error["error"]["type"] == "modify"

        bob.send_message(mto=room, mbody="swallow me", mtype="groupchat")
        bob.send_message(mto=room, mbody="fine", mtype="groupchat")
        got = await alice_in.next(lambda s: s["type"] == "groupchat" and s["body"])
        assert got["body"] == "fine", "refused and swallowed messages are never broadcast"
        await bob_in.next(lambda s: s["type"] == "groupchat" and s["body"] == "fine")
        await alice_in.quiet(lambda s: s["type"] == "groupchat" and s["body"] in ("refuse me", "swallow me"), 0.3)

        event = seen[-1]
        assert event.room == room and event.nick == "Bob" and event.real_jid.startswith("bob@localhost/")
        assert event.archive is False, "a temporary room is not archived by default"
        assert event.stanza.get("from") == f"{room}/Bob" and event.stanza.get("to") is None
        stamped = event.stanza.find(f"{{{SID}}}stanza-id")
        assert stamped.get("id") == event.stanza_id == got.xml.find(f"{{{SID}}}stanza-id").get("id")
        assert broadcast == [event.stanza_id]

        # The public service: a message from the room itself goes through the same path.
        muc = bus.service(hooks.SERVICE)
        assert muc.room_exists(room) and room in list(muc.rooms())
        notice = Element("{urn:example:notice}notice")
        SubElement(notice, "{urn:example:notice}text").text = "from the room"
        stanza_id = await muc.broadcast_from_room(room, [notice])
        from_room = await bob_in.next(lambda s: s.xml.find("{urn:example:notice}notice") is not None)
        assert from_room["from"].full == room
        assert from_room.xml.find(f"{{{SID}}}stanza-id").get("id") == stanza_id == seen[-1].stanza_id
        assert seen[-1].nick == "" and seen[-1].real_jid == ""

        views = {v.nick: v for v in muc.occupants(room)}
        assert views["Alice"].affiliation == "owner" and views["Alice"].role == "moderator"
        assert views["Bob"].role == "participant"
        assert muc.occupant(room, views["Bob"].real_jid).nick == "Bob"
        assert muc.occupant_id(room, "bob@localhost") == views["Bob"].occupant_id
        assert muc.affiliation(room, "alice@localhost") == "owner"
        assert muc.can_see_real_jids(room, "alice@localhost")
        assert not muc.can_see_real_jids(room, "bob@localhost")
        assert muc.can_read_history(room, "carol@localhost")


async def test_history_from_hook_and_fallback_and_disco_features(component, prosody):
    app = await start(component)
    bus = app.services[DOMAIN].hooks
    room = room_jid("history")
    requests: list[hooks.HistoryRequest] = []
    answer: list[hooks.HistoryItem] | None = None

    def on_history(request: hooks.HistoryRequest):
        requests.append(request)
        return answer

    bus.on(hooks.GET_HISTORY, on_history)
    bus.on(hooks.DISCO_FEATURES, lambda jid: ["urn:example:extra"] if jid == room else [])
    async with client(prosody, "alice") as alice:
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        await open_room(alice, alice_in, room, "Alice", persistentroom=True)
        for n in range(3):
            alice.send_message(mto=room, mbody=f"m{n}", mtype="groupchat")
            await alice_in.next(lambda s, n=n: s["body"] == f"m{n}")
        info = await alice.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert "urn:example:extra" in info["disco_info"]["features"]

    # Nobody answers the hook: the in-memory history serves, limited by maxstanzas.
    async with client(prosody, "bob") as bob:
        bob_in = harness.Inbox(bob, kinds=("message", "presence"))
        bob.plugin["xep_0045"].join_muc(room, "Bob", maxhistory="2")
        await bob_in.next(is_presence_from(f"{room}/Bob"))
        first = await bob_in.next(lambda s: s["body"])
        second = await bob_in.next(lambda s: s["body"])
        assert [first["body"], second["body"]] == ["m1", "m2"]
        assert first.xml.find("{urn:xmpp:delay}delay") is not None
        await bob_in.next(lambda s: s.xml.find("{jabber:client}subject") is not None)
        assert requests[-1].maxstanzas == 2 and requests[-1].room == room

    # The archive answers: its items are what the joining client gets.
    stored = Element("{jabber:client}message", {"from": f"{room}/Ghost", "type": "groupchat"})
    SubElement(stored, "{jabber:client}body").text = "from the archive"
    answer = [hooks.HistoryItem(stored, time.time() - 60)]
    async with client(prosody, "carol") as carol:
        carol_in = harness.Inbox(carol, kinds=("message", "presence"))
        carol.plugin["xep_0045"].join_muc(room, "Carol", maxhistory="5")
        await carol_in.next(is_presence_from(f"{room}/Carol"))
        got = await carol_in.next(lambda s: s["body"])
        assert got["body"] == "from the archive" and got["from"].full == f"{room}/Ghost"
        assert requests[-1].maxstanzas == 5 and requests[-1].default_max == 20
