"""Two processes share 4 slots of the rooms domain and of the support domain behind ejabberd, with
PostgreSQL as the shared truth; one is killed with SIGKILL mid-traffic and restarted.

50 rooms and the queues are spread over both processes by ejabberd's bare_destination hash; two
queues on different processes each have an agent in a conversation, a customer offered to that
agent and two customers waiting. Traffic in every room and in both conversations, ``kill -9`` of
one process, then its restart with the same configuration (as the service manager does):
- while it is down, ejabberd drops what hashes to its slots without an error to the sender
  (messages and IQs); a queue and its conversations share a slot and so a process (each domain
  has its own slots: which of them a process holds in one domain says nothing of the other);
- the other process never notices: nobody leaves its rooms and every message sent to them is
  reflected; its queue's conversation goes on both ways, its waiting customers and its agent are
  told nothing new, it neither re-adopts its queues nor adopts the dead process's;
- after the restart, XEP-0410 self-ping tells the occupants of its rooms they left
  (not-acceptable); they rejoin with the same occupant id (the secret is shared). Its queue is
  taken back from the database: no ticket lost or duplicated, the waiting customers keep their
  order and are told their places again, the offer pending at the kill is sent again, and the
  conversation goes on;
- every message any client saw (a room's reflection, a conversation's relay, on either side) is
  in its archive once, under the id the client saw; archive ids are unique over all rooms;
- a conversation JID hashes anywhere: a transfer typed in one queue's conversation to the other
  queue is handed to the owner when it arrives elsewhere, and the other owner takes the ticket up.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from component.balancing import slot_of

from ..harness import until
from ..reliability.kit import OK, Person, people
from ..reliability.test_crash import Traffic, archived, received
from ..support.kit import agent_presence, body_has, jid
from .conftest import ROOMS, SLOTS, SUPPORT, pytestmark  # noqa: F401 - the module's skip condition
from .kit import Process, bodies, left, occupant_id, position, say_all, self_ping, stored

ROOM_COUNT = 50
#: Queue names: ejabberd's hash spreads them over the 4 slots (which process owns which is read
#: from the processes' logs); two on different processes are used.
CANDIDATES = [f"q{i}" for i in range(8)]
AGENTS = ("agent1", "agent2")
#: Customers per queue, in arrival order: one talks with the agent, one is offered, two wait. The
#: ones who talk are also the rooms' occupants.
CUSTOMERS = (("alice", "carol", "dave", "eve"), ("bob", "cust1", "cust2", "cust3"))
SERVICES = {
    ROOMS: {"muc": {"lock_new_rooms": False, "default_persistent": True}, "mam": {}},
    SUPPORT: {"mam": {}, "support": {
        "queues": [{"name": name, "agents": [jid(a) for a in AGENTS], "offer_timeout": 60.0, "max_chats": 2,
                    "grace_period": 60.0, "ratings": False} for name in CANDIDATES],
        "status_interval": 0.2, "liveness_interval": 0.0}},
}


class Rooms:
    """alice and bob in every room; bob talks in all of them."""

    def __init__(self, p: dict[str, Person]) -> None:
        self.alice, self.bob = p["alice"], p["bob"]
        self.names = [f"load{i}@{ROOMS}" for i in range(ROOM_COUNT)]
        self.ids_before: dict[str, str] = {}
        self.down: list[str] = []
        self.up: list[str] = []

    async def enter(self) -> None:
        for person in (self.alice, self.bob):
            entered = await asyncio.gather(*(person.enter(room, person.user) for room in self.names))
            assert {outcome for outcome, _ in entered} == {OK}
            if person is self.alice:
                self.ids_before = {room: occupant_id(p) for room, (_, p) in zip(self.names, entered)}
        assert set((await say_all(self.alice, self.names, "before")).values()) == {OK}

    def talk(self, traffic: Traffic) -> None:
        for room in self.names:
            traffic.talk(self.bob, room, "groupchat", f"chatter {room}", 0.25)

    async def while_down(self, traffic: Traffic) -> None:
        """Its rooms' stanzas are dropped (no reflection, no error); the other process's rooms answer."""
        during, disco = await asyncio.gather(
            say_all(self.alice, self.names, "during", timeout=3),
            asyncio.gather(*(self.alice.ask(room, "<query xmlns='http://jabber.org/protocol/disco#info'/>",
                                            itype="get", timeout=3) for room in self.names)))
        self.down = sorted(room for room, outcome in during.items() if outcome != OK)
        self.up = sorted(room for room, outcome in during.items() if outcome == OK)
        assert self.down and self.up, during
        assert {during[room] for room in self.down} == {"timeout"}, during
        # An IQ is dropped the same way: no error, the requester times out.
        assert {room for room, outcome in zip(self.names, disco) if outcome == "timeout"} == set(self.down), disco
        assert {outcome for outcome in disco if outcome != "timeout"} == {OK}, disco
        # A room lives on the process of its slot: the rooms that went silent share none with the others.
        assert not {slot_of(r, SLOTS) for r in self.down} & {slot_of(r, SLOTS) for r in self.up}
        # Every message sent to the other process's rooms, before, at and after the kill, was reflected
        # to both occupants.
        await until_all_seen([(person, room, traffic.bodies[room]) for room in self.up
                              for person in (self.alice, self.bob)], "every message reflected in the rooms up")

    async def after_restart(self) -> None:
        # The other process's rooms never noticed: nobody left them, self-ping says still joined.
        for person in (self.alice, self.bob):
            assert not left(person, set(self.up)), left(person, set(self.up))
        assert set(await asyncio.gather(*(self_ping(self.alice, room, "alice") for room in self.up))) == {OK}
        # The restarted process's rooms: persistent, served again; the occupants learn they are out.
        pings = await asyncio.gather(*(self_ping(self.alice, room, "alice") for room in self.down))
        assert set(pings) == {"not-acceptable/cancel"}, pings
        for person in (self.alice, self.bob):
            entered = await asyncio.gather(*(person.enter(room, person.user) for room in self.down))
            assert {outcome for outcome, _ in entered} == {OK}
            if person is self.alice:
                assert {room: occupant_id(p) for room, (_, p) in zip(self.down, entered)} == \
                    {room: self.ids_before[room] for room in self.down}
        assert set((await say_all(self.alice, self.names, "after")).values()) == {OK}

    async def check_archives(self) -> None:
        """Nothing acknowledged is lost: whatever a client saw reflected is archived, once."""
        every_id: list[str] = []
        for room in self.names:
            seen = {**received(self.alice, room, room), **received(self.bob, room, room)}
            archive = await self.alice.archive(room)
            stored_ = archived(archive)
            assert len(stored_) == len(archive), f"{room}: an archive id twice"
            missing = {sid: body for sid, body in seen.items() if stored_.get(sid) != body}
            assert not missing, f"{room}: reflected but not archived: {missing}"
            every_id += stored_
        assert len(every_id) == len(set(every_id)), "archive ids collide across rooms or processes"


class Desk:
    """Two queues on different processes (``queues[0]`` on the one killed), each with an agent."""

    def __init__(self, p: dict[str, Person], queues: tuple[str, str]) -> None:
        self.p = p
        self.queues = queues
        self.jids = tuple(f"{q}@{SUPPORT}" for q in queues)
        self.agents = tuple(p[a] for a in AGENTS)
        self.sessions: list[dict[str, str]] = [{}, {}]

    def customer(self, i: int, n: int) -> Person:
        return self.p[CUSTOMERS[i][n]]

    def session(self, i: int, n: int = 0) -> str:
        return self.sessions[i][CUSTOMERS[i][n]]

    async def open(self) -> None:
        for i, agent in enumerate(self.agents):
            agent_presence(agent.client, to=self.jids[i], max_chats=2)
            await agent.inbox.next(lambda s, q=self.jids[i]: s.xml.tag.endswith("}presence")
                                   and s["from"].bare == q, 15)
        for i, group in enumerate(CUSTOMERS):
            agent = self.agents[i]
            for n, user in enumerate(group):
                customer = self.p[user]
                customer.send_message(self.jids[i], f"<body>question of {user}</body>", mtype="chat")
                await customer.inbox.next(chat(body_has("We will connect you")), 15)
                if n < 2:  # the agent is offered each of the first two
                    offer = await agent.inbox.next(chat(body_has("accept", user)), 15)
                    self.sessions[i][user] = offer["from"].bare
                if n == 0:
                    agent.send_message(self.sessions[i][user], "<body>accept</body>", mtype="chat")
                    await customer.inbox.next(chat(body_has("is now with you")), 15)
                    # The agent gets the conversation so far (a delayed copy from the archive).
                    await agent.inbox.next(chat(lambda m: m["body"] == f"question of {user}"
                                                and m.xml.find("{urn:xmpp:delay}delay") is not None), 15)
        # Each conversation JID was minted in its queue's slot: both sides reach the queue's owner.
        for i in (0, 1):
            for session in self.sessions[i].values():
                assert slot_of(session, SLOTS) == slot_of(self.jids[i], SLOTS)

    def talk(self, traffic: Traffic) -> None:
        for i in (0, 1):
            traffic.talk(self.customer(i, 0), self.jids[i], "chat", f"customer {i}", 0.1)
            traffic.talk(self.agents[i], self.session(i), "chat", f"agent {i}", 0.1)

    def forget_waiting(self) -> None:
        """What the waiting customers of both queues and the agents were told so far."""
        for i in (0, 1):
            for n in (2, 3):
                self.customer(i, n).forget()
            self.agents[i].inbox.items = [m for m in self.agents[i].inbox.items if not chat(body_has("accept"))(m)]

    async def while_down(self, traffic: Traffic) -> None:
        """The other queue never notices: every message of its conversation, before, at and after the
        kill, reached the other side, and customer and agent keep talking."""
        customer, agent, session = self.customer(1, 0), self.agents[1], self.session(1)
        await until_all_seen([(agent, session, traffic.bodies[self.jids[1]]),
                              (customer, self.jids[1], traffic.bodies[session])],
                             "every message of the surviving queue's conversation relayed")
        customer.send_message(self.jids[1], "<body>still there?</body>", mtype="chat")
        got = await expect(agent.inbox.next(chat(body_has("still there?")), 15),
                           "the surviving queue's customer reaching the agent")
        assert got["from"].bare == session
        agent.send_message(session, "<body>yes, still here</body>", mtype="chat")
        await expect(customer.inbox.next(chat(body_has("yes, still here")), 15),
                     "the surviving queue's agent reaching the customer")

    async def after_restart(self) -> None:
        # The waiting customers are told their places again, in their order (behind the one offered).
        places = [await expect(self.customer(0, n).inbox.next(lambda m: position(m) is not None, 20),
                               f"{CUSTOMERS[0][n]} told their place again") for n in (2, 3)]
        assert [position(m) for m in places] == [1, 2]
        # The offer pending at the kill comes again; then the agent takes it.
        agent, offered = self.agents[0], CUSTOMERS[0][1]
        again = await expect(agent.inbox.next(chat(lambda m: "accept" in (m["body"] or "") and offered in m["body"]
                                                   and m["from"].bare == self.session(0, 1)), 20),
                             "the offer pending at the kill sent again")
        agent.send_message(again["from"].bare, "<body>accept</body>", mtype="chat")
        await expect(self.customer(0, 1).inbox.next(chat(body_has("is now with you")), 15),
                     "the offer accepted after the restart")
        # The conversation of the killed process's queue goes on.
        self.customer(0, 0).send_message(self.jids[0], "<body>after the restart</body>", mtype="chat")
        await expect(agent.inbox.next(chat(body_has("after the restart")), 15),
                     "the restarted queue's conversation going on")

    def nothing_new_for_the_survivor(self) -> None:
        """The surviving queue's waiting customers were told no new place, its agent no offer again."""
        for n in (2, 3):
            told = [m for m in self.customer(1, n).inbox.items if position(m) is not None]
            assert not told, told
        assert not [m for m in self.agents[1].inbox.items if chat(body_has("accept"))(m)]

    async def check_archives(self) -> None:
        """Whatever either side of a conversation saw relayed is in its archive, once, under the id they
        saw, in the agent's view and in the customer's."""
        for i in (0, 1):
            customer, agent, session = self.customer(i, 0), self.agents[i], self.session(i)
            seen_by_agent = received(agent, session, session)
            seen_by_customer = received(customer, self.jids[i], self.jids[i])
            assert seen_by_agent and seen_by_customer, (i, seen_by_agent, seen_by_customer)
            for archive in (await agent.archive(session), await customer.archive(self.jids[i])):
                view = archived(archive)
                assert len(view) == len(archive), f"conversation {i}: an archive id twice"
                missing = {sid: body for sid, body in {**seen_by_agent, **seen_by_customer}.items()
                           if view.get(sid) != body}
                assert not missing, f"conversation {i}: relayed but not archived: {missing}"

    async def transfer(self, first: Process, second: Process) -> None:
        """From the second queue's conversation to the first queue: handed to the owner wherever the
        conversation JID hashes; the first process takes the ticket up."""
        moved = self.customer(1, 0)
        self.agents[1].send_message(self.session(1), f"<body>/transfer {self.queues[0]}</body>", mtype="chat")
        await moved.inbox.next(chat(body_has("ransfer")), 15)
        await until(lambda: any("ticket taken up" in line and "queue=" + self.queues[0] in line
                                for line in first.text().splitlines()),
                    15, "the first process took the transferred ticket up")
        # Its customer still writes to the second queue's JID: handed to the first process.
        moved.send_message(self.jids[1], "<body>am I still in line?</body>", mtype="chat")
        await until(lambda: "stanza handed to the queue's owner" in second.text(), 15,
                    "the customer's message handed over")


