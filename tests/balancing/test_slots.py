"""Several connections per domain, shared by processes, with ejabberd's bare_destination balancing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from component.app import App
from component.balancing import BalancingError
from component.config import ConfigError, parse
from component.errors import StanzaError

from .. import harness
from .conftest import ROOMS, SLOTS, pytestmark  # noqa: F401 - the module's skip condition

NS_MUC = "http://jabber.org/protocol/muc"


def config_text(server: Any, database: str, tmp: Path, slots: int = SLOTS, mine: list[int] | None = None,
                plugins: dict[str, dict] | None = None) -> str:
    services = {ROOMS: plugins or {"muc": {}}}
    text = harness.make_config_text(server.ports.component, services, tmp / "state", database,
                                    service_ports={ROOMS: server.component_ports[ROOMS]})
    text += f"[balancing]\nslots = {slots}\n"
    if mine is not None:
        text += f"process_slots = {harness.toml_value(mine)}\n"
    return text


async def start(server: Any, database: str, tmp: Path, **kwargs: Any) -> App:
    tmp.mkdir(parents=True, exist_ok=True)
    return await harness.start_configured(config_text(server, database, tmp, **kwargs), tmp)


def rooms_of(app: App) -> set[str]:
    return {room.jid for room in app.services[ROOMS].plugins["muc"].rooms}


def join(client: Any, room: str, nick: str) -> None:
    from xml.etree.ElementTree import SubElement

    presence = client.make_presence(pto=f"{room}/{nick}")
    SubElement(presence.xml, f"{{{NS_MUC}}}x")
    presence.send()


async def join_and_talk(client: Any, inbox: harness.Inbox, rooms: list[str]) -> None:
    for room in rooms:
        join(client, room, "alice")
    # Every room answers the join with the self-presence, then echoes a message.
    for room in rooms:
        await inbox.next(lambda s, r=room: s["from"].bare == r and s.xml.tag.endswith("}presence"), 15)
        client.send_message(mto=room, mbody=f"hello {room}", mtype="groupchat")
    for room in rooms:
        await inbox.next(lambda s, r=room: s["from"].bare == r and s["body"] == f"hello {r}", 15)


async def test_two_processes_share_four_slots_each_room_on_one(balanced: Any, database: str, tmp_path: Path) -> None:
    first = await start(balanced, database, tmp_path / "a", mine=[0, 1])
    second = await start(balanced, database, tmp_path / "b", mine=[2, 3])
    try:
        assert len(first.services[ROOMS].links) == 1 and len(second.services[ROOMS].links) == 1
        rooms = [f"r{i}@{ROOMS}" for i in range(16)]
        async with harness.slix_client(balanced.ports.c2s, "alice") as alice:
            inbox = harness.Inbox(alice, kinds=("message", "presence"))
            await join_and_talk(alice, inbox, rooms)
            a, b = rooms_of(first), rooms_of(second)
        # Pinned: each room lives in exactly one process, and both processes got some.
        assert a | b >= set(rooms) and not a & b, (a, b)
        assert a and b, (a, b)
    finally:
        await second.stop()
        await first.stop()


async def test_one_process_opens_every_slot(balanced: Any, database: str, tmp_path: Path) -> None:
    app = await start(balanced, database, tmp_path)
    try:
        service = app.services[ROOMS]
        assert [link.slot for link in service.links] == [1, 2, 3] and service.open_slots() == 4
        # A connection lost alone comes back on its own (and takes the slot it left free).
        service.links[1].abort()
        await harness.until(lambda: not service.connected.is_set(), 5, "the loss seen")
        await harness.until(lambda: service.connected.is_set() and service.open_slots() == 4, 15, "the slot back")
        async with harness.slix_client(balanced.ports.c2s, "bob") as bob:
            inbox = harness.Inbox(bob, kinds=("message", "presence"))
            rooms = [f"s{i}@{ROOMS}" for i in range(12)]
            for room in rooms:
                join(bob, room, "bob")
            for room in rooms:
                await inbox.next(lambda s, r=room: s["from"].bare == r and s.xml.tag.endswith("}presence"), 15)
            # IQ replies come back on whichever connection the room hashes to, and still match.
            for room in rooms:
                info = await bob.plugin["xep_0030"].get_info(jid=room, timeout=10)
                assert NS_MUC in info["disco_info"]["features"]
    finally:
        await app.stop()


async def test_refusals_and_a_process_without_slots(balanced: Any, database: str, tmp_path: Path) -> None:
    first = await start(balanced, database, tmp_path / "a", mine=[0, 1])
    try:
        with pytest.raises(BalancingError, match="slot 1 is already held") as held:
            await start(balanced, database, tmp_path / "b", mine=[1, 2])
        assert not held.value.lasting  # exit status 1: a service manager retries
        with pytest.raises(BalancingError, match="N must not change while any of them runs") as wrong:
            await start(balanced, database, tmp_path / "c", slots=3, mine=[2])
        assert wrong.value.lasting  # exit status 2: a person must fix it
        idle = await start(balanced, database, tmp_path / "d", mine=[])
        try:
            assert not idle.services[ROOMS].plugins and idle.services[ROOMS].xmpp.transport is None
        finally:
            await idle.stop()
        # The refused ones took nothing: the other slots are still free for their owner.
        second = await start(balanced, database, tmp_path / "e", mine=[2, 3])
        await second.stop()
    finally:
        await first.stop()


@pytest.mark.parametrize(("slots", "mine", "message"), [
    (0, None, "needs at least one slot"),
    (4, [4], "slot 4 does not exist with slots = 4"),
    (4, [1, 1], "a slot is listed twice"),
])
def test_wrong_slots_are_configuration_errors(tmp_path: Path, slots: int, mine: list[int] | None,
                                              message: str) -> None:
    class Server:
        ports = type("P", (), {"component": 5347})
        component_ports = {ROOMS: 5348}

    with pytest.raises(ConfigError, match=message):
        parse(config_text(Server, "postgresql+asyncpg://u@h/db", tmp_path, slots=slots, mine=mine),
              "switchboard.toml", tmp_path)
    with pytest.raises(ConfigError, match="need a database they can all reach"):
        parse(config_text(Server, f"sqlite+aiosqlite:///{tmp_path}/x.db", tmp_path, mine=[0]),
              "switchboard.toml", tmp_path)


async def test_every_process_knows_every_room(balanced: Any, database: str, tmp_path: Path) -> None:
    """What the bare domain answers (disco#items) is right whichever process its hash picks."""
    from ..reliability.kit import NS_OWNER, OK, people

    plugins = {"muc": {"lock_new_rooms": False, "default_persistent": True}}
    first = await start(balanced, database, tmp_path / "a", mine=[0, 1], plugins=plugins)
    second = await start(balanced, database, tmp_path / "b", mine=[2, 3], plugins=plugins)
    apps = (first, second)
    rooms = [f"known{i}@{ROOMS}" for i in range(12)]
    try:
        async with people(balanced.ports.c2s, "carol") as crowd:
            carol = crowd["carol"]
            assert {await carol.join(room, "carol") for room in rooms} == {OK}
            # Each room was created by one process; the other reloaded it when told.
            await harness.until(lambda: all(rooms_of(app) >= set(rooms) for app in apps), 10, "every room everywhere")
            listed = await carol.client.plugin["xep_0030"].get_items(jid=ROOMS, timeout=10)
            assert {item[0] for item in listed["disco_items"]["items"]} >= set(rooms)

            renamed, gone = rooms[0], rooms[1]
            assert await carol.configure(renamed, roomname="Renamed") == OK
            assert await carol.ask(gone, f"<query xmlns='{NS_OWNER}'><destroy/></query>") == OK

            def caught_up() -> bool:
                found = [app.services[ROOMS].plugins["muc"].rooms.get(renamed) for app in apps]
                return all(r is not None and r.config.name == "Renamed" for r in found) and \
                    all(gone not in rooms_of(app) for app in apps)
            await harness.until(caught_up, 10, "the change in both processes")
            listed = await carol.client.plugin["xep_0030"].get_items(jid=ROOMS, timeout=10)
            items = {item[0]: item[2] for item in listed["disco_items"]["items"]}
            assert items.get(renamed) == "Renamed" and gone not in items

            # An administrator's destruction answered by the process that does not serve the room
            # (the bare domain hashes to either): the occupants, held by the other, are told.
            target = rooms[2]
            holder = next(app for app in apps if app.services[ROOMS].plugins["muc"].rooms.get(target).occupants)
            other = first if holder is second else second
            await other.services[ROOMS].plugins["muc"].destroy_room(target, "", "", f"admin@{harness.HOST}")
            told = await carol.inbox.next(lambda s: s.xml.tag.endswith("}presence") and s["from"].bare == target
                                          and s["type"] == "unavailable"
                                          and s.xml.find(f"{{{NS_MUC}#user}}x/{{{NS_MUC}#user}}destroy") is not None)
            assert told is not None
            await harness.until(lambda: all(target not in rooms_of(app) for app in apps), 10, "gone everywhere")

            # A ban decided there too: the banned occupant is removed and told (301) where it is served.
            banned_from = rooms[3]
            async with people(balanced.ports.c2s, "dave") as more:
                dave = more["dave"]
                assert await dave.join(banned_from, "dave") == OK
                holder = next(app for app in apps
                              if app.services[ROOMS].plugins["muc"].rooms.get(banned_from).occupants)
                other = first if holder is second else second
                await other.services[ROOMS].plugins["muc"].set_affiliation(
                    banned_from, f"dave@{harness.HOST}", "outcast", f"admin@{harness.HOST}", "spam")
                out = await dave.inbox.next(lambda s: s.xml.tag.endswith("}presence")
                                            and s["from"].full == f"{banned_from}/dave" and s["type"] == "unavailable")
                assert "301" in {c.get("code") for c in out.xml.iter(f"{{{NS_MUC}#user}}status")}
                assert await dave.join(banned_from, "dave") == "forbidden/auth"
    finally:
        await second.stop()
        await first.stop()


async def test_administrators_act_from_the_process_that_does_not_serve_the_room(balanced: Any, database: str,
                                                                                tmp_path: Path) -> None:
    """Admin commands reach the bare domain, which hashes to either process: what they do to a room
    served by the other one reaches its occupants there (an announcement, a members-only switch)."""
    from ..admin.client import Commands, notes
    from ..reliability.kit import OK, people

    plugins = {"muc": {"lock_new_rooms": False, "default_persistent": True}, "mam": {}, "admin": {}}
    first = await start(balanced, database, tmp_path / "a", mine=[0, 1], plugins=plugins)
    second = await start(balanced, database, tmp_path / "b", mine=[2, 3], plugins=plugins)
    apps = (first, second)
    rooms = [f"acted{i}@{ROOMS}" for i in range(12)]

    def served_by(app: App) -> list[str]:
        found = (app.services[ROOMS].plugins["muc"].rooms.get(room) for room in rooms)
        return [room.jid for room in found if room is not None and room.occupants]
    try:
        async with people(balanced.ports.c2s, "carol", "dave") as crowd, \
                harness.slix_client(balanced.ports.c2s, "admin", plugins=("xep_0050",)) as admin:
            carol, dave = crowd["carol"], crowd["dave"]
            for room in rooms:
                assert await carol.join(room, "carol") == OK and await dave.join(room, "dave") == OK
            assert served_by(first) and served_by(second)
            archive = first.services[ROOMS].hooks.service("archive")
            before = {room: await archive.count(room) for room in rooms}

            # An announcement to every room: whichever process answers, the other one serves some of them.
            done = await Commands(admin, ROOMS).run("room-announce", {"room": "*", "message": ["Maintenance"]})
            assert f"sent to {len(rooms)} room(s)" in notes(done)[0][1]
            heard = set()
            for _ in rooms:
                got = await dave.inbox.next(lambda s: s["type"] == "groupchat" and s["body"] == "Maintenance")
                assert got["from"].full in rooms and got["from"].full not in heard  # from the room, once
                heard.add(got["from"].full)
            await dave.inbox.quiet(lambda s: s["body"] == "Maintenance", wait=0.5)
            assert {room: await archive.count(room) for room in rooms} == {room: n + 1 for room, n in before.items()}
            # (What the admin commands show across processes: test_admin_processes.py.)

            # Members-only switched by the process that does not serve the room: the non-member is removed
            # there (322) and the others are told the configuration changed (104).
            room = served_by(second)[0]
            await first.services[ROOMS].hooks.service("muc").configure_room(
                room, {"muc#roomconfig_membersonly": True}, f"admin@{harness.HOST}")
            out = await dave.inbox.next(lambda s: s.xml.tag.endswith("}presence") and s["type"] == "unavailable"
                                        and s["from"].full == f"{room}/dave")
            assert "322" in {c.get("code") for c in out.xml.iter(f"{{{NS_MUC}#user}}status")}
            told = await carol.inbox.next(lambda s: s.xml.tag.endswith("}message") and s["from"].full == room
                                          and s.xml.find(f"{{{NS_MUC}#user}}x") is not None)
            assert "104" in {c.get("code") for c in told.xml.iter(f"{{{NS_MUC}#user}}status")}
            assert [o.nick for o in second.services[ROOMS].hooks.service("muc").occupants(room)] == ["carol"]
            assert await dave.join(room, "dave") == "registration-required/auth"

            # Made temporary there (no longer stored): not taken for a destruction where it is served.
            await first.services[ROOMS].hooks.service("muc").configure_room(
                room, {"muc#roomconfig_persistentroom": False}, f"admin@{harness.HOST}")
            told = await carol.inbox.next(lambda s: s.xml.tag.endswith("}message") and s["from"].full == room
                                          and s.xml.find(f"{{{NS_MUC}#user}}x") is not None)
            assert "104" in {c.get("code") for c in told.xml.iter(f"{{{NS_MUC}#user}}status")}
            served = second.services[ROOMS].plugins["muc"].rooms.get(room)
            assert served is not None and not served.config.persistent and list(served.occupants) == ["carol"]

            # A room created there is stored, so whichever process serves it knows it and its owner.
            muc = first.services[ROOMS].hooks.service("muc")
            made = [f"made{i}@{ROOMS}" for i in range(8)]
            for new in made:
                await muc.create_room(new, owner=carol.bare, config={"muc#roomconfig_persistentroom": True},
                                      actor=f"admin@{harness.HOST}")
            await harness.until(lambda: all(rooms_of(app) >= set(made) for app in apps), 10, "created everywhere")
            for new in made:
                outcome, own = await carol.enter(new, "carol")
                assert outcome == OK and "201" not in {c.get("code") for c in own.xml.iter(f"{{{NS_MUC}#user}}status")}
            there = second.services[ROOMS].hooks.service("muc")
            assert any(there.occupants(new) for new in made)  # some are served there
            assert {there.affiliation(new, carol.bare) for new in made} == {"owner"}
            # A temporary one is not stored: the process serving it creates it, wherever the command is answered.
            fleeting = [f"fleeting{i}@{ROOMS}" for i in range(6)]
            for new in fleeting:
                await muc.create_room(new, owner=dave.bare, config={"muc#roomconfig_persistentroom": False,
                                                                    "muc#roomconfig_roomname": "Fleeting"},
                                      actor=f"admin@{harness.HOST}")
            held = [[new for new in fleeting if app.services[ROOMS].plugins["muc"].rooms.get(new) is not None]
                    for app in apps]
            assert sorted(held[0] + held[1]) == sorted(fleeting) and held[0] and held[1]  # each in one process
            for new in fleeting:
                outcome, own = await dave.enter(new, "dave")
                assert outcome == OK and "201" not in {c.get("code") for c in own.xml.iter(f"{{{NS_MUC}#user}}status")}
            for app, mine in zip(apps, held):
                served = app.services[ROOMS].hooks.service("muc")
                assert {served.affiliation(new, dave.bare) for new in mine} == {"owner"}
                assert {app.services[ROOMS].plugins["muc"].rooms.get(new).config.name for new in mine} == {"Fleeting"}
            # The service's public rooms list every one, whichever process the bare domain reaches.
            listed = await carol.client.plugin["xep_0030"].get_items(jid=ROOMS, timeout=10)
            items = {item[0]: item[2] for item in listed["disco_items"]["items"]}
            assert {new: items.get(new) for new in fleeting} == {new: "Fleeting" for new in fleeting}, items
            with pytest.raises(StanzaError) as refused:  # the serving process's refusal comes back
                await muc.create_room(held[1][0], owner=dave.bare, config={"muc#roomconfig_persistentroom": False},
                                      actor=f"admin@{harness.HOST}")
            assert refused.value.condition == "conflict"
    finally:
        await second.stop()
        await first.stop()


def test_the_support_desk_and_its_add_ons_may_share_a_domain(tmp_path: Path, capsys: Any) -> None:
    class Server:
        ports = type("P", (), {"component": 5347})
        component_ports = {ROOMS: 5348}

    support = {"mam": {}, "support": {"queues": [{"name": "help", "agents": ["agent1@localhost"]}]}}
    path = tmp_path / "shared.toml"
    from component.cli import main

    # The desk itself shares its domain (its queues are owned where their stanzas arrive).
    path.write_text(config_text(Server, "postgresql+asyncpg://u@h/db", tmp_path, mine=[0, 1], plugins=support))
    assert main(["check-config", str(path)]) == 0
    # So do its add-ons.
    path.write_text(config_text(Server, "postgresql+asyncpg://u@h/db", tmp_path, mine=[0, 1],
                                plugins={**support, "support_bot": {}, "support_web": {}, "support_reports": {}}))
    assert main(["check-config", str(path)]) == 0
    # A plugin that does not say it can (the default) is still refused on a shared domain.
    from component.balancing import check_shareable
    from component.plugin import Plugin

    class Solo(Plugin):
        name = "solo"

    config = parse(path.read_text(encoding="utf-8"), str(path), tmp_path)
    with pytest.raises(ConfigError, match="plugin solo cannot yet share its domain"):
        check_shareable(config, "services.plugins", [(Solo, None)])
