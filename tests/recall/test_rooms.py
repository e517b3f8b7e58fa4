"""Retraction and moderation in rooms, end to end: real Prosody, MUC + MAM + recall, standard clients.

Clients use slixmpp's own XEP-0424 / XEP-0425 / XEP-0313 plugins; the older
XEP-0422 forms are sent as raw stanzas, the way older clients send them.
"""

from __future__ import annotations

import asyncio
import uuid
from xml.etree.ElementTree import fromstring

import pytest
from slixmpp import JID
from slixmpp.exceptions import IqError

from component.forms import new_form

from .. import harness
from .roomkit import (CLIENT_PLUGINS, DOMAIN, NS_RETRACT, database_file, database_trace, history_of,
                      mam_messages, member, new_room, retract_of, services, sql_trace, stanza_id)

pytestmark = pytest.mark.integration

NS_MODERATE = "urn:xmpp:message-moderate:1"
NS_OCCUPANT = "urn:xmpp:occupant-id:0"


def marker(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


def recall_of(app):
    return app.services[DOMAIN].plugins["recall"].recall


async def test_self_retraction_reaches_everyone_and_leaves_only_a_tombstone(component, prosody):
    app = await component(services(window_seconds=120))
    room = new_room()
    port = prosody.ports.c2s
    typo = marker("TYPO")
    async with member(port, "carol", room) as carol, member(port, "alice", room) as alice, \
            member(port, "bob", room) as bob:
        _, sid = await alice.say(f"I hate {typo}")
        await bob.groupchat(lambda m: typo in m["body"])
        retraction = alice.client.plugin["xep_0424"].send_retraction(JID(room), sid, mtype="groupchat")
        for someone in (bob, carol, alice):
            notice = await someone.groupchat(lambda m: retract_of(m) is not None)
            assert retract_of(notice).get("id") == sid
            assert notice["from"] == JID(f"{room}/alice")
            assert notice["id"] == retraction["id"]
        # MAM: the original is a tombstone, the retraction is archived too.
        archived = dict(await mam_messages(bob.client, room))
        tomb = archived[sid]
        assert typo not in "".join(tomb.itertext()) and tomb.find("{jabber:client}body") is None
        retracted = tomb.find(f"{{{NS_RETRACT}}}retracted")
        assert retracted is not None and retracted.get("id") == retraction["id"] and retracted.get("stamp")
        assert any(m.find(f"{{{NS_RETRACT}}}retract") is not None for m in archived.values())
        assert not any(typo in "".join(m.itertext()) for m in archived.values())
        # Someone joining later gets the tombstone in history, never the text.
        async with member(port, "eve", room, maxstanzas=50) as eve:
            history = history_of(eve)
        assert len(history) == 2, history
        assert not any(typo in str(m) for m in history)
        assert history[0].xml.find(f"{{{NS_RETRACT}}}retracted").get("id") == retraction["id"]
        assert retract_of(history[1]).get("id") == sid
    entries = await recall_of(app).store.audit_entries(room)
    assert [(e.actor, e.author, e.moderated) for e in entries] == [("alice@localhost", "alice@localhost", False)]


async def test_legacy_fastening_retraction_by_origin_id(component, prosody):
    await component(services())
    room = new_room()
    port = prosody.ports.c2s
    text = marker("OLDCLIENT")
    async with member(port, "carol", room) as carol, member(port, "alice", room) as alice:
        _, sid = await alice.say(text, origin_id="origin-42")
        await carol.groupchat(lambda m: text in m["body"])
        mid = alice.send_raw_message(
            "<apply-to xmlns='urn:xmpp:fasten:0' id='origin-42'><retract xmlns='urn:xmpp:message-retract:0'/>"
            "</apply-to><fallback xmlns='urn:xmpp:fallback:0'/><body>retracted</body>")
        notice = await carol.groupchat(lambda m: m["id"] == mid)
        assert notice.xml.find("{urn:xmpp:fasten:0}apply-to").get("id") == "origin-42"
        archived = dict(await mam_messages(carol.client, room))
        assert archived[sid].find(f"{{{NS_RETRACT}}}retracted") is not None
        assert text not in "".join(archived[sid].itertext())


@pytest.mark.parametrize("case", ["someone_else", "unknown", "twice", "a_retraction", "forged_moderation"])
async def test_refused_retractions_change_nothing(component, prosody, case):
    await component(services())
    room = new_room()
    port = prosody.ports.c2s
    text = marker("KEEP")
    async with member(port, "carol", room) as carol, member(port, "alice", room) as alice, \
            member(port, "bob", room) as bob:
        _, sid = await alice.say(text)
        await bob.groupchat(lambda m: text in m["body"])
        await carol.groupchat(lambda m: text in m["body"])
        sender, target = bob, sid
        if case == "unknown":
            sender, target = alice, "01J0000000000000000000000X"
        elif case in ("twice", "a_retraction"):
            first = alice.send_raw_message(f"<retract xmlns='{NS_RETRACT}' id='{sid}'/>")
            reflected = await alice.groupchat(lambda m: m["id"] == first)
            await carol.groupchat(lambda m: m["id"] == first)
            await bob.groupchat(lambda m: m["id"] == first)
            sender = alice
            if case == "a_retraction":
                target = stanza_id(reflected, room)
        before = dict(await mam_messages(carol.client, room))
        for someone in (carol, alice, bob):
            someone.forget()
        if case == "forged_moderation":
            mid = bob.send_raw_message(
                f"<retract xmlns='{NS_RETRACT}' id='{sid}'><moderated xmlns='{NS_MODERATE}' by='{room}/carol'/>"
                "</retract>")
        else:
            mid = sender.send_raw_message(f"<retract xmlns='{NS_RETRACT}' id='{target}'/>")
        error = await sender.error(mid)
        expected = {"someone_else": ("forbidden", "auth"), "unknown": ("item-not-found", "cancel"),
                    "twice": ("not-allowed", "cancel"), "a_retraction": ("not-allowed", "cancel"),
                    "forged_moderation": ("forbidden", "auth")}[case]
        assert (error["error"]["condition"], error["error"]["type"]) == expected
        assert error["error"]["text"]
        for someone in (carol, alice, bob):
            await someone.quiet_groupchat(0.3)
        assert dict(await mam_messages(carol.client, room)).keys() == before.keys()
        if case != "twice" and case != "a_retraction":
            assert text in "".join(before[sid].itertext())
            assert text in "".join(dict(await mam_messages(carol.client, room))[sid].itertext())


async def test_window_applies_to_participants_not_to_owners(component, prosody):
    await component(services(window_seconds=1))
    room = new_room()
    port = prosody.ports.c2s
    async with member(port, "carol", room) as carol, member(port, "alice", room) as alice:
        _, alice_sid = await alice.say(marker("LATE"))
        _, carol_sid = await carol.say(marker("OWNER"))
        _, quick_sid = await alice.say(marker("QUICK"))
        quick = alice.send_raw_message(f"<retract xmlns='{NS_RETRACT}' id='{quick_sid}'/>")
        await carol.groupchat(lambda m: m["id"] == quick)
        await asyncio.sleep(1.2)
        late = alice.send_raw_message(f"<retract xmlns='{NS_RETRACT}' id='{alice_sid}'/>", lang="zh")
        error = await alice.error(late)
        assert (error["error"]["condition"], error["error"]["type"]) == ("not-allowed", "cancel")
        assert "1 秒" in error["error"]["text"]
        await carol.inbox.quiet(lambda m: m["id"] == late, 0.3)
        owner = carol.send_raw_message(f"<retract xmlns='{NS_RETRACT}' id='{carol_sid}'/>")
        notice = await alice.groupchat(lambda m: m["id"] == owner)
        assert retract_of(notice).get("id") == carol_sid


def window_form(value: str):
    form = new_form(form_type="submit", form_type_value="http://jabber.org/protocol/muc#roomconfig")
    form.add_field(var="urn:switchboard:recall:0#window", value=value)
    return form


async def test_room_setting_overrides_the_service_window(component, prosody):
    app = await component(services(window_seconds=1))
    room = new_room()
    port = prosody.ports.c2s
    async with member(port, "carol", room) as carol, member(port, "alice", room) as alice:
        muc = carol.client.plugin["xep_0045"]
        form = await muc.get_room_config(JID(room))
        field = form.get_fields()["urn:switchboard:recall:0#window"]
        assert field["type"] == "list-single" and field["value"] == "default"
        assert {"0", "120", "default"} <= {option["value"] for option in field["options"]}
        # A value that is not seconds refuses the whole form.
        with pytest.raises(IqError) as err:
            await muc.set_room_config(JID(room), window_form("soon"))
        assert (err.value.condition, err.value.etype) == ("not-acceptable", "modify")
        assert recall_of(app).window_for(room) == 1
        await muc.set_room_config(JID(room), window_form("0"))
        assert recall_of(app).window_for(room) is None
        _, sid = await alice.say(marker("SLOW"))
        await asyncio.sleep(1.2)
        mid = alice.send_raw_message(f"<retract xmlns='{NS_RETRACT}' id='{sid}'/>")
        await carol.groupchat(lambda m: m["id"] == mid)
        again = await muc.get_room_config(JID(room))
        assert again.get_fields()["urn:switchboard:recall:0#window"]["value"] == "0"
        # The setting goes with the room.
        await muc.destroy(JID(room), "done")
        assert recall_of(app).window_for(room) == 1
        assert await recall_of(app).store.room_windows() == {}


async def test_moderation_with_xep_0425(component, prosody):
    app = await component(services())
    room = new_room()
    port = prosody.ports.c2s
    spam = marker("SPAM")
    async with member(port, "carol", room, "mod") as carol, member(port, "alice", room) as alice, \
            member(port, "bob", room) as bob:
        _, sid = await bob.say(f"buy {spam}")
        await alice.groupchat(lambda m: spam in m["body"])
        await carol.client.plugin["xep_0425"].moderate(JID(room), sid, "spam", timeout=10)
        for someone in (alice, bob, carol):
            notice = await someone.groupchat(lambda m: retract_of(m) is not None)
            assert notice["from"] == JID(room)
            retract = retract_of(notice)
            assert retract.get("id") == sid
            moderated = retract.find(f"{{{NS_MODERATE}}}moderated")
            assert moderated.get("by") == f"{room}/mod"
            assert moderated.find(f"{{{NS_OCCUPANT}}}occupant-id").get("id")
            assert retract.findtext(f"{{{NS_RETRACT}}}reason") == "spam"
            assert notice.xml.find("{urn:xmpp:fasten:0}apply-to") is None  # asked in the current form
        archived = dict(await mam_messages(alice.client, room))
        tomb = archived[sid].find(f"{{{NS_RETRACT}}}retracted")
        assert tomb.find(f"{{{NS_MODERATE}}}moderated").get("by") == f"{room}/mod"
        assert tomb.findtext(f"{{{NS_RETRACT}}}reason") == "spam"
        assert not any(spam in "".join(m.itertext()) for m in archived.values())
    [entry] = await recall_of(app).store.audit_entries(room)
    assert (entry.actor, entry.author, entry.moderated, entry.reason) == (
        "carol@localhost", "bob@localhost", True, "spam")


async def test_legacy_moderation_is_answered_in_its_form(component, prosody):
    await component(services())
    room = new_room()
    port = prosody.ports.c2s
    spam = marker("OLDSPAM")
    async with member(port, "carol", room, "mod") as carol, member(port, "bob", room) as bob:
        _, sid = await bob.say(spam)
        iq = carol.client.make_iq_set(ito=room)
        iq.append(fromstring(
            f"<apply-to xmlns='urn:xmpp:fasten:0' id='{sid}'><moderate xmlns='urn:xmpp:message-moderate:0'>"
            "<retract xmlns='urn:xmpp:message-retract:0'/><reason>old client</reason></moderate></apply-to>"))
        await iq.send(timeout=10)
        notice = await bob.groupchat(lambda m: m.xml.find("{urn:xmpp:fasten:0}apply-to") is not None)
        apply_to = notice.xml.find("{urn:xmpp:fasten:0}apply-to")
        assert apply_to.get("id") == sid
        moderated = apply_to.find("{urn:xmpp:message-moderate:0}moderated")
        assert moderated.get("by") == f"{room}/mod"
        assert moderated.find("{urn:xmpp:message-retract:0}retract") is not None
        assert moderated.findtext("{urn:xmpp:message-moderate:0}reason") == "old client"
        # The current form rides along for occupants whose clients only know that one.
        assert retract_of(notice).get("id") == sid
        archived = dict(await mam_messages(bob.client, room))
        assert spam not in "".join(archived[sid].itertext())


@pytest.mark.parametrize("case", ["participant", "unknown_id", "no_room"])
async def test_moderation_refusals(component, prosody, case):
    await component(services())
    room = new_room()
    port = prosody.ports.c2s
    text = marker("STAYS")
    async with member(port, "carol", room, "mod") as carol, member(port, "alice", room) as alice, \
            member(port, "bob", room) as bob:
        _, sid = await alice.say(text)
        await bob.groupchat(lambda m: text in m["body"])
        alice.forget()
        requester, target_room, target = bob, room, sid
        if case == "unknown_id":
            requester, target = carol, "01J0000000000000000000000X"
        elif case == "no_room":
            requester, target_room = carol, f"nowhere-{uuid.uuid4().hex[:6]}@{DOMAIN}"
        with pytest.raises(IqError) as err:
            await requester.client.plugin["xep_0425"].moderate(JID(target_room), target, "x", timeout=10)
        expected = {"participant": ("forbidden", "auth"), "unknown_id": ("item-not-found", "cancel"),
                    "no_room": ("item-not-found", "cancel")}[case]
        assert (err.value.condition, err.value.etype) == expected
        await alice.quiet_groupchat(0.3)
        archived = dict(await mam_messages(alice.client, room))
        assert text in "".join(archived[sid].itertext())


async def test_room_disco_advertises_retraction_and_moderation(component, prosody):
    await component(services())
    room = new_room()
    async with member(prosody.ports.c2s, "carol", room) as carol:
        info = await carol.client.plugin["xep_0030"].get_info(jid=room, timeout=10)
        features = set(info["disco_info"]["features"])
        assert {"urn:xmpp:message-retract:1", "urn:xmpp:message-retract:1#tombstone",
                "urn:xmpp:message-moderate:1", "urn:xmpp:message-moderate:0"} <= features


async def test_no_trace_of_removed_text_in_storage(component, prosody, tmp_path):
    app = await component(services())
    room = new_room()
    port = prosody.ports.c2s
    typo, spam, payload, control = marker("TYPO"), marker("SPAM"), marker("PAYLOAD"), marker("CONTROL")
    async with member(port, "carol", room, "mod") as carol, member(port, "alice", room) as alice, \
            member(port, "bob", room) as bob:
        _, typo_sid = await alice.say(typo, extra=f"<x xmlns='urn:example:card'><note>{payload}</note></x>")
        _, spam_sid = await bob.say(spam)
        await alice.say(control)
        alice.client.plugin["xep_0424"].send_retraction(JID(room), typo_sid, mtype="groupchat")
        await bob.groupchat(lambda m: retract_of(m) is not None)
        await carol.client.plugin["xep_0425"].moderate(JID(room), spam_sid, "spam", timeout=10)
        await alice.groupchat(lambda m: retract_of(m) is not None and retract_of(m).get("id") == spam_sid)
        await recall_of(app).flush()
        # The control message proves the searches find text where it is.
        assert any(place.startswith("mam_") for place in await sql_trace(app.db, control))
        for removed in (typo, spam, payload):
            assert await sql_trace(app.db, removed) == [], removed
        if not app.db.is_sqlite:
            # The old row versions holding the text were vacuumed after the removals.
            from sqlalchemy import text as sql
            async with app.db.engine.connect() as connection:
                vacuumed = (await connection.execute(sql(
                    "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'mam_messages'"))).scalar()
            assert vacuumed is not None
        if app.db.is_sqlite:
            path = database_file(tmp_path)
            assert {"file (main)", "file-wal"} & set(database_trace(path, control))
            for removed in (typo, spam, payload):
                assert database_trace(path, removed) == [], removed
    await app.stop()
    if app.db.is_sqlite:
        for removed in (typo, spam, payload):
            assert database_trace(database_file(tmp_path), removed) == [], removed


async def test_service_admin_moderates_without_joining_and_reads_the_audit(component, prosody):
    await component(services())
    room = new_room()
    port = prosody.ports.c2s
    spam = marker("ADMINSPAM")
    async with member(port, "carol", room) as carol, member(port, "bob", room) as bob, \
            harness.slix_client(port, "admin", plugins=("xep_0425", "xep_0050")) as admin, \
            harness.slix_client(port, "alice", plugins=("xep_0050",)) as alice:
        _, sid = await bob.say(spam)
        await carol.groupchat(lambda m: spam in m["body"])
        await admin.plugin["xep_0425"].moderate(JID(room), sid, "cleanup", timeout=10)
        notice = await carol.groupchat(lambda m: retract_of(m) is not None)
        # Not in the room: the notice names the room, never the admin's real JID.
        assert retract_of(notice).find(f"{{{NS_MODERATE}}}moderated").get("by") == room
        assert "admin@" not in str(notice)

        def command(client, action="execute", sessionid=None, form=None):
            iq = client.make_iq_set(ito=DOMAIN)
            iq["command"]["node"] = "recall-audit"
            iq["command"]["action"] = action
            if sessionid:
                iq["command"]["sessionid"] = sessionid
            if form is not None:
                iq["command"].append(form)
            return iq.send(timeout=10)

        with pytest.raises(IqError) as err:
            await command(alice)
        assert (err.value.condition, err.value.etype) == ("forbidden", "auth")
        started = await command(admin)
        assert started["command"]["status"] == "executing"
        form = new_form(form_type="submit")
        form.add_field(var="archive", value=room)
        form.add_field(var="limit", value="10")
        done = await command(admin, "complete", started["command"]["sessionid"], form)
        assert done["command"]["status"] == "completed"
        rows = done["command"]["form"].xml.findall("{jabber:x:data}item")
        assert len(rows) == 1
        cells = {f.get("var"): f.findtext("{jabber:x:data}value") for f in rows[0]}
        assert (cells["stanza_id"], cells["actor"], cells["author"], cells["moderated"], cells["reason"]) == (
            sid, "admin@localhost", "bob@localhost", "yes", "cleanup")
        assert spam not in str(done)


async def test_rooms_without_archive_still_relay_retraction_and_moderation(component, prosody):
    # The occupants hold the message in their clients whether or not the room archives.
    app = await component(services(archiving="off"))
    room = new_room()
    port = prosody.ports.c2s
    text, spam, kept, edited = marker("EPHEMERAL"), marker("SPAM"), marker("KEPT"), marker("EDITED")
    async with member(port, "carol", room, "mod") as carol, member(port, "alice", room) as alice, \
            member(port, "bob", room) as bob:
        info = await carol.client.plugin["xep_0030"].get_info(jid=room, timeout=10)
        features = set(info["disco_info"]["features"])
        assert {"urn:xmpp:message-retract:1", "urn:xmpp:message-moderate:1"} <= features
        assert "urn:xmpp:mam:2" not in features
        mid, sid = await alice.say(text)
        # A XEP-0308 correction carries the edited text: it goes with the original.
        await alice.say(edited, extra=f"<replace xmlns='urn:xmpp:message-correct:0' id='{mid}'/>")
        _, spam_sid = await bob.say(spam)
        _, kept_sid = await bob.say(kept)
        await carol.groupchat(lambda m: kept in m["body"])

        # Someone else's retraction of a message the room still remembers is refused and not relayed.
        carol.forget()
        mid = bob.send_raw_message(f"<retract xmlns='{NS_RETRACT}' id='{sid}'/>")
        assert (await bob.error(mid))["error"]["condition"] == "forbidden"
        await carol.quiet_groupchat(0.3)

        # The author's retraction reaches everyone (slixmpp's own XEP-0424 plugin).
        retraction = alice.client.plugin["xep_0424"].send_retraction(JID(room), sid, mtype="groupchat")
        for someone in (carol, bob, alice):
            notice = await someone.groupchat(lambda m: retract_of(m) is not None and m["id"] == retraction["id"])
            assert retract_of(notice).get("id") == sid and notice["from"] == JID(f"{room}/alice")

        # A participant cannot moderate; the moderator can (slixmpp's own XEP-0425 plugin).
        with pytest.raises(IqError) as refused:
            await alice.client.plugin["xep_0425"].moderate(JID(room), kept_sid, "x", timeout=10)
        assert refused.value.iq["error"]["condition"] == "forbidden"
        await carol.client.plugin["xep_0425"].moderate(JID(room), spam_sid, "spam", timeout=10)
        for someone in (alice, bob, carol):
            notice = await someone.groupchat(lambda m: retract_of(m) is not None and m["from"] == JID(room))
            assert retract_of(notice).get("id") == spam_sid
            assert retract_of(notice).find(f"{{{NS_MODERATE}}}moderated").get("by") == f"{room}/mod"

        # Someone joining later gets neither text from the room's history, only what was kept.
        async with member(port, "eve", room, maxstanzas=50) as eve:
            history = " ".join(str(m) for m in history_of(eve))
        assert kept in history and text not in history and spam not in history and edited not in history
    entries = await recall_of(app).store.audit_entries(room)
    assert sorted((e.stanza_id, e.actor, e.moderated, e.reason) for e in entries) == sorted([
        (sid, "alice@localhost", False, ""), (spam_sid, "carol@localhost", True, "spam")])


async def test_default_configuration_archives_a_room_created_the_usual_way(component, prosody):
    # No option at all: rooms start locked and the creator accepts the default configuration.
    await component({DOMAIN: {"muc": {}, "mam": {}, "recall": {}}})
    room = new_room()
    port = prosody.ports.c2s
    text, spam = marker("ROAMING"), marker("SPAM")
    async with harness.slix_client(port, "alice", plugins=CLIENT_PLUGINS) as alice_client:
        muc = alice_client.plugin["xep_0045"]
        await muc.join_muc_wait(JID(room), "alice", timeout=10, maxstanzas=0)
        instant = alice_client.plugin["xep_0004"].make_form(ftype="submit")
        await muc.set_room_config(JID(room), instant, timeout=10)  # the instant room (XEP-0045 10.1.2)
        info = await alice_client.plugin["xep_0030"].get_info(jid=room, timeout=10)
        features = set(info["disco_info"]["features"])
        assert {"urn:xmpp:mam:2", "urn:xmpp:message-retract:1", "urn:xmpp:message-moderate:1"} <= features
        async with member(port, "bob", room) as bob:
            _, sid = await bob.say(text)
            _, spam_sid = await bob.say(spam)
            # A client that reloads gets the history back from the archive.
            archived = dict(await mam_messages(alice_client, room))
            assert text in "".join(archived[sid].itertext())
            bob.client.plugin["xep_0424"].send_retraction(JID(room), sid, mtype="groupchat")
            await bob.groupchat(lambda m: retract_of(m) is not None and retract_of(m).get("id") == sid)
            await alice_client.plugin["xep_0425"].moderate(JID(room), spam_sid, "spam", timeout=10)
            await bob.groupchat(lambda m: retract_of(m) is not None and retract_of(m).get("id") == spam_sid)
            archived = dict(await mam_messages(alice_client, room))
            assert archived[sid].find(f"{{{NS_RETRACT}}}retracted") is not None
            assert archived[spam_sid].find(f"{{{NS_RETRACT}}}retracted") is not None
            assert not any(word in "".join(m.itertext()) for m in archived.values() for word in (text, spam))


@pytest.mark.parametrize("form", ["legacy", "current"])
async def test_tombstones_are_recognised_by_both_generations(component, prosody, form):
    await component(services())
    room = new_room()
    port = prosody.ports.c2s
    spam, typo = marker("SPAM"), marker("TYPO")
    async with member(port, "carol", room, "mod") as carol, member(port, "bob", room) as bob:
        _, sid = await bob.say(spam)
        _, own = await bob.say(typo)
        if form == "legacy":
            iq = carol.client.make_iq_set(ito=room)
            iq.append(fromstring(
                f"<apply-to xmlns='urn:xmpp:fasten:0' id='{sid}'><moderate xmlns='urn:xmpp:message-moderate:0'>"
                "<retract xmlns='urn:xmpp:message-retract:0'/><reason>old client</reason></moderate></apply-to>"))
            await iq.send(timeout=10)
        else:
            await carol.client.plugin["xep_0425"].moderate(JID(room), sid, "old client", timeout=10)
        bob.client.plugin["xep_0424"].send_retraction(JID(room), own, mtype="groupchat")
        await carol.groupchat(lambda m: retract_of(m) is not None and retract_of(m).get("id") == own)
        archived = dict(await mam_messages(carol.client, room))
    moderated = archived[sid]
    # XEP-0425 0.3 (moderate:1 inside retracted) and 0.2 (retracted:0 inside moderated:0), side by side.
    current = moderated.find(f"{{{NS_RETRACT}}}retracted/{{{NS_MODERATE}}}moderated")
    assert current is not None and current.get("by") == f"{room}/mod"
    legacy = moderated.find("{urn:xmpp:message-moderate:0}moderated")
    assert legacy is not None and legacy.get("by") == f"{room}/mod"
    assert legacy.find("{urn:xmpp:message-retract:0}retracted").get("stamp")
    assert legacy.findtext("{urn:xmpp:message-moderate:0}reason") == "old client"
    retracted = archived[own]
    assert retracted.find(f"{{{NS_RETRACT}}}retracted") is not None
    assert retracted.find("{urn:xmpp:message-retract:0}retracted") is not None
    assert not any(word in "".join(m.itertext()) for m in (moderated, retracted) for word in (spam, typo))


@pytest.mark.parametrize("how", ["retracted", "moderated"])
async def test_corrections_and_reactions_go_with_the_message(component, prosody, how):
    await component(services())
    room = new_room()
    port = prosody.ports.c2s
    first, edited, again, other = marker("FIRST"), marker("EDITED"), marker("AGAIN"), marker("OTHER")
    more = ("xep_0308", "xep_0444")
    async with member(port, "carol", room, "mod", more) as carol, \
            member(port, "alice", room, more_plugins=more) as alice:
        alice_c = alice.client
        mid, sid = await alice.say(first)
        _, kept_sid = await alice.say(other)
        # A correction (slixmpp's XEP-0308 plugin), then a correction of the correction.
        correction = alice_c.plugin["xep_0308"].build_correction(mid, JID(room), mtype="groupchat", mbody=edited)
        correction.send()
        await carol.groupchat(lambda m: m["id"] == correction["id"])
        chained = alice_c.plugin["xep_0308"].build_correction(correction["id"], JID(room), mtype="groupchat",
                                                             mbody=again)
        chained.send()
        await carol.groupchat(lambda m: m["id"] == chained["id"])
        # Reactions (slixmpp's XEP-0444 plugin) to it and to the message that stays.
        for target, emoji in ((sid, "👍"), (kept_sid, "🎉")):  # the plugin's own send_reactions() is not groupchat
            reaction = carol.client.make_message(mto=JID(room), mtype="groupchat")
            carol.client.plugin["xep_0444"].set_reactions(reaction, target, [emoji])
            reaction.enable("store")
            reaction.send()
        await alice.groupchat(lambda m: m.xml.find("{urn:xmpp:reactions:0}reactions") is not None
                              and m.xml.find("{urn:xmpp:reactions:0}reactions").get("id") == kept_sid)
        if how == "retracted":
            alice_c.plugin["xep_0424"].send_retraction(JID(room), sid, mtype="groupchat")
        else:
            await carol.client.plugin["xep_0425"].moderate(JID(room), sid, "", timeout=10)
        await carol.groupchat(lambda m: retract_of(m) is not None and retract_of(m).get("id") == sid)
        archived = [message for _, message in await mam_messages(carol.client, room)]
    text = " ".join("".join(m.itertext()) for m in archived)
    assert first not in text and edited not in text and again not in text
    assert other in text, "other messages stay"
    corrections = [m for m in archived if m.find("{urn:xmpp:message-correct:0}replace") is not None]
    assert len(corrections) == 2 and all(m.find(f"{{{NS_RETRACT}}}retracted") is not None for m in corrections)
    reactions = {m.find("{urn:xmpp:reactions:0}reactions").get("id"): m for m in archived
                 if m.find("{urn:xmpp:reactions:0}reactions") is not None}
    assert len(reactions[sid].find("{urn:xmpp:reactions:0}reactions")) == 0, "no reaction is left on it"
    assert len(reactions[kept_sid].find("{urn:xmpp:reactions:0}reactions")) == 1
