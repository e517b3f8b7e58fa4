"""Administrators' commands answered for every process sharing the domain (component/peer_requests.py).

Two processes over 4 slots: whichever process the bare domain's hash picks asks the other one,
so room lists show every room's true occupants, the statistics cover both processes, and a
reload or a log level applies to both (or to the one chosen). A process that does not answer
in time is named and the rest is shown, without making the requester wait.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from component.app import App

from .. import harness
from ..admin.client import Commands, fields, labels, notes, rows
from .conftest import ROOMS, pytestmark  # noqa: F401 - the module's skip condition
from .test_slots import config_text, start

PLUGINS = {"muc": {"lock_new_rooms": False, "default_persistent": True}, "mam": {}, "admin": {}}


def lines(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else str(value).split("\n")


def occupants_here(app: App, room: str) -> int:
    return len(app.services[ROOMS].hooks.service("muc").occupants(room))


async def test_admin_commands_answer_for_every_process(balanced: Any, database: str, tmp_path: Path) -> None:
    from ..reliability.kit import OK, people

    first = await start(balanced, database, tmp_path / "a", mine=[0, 1], plugins=PLUGINS)
    second = await start(balanced, database, tmp_path / "b", mine=[2, 3], plugins=PLUGINS)
    apps = (first, second)
    files = {}
    for app, folder, mine in ((first, "a", [0, 1]), (second, "b", [2, 3])):
        files[app] = tmp_path / folder / "switchboard.toml"
        files[app].write_text(config_text(balanced, database, tmp_path / folder, mine=mine, plugins=PLUGINS))
    rooms = [f"count{i}@{ROOMS}" for i in range(10)]
    try:
        async with people(balanced.ports.c2s, "carol", "dave") as crowd, \
                harness.slix_client(balanced.ports.c2s, "admin", plugins=("xep_0050",)) as admin:
            carol, dave = crowd["carol"], crowd["dave"]
            for room in rooms:
                assert await carol.join(room, "carol") == OK
            for room in rooms[::2]:
                assert await dave.join(room, "dave") == OK
            expected = {room: 2 if i % 2 == 0 else 1 for i, room in enumerate(rooms)}
            # Each room's occupants are held by one process only, and both processes hold some.
            assert all(sum(occupants_here(app, room) for app in apps) == n for room, n in expected.items())
            assert all(any(occupants_here(app, room) for room in rooms) for app in apps)
            commands = Commands(admin, ROOMS)

            # The room list: every room's true count, whichever process answered; no partial note.
            listed = await commands.execute("rooms-list")
            assert {row["room"]: int(row["occupants"]) for row in rows(listed) if row["room"] in expected} == expected
            assert not any("answer" in text or "only" in text for _, text in notes(listed))
            # A room's information and statistics, for rooms served by each process.
            for app in apps:
                room = next(r for r in rooms[::2] if occupants_here(app, r))
                info = fields(await commands.run("room-info", {"room": room}))
                assert info["occupants"] == "2" and sorted(lines(info["occupant_list"])) == [
                    "carol (moderator, owner)", "dave (participant, none)"], info
                stats = await commands.run("room-stats", {"room": room})
                assert fields(stats)["occupants"] == "2" and not any(text for _, text in notes(stats))
                confirm = await commands.submit(await commands.execute("room-destroy"), {"room": room})
                summary = [f["value"] for f in confirm["command"]["form"].get_fields().values() if f["type"] == "fixed"]
                assert "2 occupant(s) will be removed." in summary, summary
                await commands.cancel(confirm)

            # The statistics: each process and the total.
            step = await commands.execute("admin-stats")
            values, names = fields(step), labels(step)
            ids = {app.peer_requests.process_id for app in apps}
            assert {var for var in values if var.startswith("process.")} == {f"process.{i}" for i in ids}
            assert values["occupants"] == str(sum(expected.values()))
            assert int(values["rooms"]) >= len(rooms)
            assert notes(step)[0][1] == "All 2 processes serving this domain."
            zh = await Commands(admin, ROOMS, lang="zh").execute("admin-stats")
            assert notes(zh)[0][1] == "服务此域名的全部 2 个进程。"
            assert any("（槽位 " in label for var, label in labels(zh).items() if var.startswith("process."))
            answering = next(app for app in apps if "this one" in names[f"process.{app.peer_requests.process_id}"])
            other = second if answering is first else first
            for app in apps:
                assert f"{sum(occupants_here(app, r) for r in rooms)} occupants" in \
                    values[f"process.{app.peer_requests.process_id}"]

            # A room made temporary where it is served is no longer stored: the answering process
            # forgets it, yet lists it, with its occupants and configuration as its process tells.
            passing = next(r for r in rooms if occupants_here(other, r) == 1)
            assert await carol.configure(passing, persistentroom=False, roomname="Passing through") == OK
            await harness.until(lambda: passing not in answering.services[ROOMS].hooks.service("muc").rooms(),
                                what="the answering process forgets the temporary room")
            listed = {row["room"]: row for row in rows(await commands.execute("rooms-list"))}
            assert (listed[passing]["occupants"], listed[passing]["name"], listed[passing]["persistent"]) == (
                "1", "Passing through", "no"), listed.get(passing)

            # A log level set on both processes (each answers with its own previous level).
            step = await commands.run("admin-log-level", {"level": "debug", "logger": "switchboard.plugins.muc"})
            said = notes(step)[0][1]
            assert all(f"process {app.peer_requests.process_id} (slots" in said for app in apps), said

            # A reload: each process reads its own file; one chosen, then all.
            for app in apps:
                files[app].write_text(files[app].read_text().replace(
                    f'admins = ["admin@{harness.HOST}"]', f'admins = ["admin@{harness.HOST}", "root@{harness.HOST}"]'))
            preview = await commands.execute("admin-reload")
            live = "\n".join(lines(fields(preview)["live"]))
            assert all(f"process {app.peer_requests.process_id} (slots" in live for app in apps), live
            done = await commands.complete(preview, {"process": str(other.peer_requests.process_id)})
            assert "Configuration reloaded." in notes(done)[0][1]
            assert f"root@{harness.HOST}" in other.admins and f"root@{harness.HOST}" not in answering.admins
            done = await commands.run("admin-reload", {"process": "all"})
            assert all(f"root@{harness.HOST}" in app.admins for app in apps)

            # Refused: a requester who is no administrator cannot run them, and a process asked
            # to act for one refuses on its own.
            async with harness.slix_client(balanced.ports.c2s, "eve", plugins=("xep_0050",)) as eve:
                assert not {"admin-stats", "admin-reload", "admin-log-level"} & set(await Commands(eve, ROOMS).nodes())
                with pytest.raises(IqError) as error:
                    await Commands(eve, ROOMS).execute("admin-log-level")
                assert error.value.condition == "forbidden"
            asked = await answering.peer_requests.ask(ROOMS, "admin.log-level", {
                "actor": carol.bare, "level": "debug", "logger": "switchboard.plugins.muc"})
            assert len(asked.answers) == 2 and all(a.error.startswith("forbidden") for a in asked.answers), asked

            # A process that does not answer in time: the command answers with the rest, names it,
            # and does not wait longer than the timeout.
            answering.peer_requests.timeout = 0.8
            handlers = other.peer_requests._handlers
            kept = {kind: handlers[(ROOMS, kind)] for kind in ("admin.occupants", "admin.served", "admin.log-level")}

            def too_slow(handler: Any) -> Any:
                async def answer(body: Any) -> Any:
                    await asyncio.sleep(2)
                    return await handler(body)
                return answer
            for kind, handler in kept.items():
                handlers[(ROOMS, kind)] = too_slow(handler)
            try:
                began = time.monotonic()
                listed = await commands.execute("rooms-list")
                took = time.monotonic() - began
                # The one process chosen is the slow one: said so, nothing claimed.
                chosen = await commands.run("admin-log-level", {"level": "debug", "logger": "switchboard.plugins.muc",
                                                                "process": str(other.peer_requests.process_id)})
            finally:
                for kind, handler in kept.items():
                    handlers[(ROOMS, kind)] = handler
            counts = {row["room"]: int(row["occupants"]) for row in rows(listed) if row["room"] in expected}
            # Not listed: the temporary room, known only to the process that did not answer.
            assert counts == {room: occupants_here(answering, room) for room in rooms if room != passing} != expected
            said = " ".join(text for _, text in notes(listed))
            assert f"No answer in time from process {other.peer_requests.process_id} (slots" in said, said
            assert took < 1.8, took
            said = " ".join(text for _, text in notes(chosen))
            assert said.startswith(f"No answer in time from process {other.peer_requests.process_id}") and \
                "not changed there" in said and "→" not in said, said
            await asyncio.sleep(1.5)  # its late answer arrives and is dropped
    finally:
        await second.stop()
        await first.stop()
