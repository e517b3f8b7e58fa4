"""``kill -9`` of the component in the middle of real traffic, then a restart on the same database.

The component runs as its own process (``python -m component.cli run``), as in
production. Four occupants talk in a persistent room and a customer and an
agent talk in a support conversation while two more customers wait; the
process is killed without warning. After the restart:
- every message any client received is in the archive, with the same content;
- the room, its configuration and affiliations, the tickets and the waiting
  customers are intact, and the conversation and the queue carry on;
- no row is half-written (counters agree with rows, every ticket has its
  creation event, the SQLite file passes its integrity check).
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
from slixmpp.xmlstream.xmlstream import NotConnectedError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .. import harness
from .kit import NS_OWNER, NS_SID, NS_USER, NS_WG, OK, ROOMS, SUPPORT, Person, jid, people, ticket_of

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent.parent
HELP = f"help@{SUPPORT}"
ROOM = f"crash@{ROOMS}"
TALKERS = ("alice", "bob", "carol", "dave")
SERVICES = {
    ROOMS: {"muc": {"lock_new_rooms": False}, "mam": {}, "recall": {}},
    SUPPORT: {"mam": {}, "support": {
        "queues": [{"name": "help", "agents": [jid("agent1"), jid("agent2")], "supervisors": [jid("super")],
                    "offer_timeout": 120.0, "grace_period": 120.0}],
        "liveness_interval": 0.0, "status_interval": 60.0}},
}


class ComponentProcess:
    """The component as a child process with its own configuration file, killed the hard way."""

    def __init__(self, prosody: Any, tmp_path: Path) -> None:
        self.prosody = prosody
        self.db_url = harness.database_url(tmp_path)
        self.config = tmp_path / "switchboard.toml"
        self.config.write_text(harness.make_config_text(prosody.ports.component, SERVICES, tmp_path / "state",
                                                        self.db_url))
        self.config.chmod(0o600)
        self.log = tmp_path / "component.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, probe: Person, timeout: float = 30) -> None:
        """Start and wait until every domain answers a ping (Prosody may still hold a killed stream)."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log, "ab") as log:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "component.cli", "run", "--config", str(self.config), cwd=ROOT,
                    stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            while self.process.returncode is None and time.monotonic() < deadline:
                if all([await self._answers(probe, domain) for domain in SERVICES]):
                    return
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.process.wait(), 0.1)
            if time.monotonic() >= deadline:
                await self.kill()
                raise AssertionError(f"the component did not come up:\n{self.log.read_text()[-3000:]}")
            # It exited (a stream conflict with the previous, killed process): try again.

    @staticmethod
    async def _answers(probe: Person, domain: str) -> bool:
        try:
            await probe.client.plugin["xep_0199"].ping(jid=domain, timeout=2)
        except Exception:  # noqa: BLE001 - not there yet
            return False
        return True

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except asyncio.TimeoutError:
                await self.kill()


