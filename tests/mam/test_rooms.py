"""Room archives end to end: MUC + MAM on rooms.localhost with slixmpp's and aioxmpp's clients."""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from component.ids import new_id
from plugins.mam.hooks import ArchiveRecord

from .. import harness
from . import aiox
from .test_protocol import expect_error, raw_query, rsm

pytestmark = pytest.mark.integration

DOMAIN = "rooms.localhost"
HOST = harness.HOST
SID = "urn:xmpp:sid:0"
MUC_USER = "http://jabber.org/protocol/muc#user"
MUC_OPTIONS = {"lock_new_rooms": False, "default_archiving": "on"}
FORM = ("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        "<value>urn:xmpp:mam:2</value></field>{}</x>")


async def start(component, muc=None, mam=None):  # type: ignore[no-untyped-def]
    app = await component({DOMAIN: {"muc": {**MUC_OPTIONS, **(muc or {})}, "mam": mam or {}}})
    return app, app.services[DOMAIN]


def clients(prosody, *users: str):  # type: ignore[no-untyped-def]
    stack = contextlib.AsyncExitStack()

    async def enter():  # type: ignore[no-untyped-def]
        found = []
        for user in users:
            found.append(await stack.enter_async_context(
                harness.slix_client(prosody.ports.c2s, user, plugins=("xep_0045", "xep_0313"))))
        return found
    return stack, enter


async def join(client, inbox, room: str, nick: str) -> None:  # type: ignore[no-untyped-def]
    client.plugin["xep_0045"].join_muc(room, nick)
    await inbox.next(lambda s: s.xml.tag.endswith("presence") and s["from"].full == f"{room}/{nick}"
                     and s["type"] != "error")


def groupchat_with(body: str):  # type: ignore[no-untyped-def]
    return lambda s: s.xml.tag.endswith("message") and s["type"] == "groupchat" and s["body"] == body


def forwarded_message(result: ET.Element) -> ET.Element:
    return result.find("{urn:xmpp:mam:2}result/{urn:xmpp:forward:0}forwarded/{jabber:client}message")


async def talk(senders, inbox, room: str,  # type: ignore[no-untyped-def]
               per_sender: int) -> list[tuple[str, str, str]]:
    """Each (client, nick) sends ``per_sender`` messages; returns (nick, body, stanza-id) in room order."""
    said = []
    for client, nick in senders:
        for i in range(per_sender):
            client.send_message(mto=room, mbody=f"{nick} says {i}", mtype="groupchat")
        # Per sender the order is kept; waiting for the last echo orders the senders.
        last = await inbox.next(groupchat_with(f"{nick} says {per_sender - 1}"))
        inbox.items.append(last)  # nothing arrives after it before the next sender starts
    for stanza in inbox.items:
        if stanza.xml.tag.endswith("message") and stanza["type"] == "groupchat" and stanza["body"]:
            sid = stanza.xml.find(f"{{{SID}}}stanza-id")
            said.append((stanza["from"].resource, stanza["body"], sid.get("id")))
    inbox.items.clear()
    return said


async def test_scroll_through_a_room_with_slixmpp_and_aioxmpp(component, prosody):
    _, service = await start(component)
    room = f"hall@{DOMAIN}"
    stack, enter = clients(prosody, "alice", "bob", "carol", "dave", "eve")
    async with stack:
        alice, bob, carol, dave, eve = await enter()
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        for client, nick in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol"), (dave, "Dave")):
            await join(client, alice_in if client is alice else harness.Inbox(client, ("presence",)), room, nick)
        alice_in.items.clear()
        said = await talk([(alice, "Alice"), (bob, "Bob"), (carol, "Carol"), (dave, "Dave")], alice_in, room, 26)
        assert len(said) == 104
        bodies = [body for _, body, _ in said]
        ids = [sid for _, _, sid in said]

        # Eve never joined this open room: she may read it, without real JIDs.
        mam = eve.plugin["xep_0313"]
        forward = [m async for m in mam.iterate(jid=room, rsm={"max": 20})]
        assert [m["mam_result"]["forwarded"]["stanza"]["body"] for m in forward] == bodies
        assert [m["mam_result"]["id"] for m in forward] == ids
        first = forward[0]
        assert first["from"].full == room
        inner = first["mam_result"]["forwarded"]["stanza"]
        assert inner["from"].full == f"{room}/Alice" and not inner["to"]
        assert inner.xml.find(f"{{{MUC_USER}}}x") is None
        assert inner.xml.find(f"{{{SID}}}stanza-id").get("id") == ids[0]
        backward = [m["mam_result"]["forwarded"]["stanza"]["body"]
                    async for m in mam.iterate(jid=room, reverse=True, rsm={"max": 30})]
        assert backward == list(reversed(bodies))

        # Page by page with exact flags and counts.
        page = await mam.retrieve(jid=room, rsm={"max": 50}, timeout=10)
        fin = page["mam_fin"]
        assert (fin["rsm"]["count"], fin["rsm"]["first_index"], fin.xml.get("complete")) == ("104", "0", None)
        page = await mam.retrieve(jid=room, rsm={"max": 50, "after": ids[99]}, timeout=10)
        assert [m["mam_result"]["id"] for m in page["mam"]["results"]] == ids[100:]
        assert page["mam_fin"].xml.get("complete") == "true"
        assert page["mam_fin"]["rsm"]["first_index"] == "100"

        # The same room through aioxmpp, backwards by 30.
        async with aiox.client(prosody.ports.c2s, "eve") as eve_aio:
            client = aiox.MamClient(eve_aio)
            older: list[str] = []
            before = ""
            pages = 0
            while True:
                got = await client.query(room, max_=30, before=before)
                pages += 1
                assert got.fin.rsm.count == 104
                older = got.bodies + older
                if got.fin.complete:
                    break
                before = got.fin.rsm.first.value
            assert older == bodies and pages == 4
            by_bob = await client.query(room, fields={"with": [f"{room}/Bob"]}, max_=100)
            assert by_bob.bodies == [b for n, b, _ in said if n == "Bob"] and by_bob.fin.complete
            meta = await client.metadata(room)
            assert (meta.start.id_, meta.end.id_) == (ids[0], ids[-1])

        # Moderators see real JIDs, and may filter by them.
        inbox = harness.Inbox(alice)
        results, fin = await raw_query(alice, room, FORM.format(
            f"<field var='with'><value>bob@{HOST}</value></field>"), inbox)
        assert [forwarded_message(m).findtext("{jabber:client}body") for m in results] == \
            [b for n, b, _ in said if n == "Bob"]
        items = [forwarded_message(m).find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}item") for m in results]
        assert {item.get("jid") for item in items} == {f"bob@{HOST}"}
        results, _ = await raw_query(eve, room, FORM.format(f"<field var='with'><value>bob@{HOST}</value></field>"),
                                     harness.Inbox(eve))
        assert results == []  # a real JID is no filter for who may not see it

        # Disco: the room and the service advertise MAM.
        info = await eve.plugin["xep_0030"].get_info(jid=room, timeout=10)
        assert {"urn:xmpp:mam:2", "urn:xmpp:mam:2#extended"} <= set(info["disco_info"]["features"])
        info = await eve.plugin["xep_0030"].get_info(jid=DOMAIN, timeout=10)
        assert {"urn:xmpp:mam:2", "urn:xmpp:mam:2#extended"} <= set(info["disco_info"]["features"])
        assert await service.hooks.service("archive").count(room) == 104


async def test_who_may_read_a_room_archive(component, prosody):
    await start(component)
    room = f"club@{DOMAIN}"
    stack, enter = clients(prosody, "alice", "bob", "carol", "eve")
    async with stack:
        alice, bob, carol, eve = await enter()
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        await join(alice, alice_in, room, "Alice")
        muc = alice.plugin["xep_0045"]
        submit = alice.plugin["xep_0004"].make_form(ftype="submit")
        submit.add_field(var="muc#roomconfig_membersonly", value=True)
        await muc.set_room_config(room, submit)
        await muc.set_affiliation(room, "member", jid=f"bob@{HOST}")
        await muc.set_affiliation(room, "outcast", jid=f"carol@{HOST}")
        alice.send_message(mto=room, mbody="members only", mtype="groupchat")
        await alice_in.next(groupchat_with("members only"))

        results, fin = await raw_query(bob, room, "", harness.Inbox(bob))
        assert [forwarded_message(m).findtext("{jabber:client}body") for m in results] == ["members only"]
        text = await expect_error(raw_query(eve, room), "forbidden", "auth")
        assert "member" in text
        await expect_error(eve.plugin["xep_0313"].get_archive_metadata(jid=room, timeout=10), "forbidden", "auth")
        text = await expect_error(raw_query(carol, room), "forbidden", "auth")
        assert "banned" in text
        # Unknown rooms, unknown ids, bad forms.
        await expect_error(raw_query(bob, f"nowhere@{DOMAIN}"), "item-not-found", "cancel")
        await expect_error(raw_query(bob, room, "<set xmlns='http://jabber.org/protocol/rsm'>"
                                                f"<before>{new_id()}</before></set>"), "item-not-found", "cancel")
        await expect_error(raw_query(bob, room, FORM.format(f"<field var='ids'><value>{new_id()}</value></field>")),
                           "item-not-found", "cancel")
        await expect_error(raw_query(bob, room, FORM.format("<field var='fulltext'><value>x</value></field>")),
                           "feature-not-implemented", "cancel")
        await expect_error(raw_query(bob, room, FORM.format("<field var='end'><value>tomorrow</value></field>")),
                           "bad-request", "modify")
        # A MAM query to an occupant JID is no archive query (the room relays or refuses it).
        with pytest.raises(IqError):
            await raw_query(bob, f"{room}/Alice")


async def test_stored_before_broadcast_and_refused_when_storage_fails(component, prosody):
    app, service = await start(component)
    archive = service.hooks.service("archive")
    room = f"safe@{DOMAIN}"
    seen_in_archive: list[bool] = []

    async def check_archived_first(event):  # type: ignore[no-untyped-def]
        # Runs after the archive's handler and before MUC broadcasts.
        seen_in_archive.append(await archive.get(event.room, event.stanza_id) is not None)

    service.hooks.on("muc.message", check_archived_first, priority=-10)
    stack, enter = clients(prosody, "alice", "bob")
    async with stack:
        alice, bob = await enter()
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        bob_in = harness.Inbox(bob, kinds=("message", "presence"))
        await join(alice, alice_in, room, "Alice")
        await join(bob, bob_in, room, "Bob")
        bob.send_message(mto=room, mbody="kept", mtype="groupchat")
        await alice_in.next(groupchat_with("kept"))
        assert seen_in_archive == [True]

        async with app.db.engine.begin() as conn:
            await conn.exec_driver_sql("DROP TABLE mam_messages")
        message = bob.make_message(mto=room, mbody="lost", mtype="groupchat")
        message["id"] = "lost-1"
        message.send()
        error = await bob_in.next(lambda s: s.xml.tag.endswith("message") and s["type"] == "error")
        assert error["id"] == "lost-1"
        assert error["error"]["condition"] in ("internal-server-error", "resource-constraint")
        assert error["error"]["type"] == "wait"
        assert "archived" in error["error"]["text"]
        await alice_in.quiet(groupchat_with("lost"), wait=1.0)
        await bob_in.quiet(groupchat_with("lost"), wait=0.1)
        assert seen_in_archive == [True]  # nothing ran past the failed store


async def test_history_on_join_comes_from_the_archive(component, prosody):
    _, service = await start(component, muc={"history_length": 5})
    archive = service.hooks.service("archive")
    room = f"memory@{DOMAIN}"
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=("xep_0045",)) as alice:
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        await join(alice, alice_in, room, "Alice")
        # A message only the archive knows (as if said before a restart): MUC's memory lacks it.
        old = ET.Element("{jabber:client}message", {"from": f"{room}/Ghost", "type": "groupchat"})
        ET.SubElement(old, "{jabber:client}body").text = "only in the archive"
        await archive.store(ArchiveRecord(room, new_id(time.time() - 60), time.time() - 60, old,
                                          with_jid=f"{room}/Ghost"))
        for i in range(8):
            alice.send_message(mto=room, mbody=f"said {i}", mtype="groupchat")
        await alice_in.next(groupchat_with("said 7"))
        async with harness.slix_client(prosody.ports.c2s, "bob", plugins=("xep_0045",)) as bob:
            bob_in = harness.Inbox(bob, kinds=("message", "presence"))
            bob.plugin["xep_0045"].join_muc(room, "Bob", maxhistory="3")
            history = [await bob_in.next(lambda s: s.xml.tag.endswith("message") and bool(s["body"]))
                       for _ in range(3)]
            assert [m["body"] for m in history] == ["said 5", "said 6", "said 7"]
            assert all(m.xml.find("{urn:xmpp:delay}delay") is not None for m in history)
            assert all(m["from"].full == f"{room}/Alice" for m in history)
        async with harness.slix_client(prosody.ports.c2s, "carol", plugins=("xep_0045",)) as carol:
            carol_in = harness.Inbox(carol, kinds=("message", "presence"))
            carol.plugin["xep_0045"].join_muc(room, "Carol", maxhistory="20")
            history = [await carol_in.next(lambda s: s.xml.tag.endswith("message") and bool(s["body"]))
                       for _ in range(9)]
            assert [m["body"] for m in history] == ["only in the archive"] + [f"said {i}" for i in range(8)]
            assert history[0]["from"].full == f"{room}/Ghost"