async def expect(waiting: Any, what: str) -> Any:
    """Await ``waiting`` (an inbox's next); a timeout fails saying what did not come."""
    try:
        return await waiting
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def chat(predicate: Any) -> Any:
    return lambda s: s.xml.tag.endswith("}message") and predicate(s)


def talked(person: Person, senders: list[str]) -> bool:
    """``person`` got a message of the traffic from each of ``senders``."""
    seen = bodies(person)
    return all(any(body.startswith(("chatter", "customer", "agent")) for body in seen.get(s, ())) for s in senders)


async def until_all_seen(expected: list[tuple[Person, str, list[str]]], what: str) -> None:
    """Each (person, sender, bodies): every one of the bodies reached the person from the sender."""
    assert all(sent for _, _, sent in expected), what

    def all_seen() -> bool:
        seen = {id(person): bodies(person) for person, _, _ in expected}
        return all(set(sent) <= seen[id(person)].get(sender, set()) for person, sender, sent in expected)
    await until(all_seen, 20, what)


async def test_kill_one_of_two_processes(balanced: Any, database: str, tmp_path: Path) -> None:
    first = Process(balanced, database, tmp_path / "first", [0, 1], SERVICES)
    second = Process(balanced, database, tmp_path / "second", [2, 3], SERVICES)
    users = ("agent1", "agent2", *(u for group in CUSTOMERS for u in group))
    try:
        # Together, as a service manager starts them: they migrate one after the other.
        await asyncio.gather(first.start(), second.start())
        await until(lambda: len(first.adopted()) + len(second.adopted()) >= len(CANDIDATES), 20,
                    "every queue adopted by one process")
        owned = (first.adopted(), second.adopted())
        assert not set(owned[0]) & set(owned[1]), owned
        assert owned[0] and owned[1], f"every queue hashed to one process: {owned}"
        # The component computes ejabberd's hash: each process's queues are in its own slots.
        slots = [{slot_of(f"{q}@{SUPPORT}", SLOTS) for q in mine} for mine in owned]
        assert not slots[0] & slots[1], (owned, slots)
        async with people(balanced.ports.c2s, *users) as p:
            rooms, desk = Rooms(p), Desk(p, (owned[0][0], owned[1][0]))
            await asyncio.gather(rooms.enter(), desk.open())
            before = await stored(database)
            assert sorted(state for _, _, state, _ in before.values()) == \
                ["active"] * 2 + ["offered"] * 2 + ["queued"] * 4, before

            # Traffic in every room and both conversations while the first process is killed.
            traffic = Traffic()
            rooms.talk(traffic)
            desk.talk(traffic)
            await until(lambda: talked(rooms.alice, [*rooms.names, desk.jids[0]])
                        and talked(desk.agents[0], [desk.session(0)]),
                        20, "traffic seen in every room and in the first queue's conversation")
            desk.forget_waiting()
            sent_at_kill = traffic.sent
            await first.kill()
            killed_at = time.monotonic()
            await until(lambda: traffic.sent >= sent_at_kill + 2 * ROOM_COUNT, 10, "traffic after the kill")
            await traffic.halt()

            await asyncio.gather(rooms.while_down(traffic), desk.while_down(traffic))
            dropped_for = time.monotonic() - killed_at

            await first.start()
            outage = time.monotonic() - killed_at
            await asyncio.gather(rooms.after_restart(), desk.after_restart())
            await rooms.check_archives()
            await desk.check_archives()
            desk.nothing_new_for_the_survivor()
            await desk.transfer(first, second)

        after = await stored(database)
        # No ticket lost or duplicated: the same tickets, one per customer.
        assert set(after) == set(before)
        assert sorted(c for c, *_ in after.values()) == sorted(jid(u) for group in CUSTOMERS for u in group)
        # Waiting customers kept their place (queued_at, the routing order, unchanged) and are still waiting.
        for ticket_id, (customer, queue, state, queued_at) in before.items():
            if state == "queued":
                assert after[ticket_id] == (customer, queue, "queued", queued_at), (before, after)
        moved_id = next(i for i, v in before.items() if v[0] == jid(CUSTOMERS[1][0]))
        assert after[moved_id][1:3] == (desk.queues[0], "queued")
        # The surviving process never let its queues go, never adopted them again nor the dead one's;
        # the restarted one took its queues back.
        assert second.adopted() == owned[1], second.adopted()
        assert "queues released" not in second.text()
        assert sorted(first.adopted()) == sorted(owned[0] * 2), first.adopted()
        print(f"\n{len(rooms.down)} rooms on the killed process, {len(rooms.up)} on the other; their stanzas were "
              f"still dropped without an error {dropped_for:.1f} s after the kill; served again {outage:.1f} s "
              f"after it; {traffic.sent} messages sent during the traffic")
    finally:
        await asyncio.gather(first.stop(), second.stop())
