"""Helpers of the balancing tests: ``switchboard run`` as child processes sharing the slots, what
their logs say about the queues they own, what clients saw of rooms and queues, and moving the
slots of one process to another in an order ejabberd is bound to follow."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

from component.balancing import slot_of
from component.storage import Database
from plugins.support.store import SupportStore

from .. import harness
from ..reliability.kit import Person
from ..reliability.test_crash import ROOT, ComponentProcess
from ..support.kit import WG
from .conftest import SLOTS

NS_PING = "urn:xmpp:ping"
ADOPTED = re.compile(r"queue adopted queue=(\S+)")
#: A line of ejabberd's route table as its ``dump_table`` command writes it: domain, pid, local hint.
ROUTE = re.compile(r'^\{route,<<"([^"]+)">>,<<"[^"]*">>,(\S+?),(\d+)\}\.$', re.M)


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



# -- slots changing process ------------------------------------------------------------------
# ejabberd (ejabberd_router_mnesia) keeps N route records per balanced domain, one per slot (its
# "local hint", the slot + 1), with the connection's pid or none when free. A closed connection's
# record is written again as free at the end of the table; a connection that authenticates takes
# the first free record in table order. So slots are taken again in the order they were freed, and
# when every connection of both processes drops at once that order is whatever order ejabberd's
# connection processes finish in (interleaved, not the order the sockets closed).
async def routes(server: Any, domain: str, folder: Path) -> list[tuple[int, bool]]:
    """ejabberd's route records of ``domain`` in table order: (slot, held by a connection)."""
    path = folder / "routes.txt"
    await asyncio.to_thread(server.api, "dump_table", file=str(path), table="route")
    return [(int(hint) - 1, pid != "undefined") for name, pid, hint in ROUTE.findall(path.read_text())
            if name == domain]


def drop(service: Any, reconnect_in: float) -> None:
    """Every connection of ``service`` closes at once, as when the server goes away; each is opened
    again ``reconnect_in`` seconds later (the service's own back-off, set for this once)."""
    service._reconnect_delay = reconnect_in
    for link in service.links:
        link.retry_delay = reconnect_in
    for stream in (service.xmpp, *service.links):
        stream.abort()


def reconnect_now(service: Any) -> None:
    """A dropped service's connections are opened now instead of at its back-off's end."""
    for handle in (service._reconnect_handle, *(link.retry_handle for link in service.links)):
        if handle is not None:
            handle.cancel()
    service._reconnect_handle = None
    for link in service.links:
        link.retry_handle = None
    service.connect()


def back(services: list[Any]) -> Any:
    """A predicate: every connection of ``services`` has authenticated again since now."""
    opened = [(service, service.sessions_started, 1 + len(service.links)) for service in services]
    return lambda: all(s.connected.is_set() and s.sessions_started >= n + k for s, n, k in opened)


async def hand_over(server: Any, services: list[Any], giver: int, taker: int, folder: Path) -> set[int]:
    """The slots of process ``giver`` go to process ``taker`` and the other way round, every
    connection of both dropping once: the giver's first, and once ejabberd has freed their slots the
    taker's; the taker comes back first and takes the slots freed first, the giver's; then the giver
    takes the rest. Returns the slots the giver held (now the taker's)."""
    domain = services[giver].domain
    seen: list[list[tuple[int, bool]]] = []

    async def table(free: int) -> bool:
        seen.append(await routes(server, domain, folder))
        return sum(not held for _, held in seen[-1]) == free

    async def wait(free: int, what: str) -> set[int]:
        try:
            await harness.until(lambda: table(free), 20, what)
        except AssertionError as error:
            raise AssertionError(f"{error}; ejabberd's route table of {domain}: {seen[-1:]}") from None
        return {slot for slot, held in seen[-1] if not held}

    mine = 1 + len(services[giver].links)
    drop(services[giver], 3600.0)  # back only when told (reconnect_now)
    given = await wait(mine, "the giver's slots freed")
    taker_back = back([services[taker]])
    drop(services[taker], 0.5)
    await harness.until(taker_back, 20, "the taker's connections back")
    # The taker's old slots are free once ejabberd has seen their connections close.
    left = await wait(mine, "the taker's old slots freed")
    assert not left & given, f"the taker did not get the slots freed first {sorted(given)}: ejabberd's " \
        f"route table of {domain}: {seen[-1]}"
    giver_back = back([services[giver]])
    reconnect_now(services[giver])
    await harness.until(giver_back, 20, "the giver's connections back")
    return given