async def test_what_is_not_archived(component, prosody):
    _, service = await start(component, muc={"default_archiving": "off"})
    archive = service.hooks.service("archive")
    quiet_room = f"quiet@{DOMAIN}"
    stack, enter = clients(prosody, "alice", "bob")
    async with stack:
        alice, bob = await enter()
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        bob_in = harness.Inbox(bob, kinds=("message", "presence"))
        await join(alice, alice_in, quiet_room, "Alice")
        alice.send_message(mto=quiet_room, mbody="not kept", mtype="groupchat")
        await alice_in.next(groupchat_with("not kept"))
        assert await archive.count(quiet_room) == 0
        info = await bob.plugin["xep_0030"].get_info(jid=quiet_room, timeout=10)
        assert "urn:xmpp:mam:2" not in info["disco_info"]["features"]
        # Turn archiving on: chat states and private messages still stay out.
        muc = alice.plugin["xep_0045"]
        submit = alice.plugin["xep_0004"].make_form(ftype="submit")
        submit.add_field(var="muc#roomconfig_enablearchiving", value=True)
        await muc.set_room_config(quiet_room, submit)
        await join(bob, bob_in, quiet_room, "Bob")
        state = alice.make_message(mto=quiet_room, mtype="groupchat")
        state.xml.append(ET.Element("{http://jabber.org/protocol/chatstates}composing"))
        state.send()
        alice.send_message(mto=f"{quiet_room}/Bob", mbody="just for you", mtype="chat")
        await bob_in.next(lambda s: s["body"] == "just for you")
        alice.send_message(mto=quiet_room, mbody="kept now", mtype="groupchat")
        await bob_in.next(groupchat_with("kept now"))
        await asyncio.sleep(0.1)
        results, _ = await raw_query(bob, quiet_room, "", harness.Inbox(bob))
        assert [forwarded_message(m).findtext("{jabber:client}body") for m in results] == ["kept now"]
        assert len(results[0]) == 1 and forwarded_message(results[0]).get("type") == "groupchat"