class Traffic:
    """Senders in loops; every received message is recorded with its body and archive id."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task] = []
        self.sent = 0
        #: Destination -> the bodies sent to it, in order.
        self.bodies: dict[str, list[str]] = {}

    def talk(self, person: Person, to: str, mtype: str, prefix: str, pause: float = 0.02) -> None:
        async def loop() -> None:
            n = 0
            while not self.stop.is_set():
                try:
                    person.send_message(to, f"<body>{prefix}-{n}</body>", mtype=mtype)
                except NotConnectedError:
                    return  # the server went away under the sender
                self.bodies.setdefault(to, []).append(f"{prefix}-{n}")
                n += 1
                self.sent += 1
                await asyncio.sleep(pause)
        self.tasks.append(asyncio.ensure_future(loop()))

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)


def received(person: Person, sender: str, by: str) -> dict[str, str]:
    """{archive id: body} of the messages with a body ``person`` got from ``sender`` (a bare JID) with an
    archive id given by ``by`` (a server archiving its users' messages, as ejabberd does, adds its own:
    a notice we do not archive carries only that one)."""
    found = {}
    for m in person.inbox.items:
        if m.xml.tag.endswith("}message") and m["type"] in ("chat", "groupchat") and m["body"] \
                and m["from"].bare == sender:
            for sid in m.xml.findall(f"{{{NS_SID}}}stanza-id"):
                if sid.get("by") == by:
                    found[sid.get("id")] = m["body"]
    return found


def archived(messages: list[tuple[str, Any]]) -> dict[str, str]:
    bodies = {}
    for archive_id, message in messages:
        body = message.find("{jabber:client}body")
        bodies[archive_id] = body.text if body is not None else ""
    return bodies


async def consistency(db_url: str) -> None:
    """No half-written rows: counters agree with rows, tickets have their events, SQLite is sound."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT a.archive, a.messages, (SELECT count(*) FROM mam_messages m WHERE m.archive = a.archive) "
                "FROM mam_archives a"))).all()
            assert rows, "no archive at all"
            for archive, counted, actual in rows:
                assert counted == actual, f"{archive}: counter {counted}, rows {actual}"
            orphans = (await conn.execute(text(
                "SELECT count(*) FROM support_tickets t WHERE NOT EXISTS (SELECT 1 FROM support_events e "
                "WHERE e.ticket = t.id AND e.kind = 'created')"))).scalar()
            assert orphans == 0, f"{orphans} tickets without their creation event"
            dangling = (await conn.execute(text(
                "SELECT count(*) FROM muc_affiliations a WHERE NOT EXISTS "
                "(SELECT 1 FROM muc_rooms r WHERE r.jid = a.room)"))).scalar()
            assert dangling == 0, f"{dangling} affiliations of rooms that do not exist"
            if engine.dialect.name == "sqlite":
                assert (await conn.execute(text("PRAGMA integrity_check"))).scalar() == "ok"
    finally:
        await engine.dispose()


async def agent_available(agent: Person, max_chats: int) -> None:
    agent.client.send_raw(f"<presence xmlns='jabber:client' to='{HELP}'><show>chat</show>"
                          f"<agent-status xmlns='{NS_WG}'><max-chats>{max_chats}</max-chats></agent-status>"
                          "</presence>")


async def offered(agent: Person, customer: Person) -> str:
    offer = await agent.inbox.next(lambda m: m.xml.tag.endswith("}message") and m["type"] == "chat"
                                   and ticket_of(m) is not None and customer.bare in (m["body"] or ""), 15)
    return ticket_of(offer)


async def test_kill_9_under_traffic_loses_nothing(prosody, tmp_path):
    users = (*TALKERS, "eve", "agent1", "agent2", "super", "cust1", "cust2", "cust3")
    async with people(prosody.ports.c2s, *users) as p:
        component = ComponentProcess(prosody, tmp_path)
        try:
            await component.start(p["super"])
            await run(component, p)
        except BaseException:
            print(component.log.read_text()[-4000:] if component.log.exists() else "(no log)")
            raise
        finally:
            await component.stop()


