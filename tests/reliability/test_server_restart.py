"""Prosody restarted under traffic: the component reconnects within seconds and serves again.

A Prosody of this test's own (the session's one is shared by every other test)
is restarted while occupants talk in a room and a customer talks with an agent,
with another customer waiting. Afterwards the same clients log in again: the
room, the conversation and the queue carry on, and every message received
before the restart is in the archive.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from component.localserver import LocalProsody

from .. import harness
from .kit import NS_WG, OK, ROOMS, SUPPORT, people, reconnect, stanza_id, until
from .test_crash import HELP, SERVICES, Traffic, agent_available, archived, offered, received

pytestmark = pytest.mark.integration

ROOM = f"restart@{ROOMS}"
USERS = ("alice", "bob", "agent1", "cust1", "cust2")
#: Seconds from Prosody accepting connections again to the component serving.
RECONNECT_WITHIN = 5.0


async def test_prosody_restart_under_traffic(tmp_path):
    server = LocalProsody(tmp_path / "prosody", components={d: harness.secret(d) for d in SERVICES})
    await asyncio.to_thread(server.start)
    try:
        for user in USERS:
            await asyncio.to_thread(server.register, user, harness.password(user))
        app = await harness.start_app(server.ports.component, SERVICES, tmp_path)
        try:
            await scenario(server, app)
        finally:
            await app.stop()
    finally:
        await asyncio.to_thread(server.stop)


async def scenario(server: LocalProsody, app) -> None:  # type: ignore[no-untyped-def]
    engine = app.services[SUPPORT].plugins["support"].engine
    async with people(server.ports.c2s, *USERS) as p:
        alice, bob, agent1, cust1, cust2 = (p[u] for u in USERS)
        assert await alice.join(ROOM, "alice") == OK
        assert await alice.configure(ROOM, persistentroom=True, enablearchiving=True) == OK
        assert await bob.join(ROOM, "bob") == OK
        await agent_available(agent1, 1)
        cust1.send_message(HELP, "<body>hello</body>", mtype="chat")
        ticket = await offered(agent1, cust1)
        session = f"t-{ticket}@{SUPPORT}"
        agent1.send_message(session, "<body>accept</body>", mtype="chat")
        await until(lambda: engine.tickets[ticket].state == "active", what="the conversation active")
        # The customer's first message is replayed to the agent (a delayed copy): wait for it, so it is
        # not taken for traffic of the restart below.
        await agent1.inbox.next(lambda m: m["type"] == "chat" and m["body"] == "hello" and m["from"].bare == session)
        cust2.send_message(HELP, "<body>me too</body>", mtype="chat")
        waiting = await until(lambda: next((t for t in engine.tickets.values() if t.customer == cust2.bare), None),
                              what="the second customer queued")
        for person in p.values():
            person.forget()

        traffic = Traffic()
        traffic.talk(alice, ROOM, "groupchat", "alice")
        traffic.talk(bob, ROOM, "groupchat", "bob")
        traffic.talk(cust1, HELP, "chat", "customer", 0.03)
        traffic.talk(agent1, session, "chat", "agent", 0.03)
        await until(lambda: len(received(bob, ROOM, ROOM)) >= 40, what="room traffic")
        restart = asyncio.ensure_future(asyncio.to_thread(server.restart))
        await until(lambda: not app.services[ROOMS].connected.is_set(), what="the stream to go down")
        await traffic.halt()
        await restart
        back = time.monotonic()
        for service in app.services.values():
            await asyncio.wait_for(service.connected.wait(), 15)
        took = time.monotonic() - back
        assert took < RECONNECT_WITHIN, f"reconnected {took:.1f} s after the server was back"
        seen = {**received(alice, ROOM, ROOM), **received(bob, ROOM, ROOM)}
        conversation_seen = {**received(agent1, session, session), **received(cust1, HELP, HELP)}
        assert seen and conversation_seen

        # The same clients log in again: everything carries on.
        await asyncio.gather(*(reconnect(person, server.ports.c2s) for person in p.values()))
        stored = archived(await alice.archive(ROOM))
        assert all(stored.get(i) == body for i, body in seen.items()), "a received room message is not archived"
        conversation = set(archived(await agent1.archive(session)).values())
        assert set(conversation_seen.values()) <= conversation

        assert await alice.join(ROOM, "alice") == OK
        assert await bob.join(ROOM, "bob") == OK
        said = await alice.say(ROOM, "we are back")
        echo = await bob.groupchat(ROOM, lambda m: m["body"] == "we are back")
        assert stanza_id(echo, ROOM) == said

        await agent_available(agent1, 2)
        agent1.send_message(session, "<body>still with you</body>", mtype="chat")
        await cust1.inbox.next(lambda m: m["type"] == "chat" and m["body"] == "still with you")
        cust1.send_message(HELP, "<body>thanks</body>", mtype="chat")
        await agent1.inbox.next(lambda m: m["type"] == "chat" and m["body"] == "thanks"
                                and m["from"].bare == session)
        # The waiting customer kept its place and is offered as soon as the agent has room.
        assert waiting.state in ("queued", "offered")
        next_ticket = await offered(agent1, cust2)
        assert next_ticket == waiting.id
        agent1.send_message(f"t-{next_ticket}@{SUPPORT}", "<body>accept</body>", mtype="chat")
        agent1.send_message(f"t-{next_ticket}@{SUPPORT}", "<body>your turn</body>", mtype="chat")
        await cust2.inbox.next(lambda m: m["type"] == "chat" and m["body"] == "your turn")
        outcome = await cust2.ask(HELP, f"<queue-status xmlns='{NS_WG}'/>", itype="get")
        assert outcome == "not-authorized/auth"  # served now: no longer waiting (protocol section 7)
