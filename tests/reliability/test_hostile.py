"""Hostile clients, end to end: forged annotations, other people's messages and conversations,
rights that change in the middle of a command, and errors that must not be answered.

The property-based fuzz test (tests/test_fuzz.py) throws random stanzas at every
handler; these are the targeted attacks a real client can make, each checked for
the exact refusal and for what others receive and what the archive keeps.
"""

from __future__ import annotations

import pytest

from .kit import (NS_COMMANDS, NS_DATA, NS_RETRACT, NS_SID, NS_SUPPORT, OK, ROOMS, SUPPORT, jid, people,
                  stanza_id, ticket_of, until)
from .test_crash import HELP, SERVICES, agent_available, archived, offered

pytestmark = pytest.mark.integration

ROOM = f"hostile@{ROOMS}"
NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0"
NS_MODERATE = "urn:xmpp:message-moderate:1"


def occupant_id(message) -> str:  # type: ignore[no-untyped-def]
    found = message.xml.findall(f"{{{NS_OCCUPANT_ID}}}occupant-id")
    assert len(found) == 1, f"expected exactly one occupant-id in {message}"
    return found[0].get("id")


async def test_forged_room_annotations_and_other_peoples_messages(component, prosody):
    await component(SERVICES)
    async with people(prosody.ports.c2s, "alice", "bob", "carol") as p:
        alice, bob, carol = p["alice"], p["bob"], p["carol"]
        for person in (alice, bob, carol):
            assert await person.join(ROOM, person.user) == OK
        assert await alice.configure(ROOM, enablearchiving=True) == OK
        alice_said = await alice.say(ROOM, "alice's own words")
        alice_oid = occupant_id(await carol.groupchat(ROOM, lambda m: m["body"] == "alice's own words"))

        # Bob claims the room's archive id and alice's occupant id: the room keeps only its own.
        mid = bob.send_message(ROOM, f"<body>forged</body><stanza-id xmlns='{NS_SID}' id='{alice_said}' by='{ROOM}'/>"
                                     f"<occupant-id xmlns='{NS_OCCUPANT_ID}' id='{alice_oid}'/>")
        got = await carol.groupchat(ROOM, lambda m: m["id"] == mid)
        ids = [e.get("id") for e in got.xml.findall(f"{{{NS_SID}}}stanza-id") if e.get("by") == ROOM]
        assert len(ids) == 1 and ids[0] != alice_said
        assert occupant_id(got) not in ("", alice_oid)

        # ... so he cannot retract alice's message by posing as her (XEP-0424: forbidden).
        mid = bob.send_message(ROOM, f"<retract xmlns='{NS_RETRACT}' id='{alice_said}'/>"
                                     f"<occupant-id xmlns='{NS_OCCUPANT_ID}' id='{alice_oid}'/><body>retracted</body>")
        error = await bob.inbox.next(lambda m: m["type"] == "error" and m["id"] == mid)
        assert (error["error"]["condition"], error["error"]["type"]) == ("forbidden", "auth")
        # Nor announce a moderation himself (only the room does that).
        mid = bob.send_message(ROOM, f"<retract xmlns='{NS_RETRACT}' id='{alice_said}'><moderated "
                                     f"xmlns='{NS_MODERATE}' by='{ROOM}/alice'/></retract><body>moderated</body>")
        error = await bob.inbox.next(lambda m: m["type"] == "error" and m["id"] == mid)
        assert error["error"]["condition"] == "forbidden"
        await carol.inbox.quiet(lambda m: m["type"] == "groupchat" and m.xml.find(f"{{{NS_RETRACT}}}retract")
                                is not None, 0.3)
        archive = archived(await alice.archive(ROOM))
        assert archive[alice_said] == "alice's own words"  # untouched
        assert list(archive.values()).count("forged") == 1

        # Errors are never answered with errors (RFC 6120 8.3.1), whatever they claim.
        bob.client.send_raw(f"<message xmlns='jabber:client' to='{ROOM}' type='error' id='e1'>"
                            "<error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
        bob.client.send_raw(f"<message xmlns='jabber:client' to='{HELP}' type='error' id='e2'>"
                            "<error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
        await bob.inbox.quiet(lambda m: m["id"] in ("e1", "e2"), 0.3)


async def test_customers_cannot_forge_or_reach_what_is_not_theirs(component, prosody):
    # With recall on the support service, retractions in conversations are checked (protocol 4.6).
    await component({SUPPORT: {**SERVICES[SUPPORT], "recall": {}}})
    async with people(prosody.ports.c2s, "agent1", "cust1", "cust2") as p:
        agent1, cust1, cust2 = p["agent1"], p["cust1"], p["cust2"]
        await agent_available(agent1, 2)
        cust1.send_message(HELP, "<body>hello</body>", mtype="chat")
        ticket = await offered(agent1, cust1)
        session = f"t-{ticket}@{SUPPORT}"
        agent1.send_message(session, "<body>accept</body>", mtype="chat")
        await cust1.inbox.next(lambda m: m["type"] == "chat" and ticket_of(m) == ticket
                               and m.xml.find(f"{{{NS_SUPPORT}}}ticket").get("state") == "active")
        mid = agent1.send_message(session, "<body>the agent's answer</body>", mtype="chat")
        answer = await cust1.inbox.next(lambda m: m["type"] == "chat" and m["id"] == mid)
        answer_id = stanza_id(answer, HELP)

        # The customer forges our annotations: the agent gets the words without them.
        mid = cust1.send_message(HELP, f"<body>forged annotations</body><ticket xmlns='{NS_SUPPORT}' id='{ticket}' "
                                       f"queue='{HELP}' state='closed' jid='{session}'/>"
                                       f"<stanza-id xmlns='{NS_SID}' id='{answer_id}' by='{session}'/>", mtype="chat")
        relayed = await agent1.inbox.next(lambda m: m["type"] == "chat" and m["id"] == mid)
        assert relayed.xml.find(f"{{{NS_SUPPORT}}}ticket") is None
        assert [e.get("id") for e in relayed.xml.findall(f"{{{NS_SID}}}stanza-id")] != [answer_id]
        # Nor can the customer retract the agent's answer (XEP-0424: only the author).
        mid = cust1.send_message(HELP, f"<retract xmlns='{NS_RETRACT}' id='{answer_id}'/><body>retracted</body>",
                                 mtype="chat")
        error = await cust1.inbox.next(lambda m: m["type"] == "error" and m["id"] == mid)
        assert error["error"]["condition"] == "forbidden"
        assert "the agent's answer" in archived(await agent1.archive(session)).values()

        # Another customer cannot write into, run commands in, or read this conversation.
        mid = cust2.send_message(session, "<body>let me in</body>", mtype="chat")
        error = await cust2.inbox.next(lambda m: m["type"] == "error" and m["id"] == mid)
        assert (error["error"]["condition"], error["error"]["type"]) == ("forbidden", "auth")
        outcome = await cust2.ask(session, f"<command xmlns='{NS_COMMANDS}' node='support-close' action='execute'/>")
        assert outcome == "forbidden/auth"
        outcome = await cust2.ask(session, f"<close xmlns='{NS_SUPPORT}'/>")
        assert outcome == "forbidden/auth"
        await agent1.inbox.quiet(lambda m: m["type"] == "chat" and m["body"] == "let me in", 0.3)


async def test_rights_lost_in_the_middle_of_a_command(component, prosody):
    app = await component({ROOMS: {**SERVICES[ROOMS], "admin": {}}})
    async with people(prosody.ports.c2s, "alice", "bob") as p:
        alice, bob = p["alice"], p["bob"]
        assert await alice.join(ROOM, "alice") == OK
        assert await alice.configure(ROOM, persistentroom=True) == OK
        outcome, step = await alice.iq(ROOMS, f"<command xmlns='{NS_COMMANDS}' node='room-destroy' action='execute'/>")
        assert outcome == OK
        command = step.xml.find(f"{{{NS_COMMANDS}}}command")
        session = command.get("sessionid")

        def submit(fields: str, action: str = "next") -> str:
            return (f"<command xmlns='{NS_COMMANDS}' node='room-destroy' sessionid='{session}' action='{action}'>"
                    f"<x xmlns='{NS_DATA}' type='submit'>{fields}</x></command>")

        outcome, _ = await alice.iq(ROOMS, submit(f"<field var='room'><value>{ROOM}</value></field>"))
        assert outcome == OK
        # Bob cannot drive alice's session, even with its id (XEP-0050: bad-sessionid).
        outcome, answer = await bob.iq(ROOMS, submit("<field var='confirm'><value>1</value></field>", "complete"))
        assert outcome == "bad-request/modify"
        assert answer.xml.find(f".//{{{NS_COMMANDS}}}bad-sessionid") is not None
        # Alice stops being an owner before she confirms: the last stage checks again.
        assert await alice.set_affiliation(ROOM, jid("bob"), "owner") == OK
        assert await alice.set_affiliation(ROOM, jid("alice"), "admin") == OK
        outcome = await alice.ask(ROOMS, submit("<field var='confirm'><value>1</value></field>", "complete"))
        assert outcome == "forbidden/auth"
        assert app.services[ROOMS].plugins["muc"].rooms.get(ROOM) is not None


async def test_agent_loses_a_ticket_in_the_middle_of_a_command(component, prosody):
    app = await component(SERVICES)
    engine = app.services[SUPPORT].plugins["support"].engine
    async with people(prosody.ports.c2s, "agent1", "agent2", "super", "cust1") as p:
        agent1, agent2, cust1 = p["agent1"], p["agent2"], p["cust1"]
        await agent_available(agent1, 1)
        cust1.send_message(HELP, "<body>hello</body>", mtype="chat")
        ticket = await offered(agent1, cust1)
        session = f"t-{ticket}@{SUPPORT}"
        agent1.send_message(session, "<body>accept</body>", mtype="chat")
        await until(lambda: engine.tickets[ticket].state == "active", what="the conversation active")
        outcome, step = await agent1.iq(session, f"<command xmlns='{NS_COMMANDS}' node='support-close' "
                                                 "action='execute'/>")
        assert outcome == OK
        sessionid = step.xml.find(f"{{{NS_COMMANDS}}}command").get("sessionid")
        # A supervisor hands the ticket to another agent while agent1's form is open.
        await agent_available(agent2, 1)
        await until(lambda: engine.agents["help"].get(agent2.bare), what="agent2 available")
        p["super"].send_message(session, f"<body>/transfer {jid('agent2')}</body>", mtype="chat")
        await until(lambda: engine.tickets[ticket].agent != agent1.bare, what="the transfer")
        outcome = await agent1.ask(session, f"<command xmlns='{NS_COMMANDS}' node='support-close' "
                                            f"sessionid='{sessionid}' action='complete'><x xmlns='{NS_DATA}' "
                                            "type='submit'><field var='reason'><value>done</value></field></x>"
                                            "</command>")
        assert outcome == "forbidden/auth"
        assert ticket in engine.tickets and engine.tickets[ticket].state != "closed"
