"""Two processes share 4 slots behind ejabberd; one is killed with SIGKILL mid-traffic and restarted.

50 rooms spread over both processes by ejabberd's bare_destination hash; traffic in all of
them; ``kill -9`` of one process, then its restart with the same configuration:
- while it is down, ejabberd drops what hashes to its slots, without an error to the sender;
- the rooms of the other process never notice (no presence, every message reflected);
- after the restart its rooms are served again; XEP-0410 self-ping tells the occupants they
  left (not-acceptable), they rejoin, with the same occupant id (the secret is shared);
- every message any client saw reflected is in its room's archive, once; archive ids are
  unique over all rooms of both processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .. import harness
from ..reliability.kit import NS_SID, OK, Person, people, stanza_id
from .conftest import ROOMS, SLOTS, pytestmark  # noqa: F401 - the module's skip condition

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICES = {ROOMS: {"muc": {"lock_new_rooms": False, "default_persistent": True}, "mam": {}}}
ROOM_COUNT = 50
NS_PING = "urn:xmpp:ping"


class Process:
    """``switchboard run`` as a child process with its share of the slots."""

    def __init__(self, server: Any, database: str, folder: Path, mine: list[int],
                 services: dict[str, dict] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.mine = mine
        self.config = folder / "switchboard.toml"
        services = services or SERVICES
        self.config.write_text(harness.make_config_text(
            server.ports.component, services, folder / "state", database,
            service_ports={domain: server.component_ports[domain] for domain in services})
            + f"[balancing]\nslots = {SLOTS}\nprocess_slots = {mine}\n")
        self.config.chmod(0o600)
        self.log = folder / "component.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 30) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "component.cli", "run", "--config", str(self.config), cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

        def ready() -> bool:
            assert self.process is not None and self.process.returncode is None, self.tail()
            with open(self.log, "rb") as f:
                f.seek(offset)
                return f.read().count(b"connected and authenticated") >= len(self.mine)
        await asyncio.wait_for(_poll(ready), timeout)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except asyncio.TimeoutError:
                self.kill()
                await self.process.wait()


async def _poll(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.05)


def reflections(person: Person, room: str) -> dict[str, str]:
    """{stanza-id: body} of the groupchat messages ``person`` saw reflected by ``room``."""
    return {stanza_id(m, room): m["body"] for m in person.inbox.items
            if m.xml.tag.endswith("}message") and m["type"] == "groupchat" and m["body"]
            and m["from"].bare == room and m.xml.find(f"{{{NS_SID}}}stanza-id") is not None}


async def say_all(person: Person, rooms: list[str], text: str, timeout: float = 10) -> dict[str, str]:
    """Each room gets one message; returns {room: outcome}: "ok" once reflected, else why not."""
    async def one(room: str) -> tuple[str, str]:
        mid = person.send_message(room, f"<body>{text} {room}</body>")
        outcome = await person.message_outcome(mid, lambda: person.groupchat(room, lambda m: m["id"] == mid,
                                                                             timeout), timeout)
        return room, outcome
    return dict(await asyncio.gather(*(one(room) for room in rooms)))


async def self_ping(person: Person, room: str, nick: str) -> str:
    return await person.ask(f"{room}/{nick}", f"<ping xmlns='{NS_PING}'/>", itype="get", timeout=5)


def occupant_id(presence: Any) -> str:
    found = presence.xml.find("{urn:xmpp:occupant-id:0}occupant-id")
    return found.get("id") if found is not None else ""


async def test_kill_one_of_two_processes(balanced: Any, database: str, tmp_path: Path) -> None:
    first = Process(balanced, database, tmp_path / "first", [0, 1])
    second = Process(balanced, database, tmp_path / "second", [2, 3])
    rooms = [f"load{i}@{ROOMS}" for i in range(ROOM_COUNT)]
    try:
        # Together, as a service manager starts them: they migrate one after the other.
        await asyncio.gather(first.start(), second.start())
        async with people(balanced.ports.c2s, "alice", "bob") as crowd:
            alice, bob = crowd["alice"], crowd["bob"]
            ids_before: dict[str, str] = {}
            for person in (alice, bob):
                entered = await asyncio.gather(*(person.enter(room, person.user) for room in rooms))
                assert {outcome for outcome, _ in entered} == {OK}
                if person is alice:
                    ids_before = {room: occupant_id(p) for room, (_, p) in zip(rooms, entered)}
            assert set((await say_all(alice, rooms, "before")).values()) == {OK}

            # Traffic in every room while the first process is killed.
            stop = asyncio.Event()

            async def chatter() -> None:
                n = 0
                while not stop.is_set():
                    for room in rooms:
                        bob.send_message(room, f"<body>chatter {n} {room}</body>")
                    n += 1
                    await asyncio.sleep(0.05)
            talking = asyncio.ensure_future(chatter())
            await asyncio.sleep(0.3)
            first.kill()
            killed_at = time.monotonic()
            await first.process.wait()
            await asyncio.sleep(0.3)
            stop.set()
            await talking

            # While it is down: its rooms' stanzas are dropped (no reflection, no error); the others answer.
            during = await say_all(alice, rooms, "during", timeout=3)
            down = sorted(room for room, outcome in during.items() if outcome != OK)
            up = sorted(room for room, outcome in during.items() if outcome == OK)
            assert down and up, during
            assert {during[room] for room in down} == {"timeout"}, during
            # An IQ is dropped the same way: no error, the requester times out.
            assert await alice.ask(down[0], "<query xmlns='http://jabber.org/protocol/disco#info'/>",
                                   itype="get", timeout=2) == "timeout"
            dropped_for = time.monotonic() - killed_at

            await first.start()
            outage = time.monotonic() - killed_at
            # The other process's rooms never noticed: nobody left them, self-ping says still joined.
            for person in (alice, bob):
                left = [s for s in person.inbox.items if s.xml.tag.endswith("}presence")
                        and s["type"] == "unavailable" and s["from"].bare in up]
                assert not left, left
            for room in up:
                assert await self_ping(alice, room, "alice") == OK
            # The restarted process's rooms: persistent, served again; the occupants learn they are out.
            pings = await asyncio.gather(*(self_ping(alice, room, "alice") for room in down))
            assert set(pings) == {"not-acceptable/cancel"}, pings
            for person in (alice, bob):
                entered = await asyncio.gather(*(person.enter(room, person.user) for room in down))
                assert {outcome for outcome, _ in entered} == {OK}
                if person is alice:
                    assert {room: occupant_id(p) for room, (_, p) in zip(down, entered)} == \
                        {room: ids_before[room] for room in down}
            assert set((await say_all(alice, rooms, "after")).values()) == {OK}

            # Nothing acknowledged is lost: whatever a client saw reflected is archived, once.
            every_id: list[str] = []
            for room in rooms:
                seen = {**reflections(alice, room), **reflections(bob, room)}
                archive = await alice.archive(room)
                archived = {aid: message.findtext("{jabber:client}body") for aid, message in archive}
                assert len(archived) == len(archive), f"{room}: an archive id twice"
                missing = {sid: body for sid, body in seen.items() if archived.get(sid) != body}
                assert not missing, f"{room}: reflected but not archived: {missing}"
                every_id += archived
            assert len(every_id) == len(set(every_id)), "archive ids collide across rooms or processes"
        print(f"\n{len(down)} rooms on the killed process, {len(up)} on the other; their stanzas were still "
              f"dropped without an error {dropped_for:.1f} s after the kill; served again {outage:.1f} s after it")
    finally:
        await asyncio.gather(first.stop(), second.stop())
