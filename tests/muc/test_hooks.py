"""The contract with other plugins (plugins/muc/hooks.py), seen from a real client."""

from __future__ import annotations

import time
from xml.etree.ElementTree import Element, SubElement

import pytest

from component.errors import StanzaError
from plugins.muc import hooks

from .. import harness
from .helpers import DOMAIN, Member, client, error_of, is_body, is_presence_from, item, room_jid, start

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
    app = await start(component, {"default_archiving": "persistent"})  # a temporary room without archive
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


async def test_handler_bug_and_config_extension_points(component, prosody):
    app = await start(component)
    bus = app.services[DOMAIN].hooks
    room = room_jid("extensions")
    submitted: list[hooks.ConfigSubmitEvent] = []

    def broken(event: hooks.GroupchatMessage):
        if event.stanza.find("{jabber:client}body").text == "crash":
            raise RuntimeError("a bug in some plugin")

    def add_field(event: hooks.ConfigFormEvent):
        event.form.add_field(var="x-example#window", ftype="text-single", label="Window", value="60")

    def read_field(event: hooks.ConfigSubmitEvent):
        if event.values.get("x-example#window") == "never":
            raise StanzaError("not-acceptable", "the window must be a number")
        submitted.append(event)

    bus.on(hooks.MESSAGE, broken)
    bus.on(hooks.CONFIG_FORM, add_field)
    bus.on(hooks.CONFIG_SUBMITTED, read_field)
    async with client(prosody, "alice") as a:
        alice = Member(a)
        await alice.create(room, "Alice")
        alice.say(room, "crash", id="c1")
        error = await alice.inbox.next(lambda s: s["type"] == "error" and s["id"] == "c1")
        assert error_of(error) == ("internal-server-error", "wait")
        await alice.inbox.quiet(is_body("crash"), 0.3)

        form = await alice.muc.get_room_config(room)
        assert form.get_fields()["x-example#window"]["value"] == "60"
        form = a.plugin["xep_0004"].make_form(ftype="submit")
        form.add_field(var="muc#roomconfig_roomname", value="never applied")
        form.add_field(var="x-example#window", value="never")
        assert await alice.expect_iq_error(alice.muc.set_room_config(room, form)) == ("not-acceptable", "modify")
        assert bus.service(hooks.SERVICE).room_config(room)["muc#roomconfig_roomname"] == ""
        form = a.plugin["xep_0004"].make_form(ftype="submit")
        form.add_field(var="x-example#window", value="30")
        await alice.muc.set_room_config(room, form)
        assert submitted[-1].values["x-example#window"] == "30" and submitted[-1].room == room


async def test_administration_methods(component, prosody):
    app = await start(component)
    bus = app.services[DOMAIN].hooks
    muc = bus.service(hooks.SERVICE)
    created: list[hooks.RoomEvent] = []
    bus.on(hooks.ROOM_CREATED, created.append)
    room = room_jid("managed")
    await muc.create_room(room, owner="carol@localhost", actor="admin@localhost",
                          config={"muc#roomconfig_roomname": "Managed", "muc#roomconfig_persistentroom": True,
                                  "muc#roomconfig_membersonly": True})
    assert created[-1].room == room and created[-1].config["muc#roomconfig_membersonly"] is True
    with pytest.raises(StanzaError) as err:
        await muc.create_room(room, owner="carol@localhost")
    assert err.value.condition == "conflict"
    assert muc.rooms_owned_by("carol@localhost") == [room]
    await muc.set_affiliation(room, "bob@localhost", "member", actor="admin@localhost", reason="added")
    assert muc.affiliations(room) == {"carol@localhost": "owner", "bob@localhost": "member"}
    with pytest.raises(StanzaError) as err:
        await muc.set_affiliation(room, "carol@localhost", "none")
    assert err.value.condition == "conflict", "the last owner stays"
    async with client(prosody, "bob") as b, client(prosody, "dave") as d:
        bob = Member(b)
        own = await bob.join(room, "Bob")
        assert item(own)["affiliation"] == "member"
        assert error_of(await Member(d).join(room, "Dave", expect_error=True)) == ("registration-required", "auth")
        await muc.destroy_room(room, reason="closed by the administrator", actor="admin@localhost")
        gone = await bob.inbox.next(lambda s: s["type"] == "unavailable")
        assert gone.xml.find("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}destroy"
                             ) is not None
    assert not muc.room_exists(room)