async def test_tombstones_and_room_destruction(component, prosody):
    _, service = await start(component)
    archive = service.hooks.service("archive")
    room = f"gone@{DOMAIN}"
    stack, enter = clients(prosody, "alice", "bob")
    async with stack:
        alice, bob = await enter()
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        await join(alice, alice_in, room, "Alice")
        alice.send_message(mto=room, mbody="oops secret", mtype="groupchat")
        sent = await alice_in.next(groupchat_with("oops secret"))
        sid = sent.xml.find(f"{{{SID}}}stanza-id").get("id")
        tomb = ET.Element("{urn:xmpp:message-retract:1}retracted", {"id": "r1", "stamp": "2024-01-01T00:00:00Z"})
        done = await service.hooks.fire("recall.retracted", SimpleNamespace(archive=room, stanza_id=sid,
                                                                            tombstone=tomb))
        assert done is True
        assert await service.hooks.fire("recall.retracted", SimpleNamespace(
            archive=room, stanza_id=new_id(), tombstone=tomb)) is None
        results, fin = await raw_query(bob, room, "", harness.Inbox(bob))
        message = forwarded_message(results[0])
        assert message.find("{jabber:client}body") is None
        assert message.find("{urn:xmpp:message-retract:1}retracted").get("id") == "r1"
        assert message.get("from") == f"{room}/Alice" and rsm(fin, "first").text == sid
        await alice.plugin["xep_0045"].destroy(room)
        for _ in range(50):
            if await archive.count(room) == 0:
                break
            await asyncio.sleep(0.05)
        assert await archive.count(room) == 0 and (await archive.bounds(room)) == (None, None)


