"""Helpers of the failover test: ``switchboard run`` as child processes sharing the slots, what
their logs say about the queues they own, and what clients saw of rooms and queues."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

from component.storage import Database
from plugins.support.store import SupportStore

from .. import harness
from ..reliability.kit import Person
from ..reliability.test_crash import ROOT, ComponentProcess
from ..support.kit import WG
from .conftest import SLOTS

NS_PING = "urn:xmpp:ping"
ADOPTED = re.compile(r"queue adopted queue=(\S+)")


class Process(ComponentProcess):
    """``switchboard run`` as a child process with its share of the slots of every domain (killed and
    stopped as the crash tests' component is)."""

    def __init__(self, server: Any, database: str, folder: Path, mine: list[int],
                 services: dict[str, dict]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.db_url = database
        self.mine = mine
        self.domains = len(services)
        self.config = folder / "switchboard.toml"
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
                # One connection per slot of each domain.
                return f.read().count(b"connected and authenticated") >= len(self.mine) * self.domains
        await harness.until(ready, timeout, "the process's connections authenticated")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self) -> str:
        return self.text()[-3000:]

    def adopted(self) -> list[str]:
        """The queues this process adopted, in order, once per adoption (a restart adopts again)."""
        return ADOPTED.findall(self.text())


# -- rooms ---------------------------------------------------------------------------------
async def say_all(person: Person, rooms: list[str], text: str, timeout: float = 10) -> dict[str, str]:
    """Each room gets one message; returns {room: outcome}: "ok" once reflected, else why not."""
    async def one(room: str) -> tuple[str, str]:
        mid = person.send_message(room, f"<body>{text} {room}</body>")
        outcome = await person.message_outcome(mid, lambda: person.groupchat(room, lambda m: m["id"] == mid,
                                                                             timeout), timeout)
        return room, outcome
    return dict(await asyncio.gather(*(one(room) for room in rooms)))


async def self_ping(person: Person, room: str, nick: str) -> str:
    """XEP-0410: a ping to one's own occupant JID; not-acceptable once the room forgot the occupant."""
    return await person.ask(f"{room}/{nick}", f"<ping xmlns='{NS_PING}'/>", itype="get", timeout=5)


def occupant_id(presence: Any) -> str:
    found = presence.xml.find("{urn:xmpp:occupant-id:0}occupant-id")
    return found.get("id") if found is not None else ""


def left(person: Person, rooms: set[str]) -> list[Any]:
    """Unavailable presences ``person`` got from any of ``rooms``."""
    return [s for s in person.inbox.items if s.xml.tag.endswith("}presence") and s["type"] == "unavailable"
            and s["from"].bare in rooms]


def bodies(person: Person) -> dict[str, set[str]]:
    """{sender's bare JID: the bodies of the messages ``person`` got from it} (one walk of the inbox)."""
    found: dict[str, set[str]] = {}
    for m in person.inbox.items:
        if m.xml.tag.endswith("}message") and m["type"] != "error" and m["body"]:
            found.setdefault(m["from"].bare, set()).add(m["body"])
    return found


# -- queues --------------------------------------------------------------------------------
def position(msg: Any) -> int | None:
    found = msg.xml.find(f"{{{WG}}}queue-status/{{{WG}}}position")
    return int(found.text) if found is not None else None


async def stored(url: str) -> dict[str, tuple[str, str, str, float]]:
    """{ticket id: (customer, queue, state, queued at)} as stored."""
    db = Database(url)
    try:
        return {t.id: (t.customer, t.queue, t.state, t.queued_at) for t in await SupportStore(db).tickets(limit=1000)}
    finally:
        await db.close()

