"""The support desk shared by two processes over 4 slots; the owner of one queue is killed and restarted.

Each queue is owned by the process whose slot its JID hashes to (it adopts the queue when its
probe, or any stanza for it, arrives there). Two queues on different processes, each with an
agent holding a conversation, a customer offered to that agent and two customers waiting;
``kill -9`` of one owner, then its restart with the same configuration:
- the other process's queue never noticed: its customers still reach their agent, nothing of it
  changed, and it never adopted the dead process's queue;
- the restarted process takes its queue back from the database: no ticket lost or duplicated,
  the waiting customers keep their order, the offer pending at the kill is sent again;
- a conversation JID hashes anywhere: a transfer typed in one queue's conversation to the other
  queue is handed to the owner when it arrives elsewhere, and the other owner takes the ticket up.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

from component.balancing import slot_of
from component.storage import Database
from plugins.support.store import SupportStore

from .. import harness
from ..support.kit import WG, agent_presence, body_has, jid
from .conftest import SLOTS, SUPPORT, pytestmark  # noqa: F401 - the module's skip condition
from .test_failover import Process

#: Queue names: ejabberd's hash spreads them over the 4 slots (which process owns which is read
#: from the processes' logs); two on different processes are used.
CANDIDATES = [f"q{i}" for i in range(8)]
AGENTS = {0: "agent1", 1: "agent2"}
#: Customers per queue, in arrival order: one talks with the agent, one is offered, two wait.
CUSTOMERS = (("cust1", "alice", "bob", "carol"), ("cust2", "dave", "eve", "cust3"))
ADOPTED = re.compile(r"queue adopted queue=(\S+)")


def services() -> dict[str, dict]:
    queues = [{"name": name, "agents": [jid("agent1"), jid("agent2")], "offer_timeout": 60.0, "max_chats": 2,
               "grace_period": 60.0, "ratings": False} for name in CANDIDATES]
    return {SUPPORT: {"mam": {}, "support": {"queues": queues, "status_interval": 0.2, "liveness_interval": 0.0}}}


def position(msg: Any) -> int | None:
    found = msg.xml.find(f"{{{WG}}}queue-status/{{{WG}}}position")
    return int(found.text) if found is not None else None


def adopted(process: Process) -> list[str]:
    return ADOPTED.findall(process.log.read_text(errors="replace")) if process.log.exists() else []


async def stored(url: str) -> list[Any]:
    db = Database(url)
    try:
        return await SupportStore(db).tickets(limit=1000)
    finally:
        await db.close()


async def test_two_queues_on_two_processes_one_killed(balanced: Any, database: str, tmp_path: Path) -> None:
    first = Process(balanced, database, tmp_path / "first", [0, 1], services())
    second = Process(balanced, database, tmp_path / "second", [2, 3], services())
    try:
        await first.start()
        await second.start()
        await harness.until(lambda: len(adopted(first)) + len(adopted(second)) >= len(CANDIDATES), 20,
                            "every queue adopted by one process")
        owned = (adopted(first), adopted(second))
        assert not set(owned[0]) & set(owned[1]), owned
        assert owned[0] and owned[1], f"every queue hashed to one process: {owned}"
        # The component computes ejabberd's hash: each process's queues are in its own slots.
        slots = [{slot_of(f"{q}@{SUPPORT}", SLOTS) for q in mine} for mine in owned]
        assert not slots[0] & slots[1], (owned, slots)
        queues = (owned[0][0], owned[1][0])
        port = balanced.ports.c2s
        users = [u for group in CUSTOMERS for u in group] + list(AGENTS.values())
        async with contextlib.AsyncExitStack() as stack:
            clients = {u: await stack.enter_async_context(harness.slix_client(port, u)) for u in users}
            inbox = {u: harness.Inbox(c) for u, c in clients.items()}
            for i, agent in AGENTS.items():
                presences = harness.Inbox(clients[agent], kinds=("presence",))
                agent_presence(clients[agent], to=f"{queues[i]}@{SUPPORT}", max_chats=2)
                await presences.next(lambda p, q=queues[i]: p["from"].bare == f"{q}@{SUPPORT}", 15)
            sessions: list[dict[str, str]] = [{}, {}]
            for i, group in enumerate(CUSTOMERS):
                queue_jid = f"{queues[i]}@{SUPPORT}"
                agent = AGENTS[i]
                for n, customer in enumerate(group):
                    clients[customer].send_message(mto=queue_jid, mbody=f"question of {customer}", mtype="chat")
                    await inbox[customer].next(body_has("We will connect you"), 15)
                    if n < 2:  # the agent is offered each of the first two
                        offer = await inbox[agent].next(body_has("accept", customer), 15)
                        sessions[i][customer] = offer["from"].bare
                    if n == 0:
                        clients[agent].send_message(mto=sessions[i][customer], mbody="accept", mtype="chat")
                        await inbox[customer].next(body_has("is now with you"), 15)
            before = {t.id: (t.customer, t.queue, t.state, t.queued_at) for t in await stored(database)}
            assert sorted(state for _, _, state, _ in before.values()) == ["active"] * 2 + ["offered"] * 2 + \
                ["queued"] * 4, before

            # Each conversation JID was minted in its queue's slot: both sides reach the queue's owner.
            for i in (0, 1):
                for session in sessions[i].values():
                    assert slot_of(session, SLOTS) == slot_of(f"{queues[i]}@{SUPPORT}", SLOTS)

            first.kill()
            await first.process.wait()
            # The other queue never notices: customer and agent reach each other; nothing of it changes.
            talking = CUSTOMERS[1][0]
            clients[talking].send_message(mto=f"{queues[1]}@{SUPPORT}", mbody="still there?", mtype="chat")
            got = await inbox[AGENTS[1]].next(body_has("still there?"), 15)
            assert got["from"].bare == sessions[1][talking]
            clients[AGENTS[1]].send_message(mto=sessions[1][talking], mbody="yes, still here", mtype="chat")
            await inbox[talking].next(body_has("yes, still here"), 15)

            waiting = CUSTOMERS[0][2:]
            for u in waiting:
                inbox[u].items.clear()  # what they were told before the kill
            await first.start()
            # The waiting customers are told their places again, in their order (behind the one offered).
            places = [await inbox[u].next(lambda m: position(m) is not None, 20) for u in waiting]
            assert [position(m) for m in places] == [1, 2]
            # The offer pending at the kill comes again; then the agent takes it.
            offered = CUSTOMERS[0][1]
            again = await inbox[AGENTS[0]].next(lambda m: "accept" in (m["body"] or "") and offered in m["body"]
                                                and m["from"].bare == sessions[0][offered], 20)
            clients[AGENTS[0]].send_message(mto=again["from"].bare, mbody="accept", mtype="chat")
            await inbox[offered].next(body_has("is now with you"), 15)
            # The conversation of the killed process's queue goes on.
            talking0 = CUSTOMERS[0][0]
            clients[talking0].send_message(mto=f"{queues[0]}@{SUPPORT}", mbody="after the restart", mtype="chat")
            await inbox[AGENTS[0]].next(body_has("after the restart"), 15)

            # A transfer from the second queue's conversation to the first queue: handed to the owner
            # wherever the conversation JID hashes; the first process takes the ticket up.
            moved = CUSTOMERS[1][0]
            clients[AGENTS[1]].send_message(mto=sessions[1][moved], mbody=f"/transfer {queues[0]}", mtype="chat")
            await inbox[moved].next(body_has("ransfer"), 15)
            await harness.until(lambda: any("ticket taken up" in line and "queue=" + queues[0] in line
                                            for line in first.log.read_text(errors="replace").splitlines()),
                                15, "the first process took the transferred ticket up")
            # Its customer still writes to the second queue's JID: handed to the first process.
            clients[moved].send_message(mto=f"{queues[1]}@{SUPPORT}", mbody="am I still in line?", mtype="chat")
            await harness.until(lambda: "stanza handed to the queue's owner" in second.log.read_text(errors="replace"),
                                15, "the customer's message handed over")

        after = {t.id: (t.customer, t.queue, t.state, t.queued_at) for t in await stored(database)}
        # No ticket lost or duplicated: the same tickets, one per customer.
        assert set(after) == set(before)
        assert sorted(c for c, *_ in after.values()) == sorted(jid(u) for group in CUSTOMERS for u in group)
        # Waiting customers kept their place (queued_at, the routing order, unchanged) and are still waiting.
        for ticket_id, (customer, queue, state, queued_at) in before.items():
            if state == "queued":
                assert after[ticket_id] == (customer, queue, "queued", queued_at), (before, after)
        moved_id = next(i for i, v in before.items() if v[0] == jid(CUSTOMERS[1][0]))
        assert after[moved_id][1:3] == (queues[0], "queued")
        # The second process never adopted the first one's queue.
        assert queues[0] not in adopted(second)
        assert adopted(first).count(queues[0]) == 2  # at the start and after the restart
    finally:
        await asyncio.gather(first.stop(), second.stop())