async def test_history_and_queries_survive_a_restart(component, prosody):
    app, _ = await start(component, muc={"history_length": 5})
    room = f"lasting@{DOMAIN}"
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=("xep_0045",)) as alice:
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        await join(alice, alice_in, room, "Alice")
        submit = alice.plugin["xep_0004"].make_form(ftype="submit")
        submit.add_field(var="muc#roomconfig_persistentroom", value=True)
        await alice.plugin["xep_0045"].set_room_config(room, submit)
        for i in range(8):
            alice.send_message(mto=room, mbody=f"before restart {i}", mtype="groupchat")
        await alice_in.next(groupchat_with("before restart 7"))
    await app.stop()
    await start(component, muc={"history_length": 5})
    async with harness.slix_client(prosody.ports.c2s, "bob", plugins=("xep_0045", "xep_0313")) as bob:
        bob_in = harness.Inbox(bob, kinds=("message", "presence"))
        bob.plugin["xep_0045"].join_muc(room, "Bob", maxhistory="3")
        # MUC's memory is empty after the restart: this history can only come from the archive.
        history = [await bob_in.next(lambda s: s.xml.tag.endswith("message") and bool(s["body"]))
                   for _ in range(3)]
        assert [m["body"] for m in history] == [f"before restart {i}" for i in (5, 6, 7)]
        assert all(m.xml.find("{urn:xmpp:delay}delay") is not None for m in history)
        bodies = [m["mam_result"]["forwarded"]["stanza"]["body"]
                  async for m in bob.plugin["xep_0313"].iterate(jid=room, rsm={"max": 3})]
        assert bodies == [f"before restart {i}" for i in range(8)]