async def run(component: ComponentProcess, p: dict[str, Person]) -> None:
    alice, agent1, cust1 = p["alice"], p["agent1"], p["cust1"]
    # A persistent archived room with every kind of affiliation.
    assert await alice.join(ROOM, "alice") == OK
    assert await alice.configure(ROOM, persistentroom=True, enablearchiving=True, roomname="Crash room") == OK
    for user, affiliation in (("bob", "member"), ("carol", "admin"), ("eve", "outcast")):
        assert await alice.set_affiliation(ROOM, jid(user), affiliation) == OK
    for user in TALKERS[1:]:
        assert await p[user].join(ROOM, user) == OK
    # The queue: cust1 talks with agent1; cust2 and cust3 wait (agent1 is full, agent2 away).
    await agent_available(agent1, 1)
    cust1.send_message(HELP, "<body>my order is late</body>", mtype="chat")
    ticket = await offered(agent1, cust1)
    session = f"t-{ticket}@{SUPPORT}"
    agent1.send_message(session, "<body>accept</body>", mtype="chat")
    await cust1.inbox.next(lambda m: m["type"] == "chat" and m["from"].bare == HELP
                           and (t := m.xml.find("{urn:switchboard:support:0}ticket")) is not None
                           and t.get("state") == "active")
    for user in ("cust2", "cust3"):
        p[user].send_message(HELP, f"<body>{user} needs help</body>", mtype="chat")
        await p[user].inbox.next(lambda m: m["type"] == "chat" and ticket_of(m) is not None)
    for person in p.values():
        person.forget()

    # Traffic, then the kill in the middle of it.
    traffic = Traffic()
    for user in TALKERS:
        traffic.talk(p[user], ROOM, "groupchat", user)
    traffic.talk(cust1, HELP, "chat", "customer", 0.03)
    traffic.talk(agent1, session, "chat", "agent", 0.03)
    await until_received(p, 150)
    await component.kill()
    await traffic.halt()
    await asyncio.sleep(0.3)  # what Prosody had already taken in is delivered
    room_seen: dict[str, str] = {}
    for user in TALKERS:
        room_seen.update(received(p[user], ROOM, ROOM))
    conversation_seen = {**received(agent1, session, session), **received(cust1, HELP, HELP)}
    assert len(room_seen) >= 100 and len(conversation_seen) >= 4, (len(room_seen), len(conversation_seen))

    await component.start(p["super"])
    await consistency(component.db_url)

    # Every message anyone received is archived, unchanged, once.
    room_archive = await alice.archive(ROOM)
    stored = archived(room_archive)
    assert len(stored) == len(room_archive), "an archive id appears twice"
    missing = {i: b for i, b in room_seen.items() if stored.get(i) != b}
    assert not missing, f"{len(missing)} received room messages are not archived as received: {list(missing)[:5]}"
    conversation = archived(await agent1.archive(session))
    customer_side = archived(await cust1.archive(HELP))  # the customer's view of the same conversation
    for seen_id, body in conversation_seen.items():
        assert body in conversation.values() and body in customer_side.values(), body

    # The room is as it was: persistent, configured, with its affiliations.
    outcome, form = await alice.iq(ROOM, f"<query xmlns='{NS_OWNER}'/>", itype="get")
    assert outcome == OK
    values = {f.get("var"): [v.text for v in f.findall("{jabber:x:data}value")]
              for f in form.xml.iter("{jabber:x:data}field")}
    assert values["muc#roomconfig_persistentroom"] in (["1"], ["true"])
    assert values["muc#roomconfig_roomname"] == ["Crash room"]
    assert values["muc#roomconfig_roomadmins"] == [jid("carol")]
    assert await p["eve"].join(ROOM, "eve") == "forbidden/auth"
    outcome, self_presence = await p["bob"].enter(ROOM, "bob")
    assert outcome == OK
    assert self_presence.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}item").get("affiliation") == "member"
    assert await alice.join(ROOM, "alice") == OK
    assert await p["bob"].say(ROOM, "still here") in {i for i, _ in await alice.archive(ROOM)}

    # The conversation carries on at the same address, both ways.
    agent1.send_message(session, "<body>back after the restart</body>", mtype="chat")
    await cust1.inbox.next(lambda m: m["type"] == "chat" and m["body"] == "back after the restart", 15)
    cust1.send_message(HELP, "<body>great</body>", mtype="chat")
    await agent1.inbox.next(lambda m: m["type"] == "chat" and m["body"] == "great" and m["from"].bare == session)
    # The waiting customers are still queued, in order, and are served when an agent comes.
    for position, user in enumerate(("cust2", "cust3")):
        outcome, status = await p[user].iq(HELP, f"<queue-status xmlns='{NS_WG}'/>", itype="get")
        assert outcome == OK, (user, outcome)
        assert status.xml.findtext(f"{{{NS_WG}}}queue-status/{{{NS_WG}}}position") == str(position)
    await agent_available(p["agent2"], 1)
    waiting_ticket = await offered(p["agent2"], p["cust2"])
    p["agent2"].send_message(f"t-{waiting_ticket}@{SUPPORT}", "<body>accept</body>", mtype="chat")
    p["agent2"].send_message(f"t-{waiting_ticket}@{SUPPORT}", "<body>hello cust2</body>", mtype="chat")
    await p["cust2"].inbox.next(lambda m: m["type"] == "chat" and m["body"] == "hello cust2", 15)


async def until_received(p: dict[str, Person], count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum(len(received(p[user], ROOM, ROOM)) for user in TALKERS[:1]) < count:
        assert time.monotonic() < deadline, "the room traffic did not flow"
        await asyncio.sleep(0.05)