async def test_owners_choose_a_shorter_retention(component, prosody):
    _, service = await start(component, mam={"retention_days": 30, "retention_interval": 0})
    archive = service.hooks.service("archive")
    room = f"brief@{DOMAIN}"
    field = "urn:switchboard:mam:0#retention"
    async with harness.slix_client(prosody.ports.c2s, "alice", plugins=("xep_0045",)) as alice:
        alice_in = harness.Inbox(alice, kinds=("message", "presence"))
        await join(alice, alice_in, room, "Alice")
        muc = alice.plugin["xep_0045"]
        form = await muc.get_room_config(room)
        offered = form["fields"][field] if isinstance(form["fields"], dict) else \
            next(f for f in form["fields"] if f["var"] == field)
        values = [o["value"] for o in offered["options"]]
        assert values == ["default", "1", "7", "30"]  # never longer than the service's 30 days
        assert offered["value"] == "default"
        too_long = alice.plugin["xep_0004"].make_form(ftype="submit")
        too_long.add_field(var=field, value="365")
        with pytest.raises(IqError) as err:
            await muc.set_room_config(room, too_long)
        assert err.value.condition == "not-acceptable" and "30 days" in err.value.text
        assert await archive.policy(room) == (30, 0)
        week = alice.plugin["xep_0004"].make_form(ftype="submit")
        week.add_field(var=field, value="7")
        await muc.set_room_config(room, week)
        assert await archive.policy(room) == (7, 0)
        form = await muc.get_room_config(room)
        assert any(f["var"] == field and f["value"] == "7" for f in
                   (form["fields"].values() if isinstance(form["fields"], dict) else form["fields"]))
        # Applied by the retention run: a 10-day-old message goes, today's stays.
        old = ET.Element("{jabber:client}message", {"from": f"{room}/Alice", "type": "groupchat"})
        ET.SubElement(old, "{jabber:client}body").text = "ten days ago"
        then = time.time() - 10 * 86400
        await archive.store(ArchiveRecord(room, new_id(then), then, old, with_jid=f"{room}/Alice"))
        alice.send_message(mto=room, mbody="today", mtype="groupchat")
        await alice_in.next(groupchat_with("today"))
        assert await archive.count(room) == 2
        assert await archive.apply_retention() == 1
        assert await archive.count(room) == 1


@pytest.mark.parametrize("delete_with_room", [True, False])
async def test_a_temporary_room_takes_its_archive_along_unless_configured(component, prosody, delete_with_room):
    _, service = await start(component, muc={"default_archiving": "on"}, mam={"delete_with_room": delete_with_room})
    archive = service.hooks.service("archive")
    room = f"temp-{str(delete_with_room).lower()}@{DOMAIN}"
    stack, enter = clients(prosody, "alice")
    async with stack:
        [alice] = await enter()
        inbox = harness.Inbox(alice, kinds=("message", "presence"))
        await join(alice, inbox, room, "Alice")
        alice.send_message(mto=room, mbody="said once", mtype="groupchat")
        await inbox.next(groupchat_with("said once"))
        assert await archive.count(room) == 1
        alice.send_presence(pto=f"{room}/Alice", ptype="unavailable")
        await inbox.next(lambda s: s.xml.tag.endswith("presence") and s["type"] == "unavailable")
        muc = service.hooks.service("muc")
        await harness.until(lambda: not muc.room_exists(room), what="the temporary room goes away")
        expected = 0 if delete_with_room else 1
        for _ in range(100):  # the archive is deleted by the room's destroyed event, just after
            if await archive.count(room) == expected:
                break
            await asyncio.sleep(0.02)
        assert await archive.count(room) == expected
