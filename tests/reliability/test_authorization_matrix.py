"""Who may do what: every action against every role, in one table checked end to end.

Expectations come from the specifications, not from the code: XEP-0045's rules
for rooms (section 7.2.8 outcasts, 7.2.7 members-only, 7.4 and 7.5 messages,
8.2 kicking, 9.1-9.3 bans and membership, 10.x owner use cases), XEP-0313 for
room archives, XEP-0424/0425 for retraction and moderation, XEP-0050 for
commands, and our own protocol document (``schemas/support-protocol.md``,
sections 5 and 7) for the support queue.

The fixtures are built once: one component, one open moderated room and one
members-only room with every role present, a queue with an agent holding one
customer and offered another. Cells that change state (a kick, a ban) are put
back right after, so every cell sees the same world.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable
from xml.etree import ElementTree as ET

import pytest

from .. import harness
from .kit import (NS_ADMIN, NS_COMMANDS, NS_MODERATE, NS_RETRACT, NS_SUPPORT, NS_WG, OK, ROOMS,
                  SUPPORT, Person, jid, mam_query, next_id, people, stanza_id, status_codes, ticket_of, until)

pytestmark = pytest.mark.integration

ROLES = ("none", "outcast", "visitor", "participant", "member", "moderator", "admin", "owner",
         "customer", "agent", "supervisor", "global admin")
#: One account per role. Room roles are held in ROOM; support roles in the help queue.
USER = {"none": "agent2", "outcast": "agent3", "visitor": "cust3", "participant": "eve", "member": "bob",
        "moderator": "dave", "admin": "carol", "owner": "alice", "customer": "cust1", "agent": "agent1",
        "supervisor": "super", "global admin": "admin"}
#: Roles that are occupants of ROOM while the actions run (the others only visit it for "join").
OCCUPANTS = ("visitor", "participant", "member", "moderator", "admin", "owner")
#: Extra accounts: the occupant acted upon, a JID that is banned and affiliated, a second customer.
VICTIM, STRANGER, WAITING = "victim", "stranger", "cust2"

ROOM = f"matrix@{ROOMS}"
MEMBERS_ROOM = f"matrix-members@{ROOMS}"
HELP = f"help@{SUPPORT}"

F = "forbidden/auth"
NOT_ACCEPTABLE = "not-acceptable/modify"
NOT_ALLOWED = "not-allowed/cancel"
REGISTRATION = "registration-required/auth"
CONFLICT = "conflict/cancel"


def row(default: str, **cells: str) -> dict[str, str]:
    """A row of the table: ``default`` for every role but those named (spaces as underscores)."""
    expected = {role: default for role in ROLES}
    for key, value in cells.items():
        role = key.replace("_", " ")
        assert role in expected, role
        expected[role] = value
    return expected


#: Non-occupants sending to a room: XEP-0045 7.4 and 7.5 say not-acceptable.
OUTSIDE = {role.replace(" ", "_"): NOT_ACCEPTABLE for role in ROLES if role not in OCCUPANTS}

EXPECTED: dict[str, dict[str, str]] = {
    # 7.2.8: outcasts are refused; the room is open, so everyone else enters.
    "join": row(OK, outcast=F),
    # 7.2.7: members-only rooms refuse non-members with registration-required.
    "join members-only": row(REGISTRATION, outcast=F, member=OK, admin=OK, owner=OK, global_admin=OK),
    # 7.4: visitors have no voice in a moderated room (forbidden).
    "speak": row(OK, visitor=F, **OUTSIDE),
    # 7.5: any occupant, even a visitor, may send a private message (allowpm = anyone).
    "private message": row(OK, **OUTSIDE),
    # 8.1: by default only moderators change the subject.
    "change subject": row(F, moderator=OK, admin=OK, owner=OK, **OUTSIDE),
    # 10.2: only owners configure (service administrators count as owners).
    "configure": row(F, owner=OK, global_admin=OK),
    # 8.2: moderators kick participants and visitors; the rest is forbidden.
    "kick": row(F, moderator=OK, admin=OK, owner=OK, global_admin=OK),
    # 8.2 and 8.5: nobody kicks or silences a higher affiliation: a moderator without one not a member.
    "silence a member": row(F, moderator=NOT_ALLOWED, admin=OK, owner=OK, global_admin=OK),
    # 8.2: nobody below kicks an admin; admins and owners keep their role (not-allowed).
    "kick an admin": row(F, moderator=NOT_ALLOWED, admin=NOT_ALLOWED, owner=NOT_ALLOWED, global_admin=NOT_ALLOWED),
    # 9.1: admins and owners ban; a moderator by role only may not.
    "ban": row(F, admin=OK, owner=OK, global_admin=OK),
    # 9.3: admins and owners grant membership.
    "grant membership": row(F, admin=OK, owner=OK, global_admin=OK),
    # 10.6: only owners grant admin status; an admin may not act at his own level.
    "grant admin": row(F, admin=NOT_ALLOWED, owner=OK, global_admin=OK),
    # XEP-0313 on an open room: everyone but outcasts reads it.
    "read archive": row(OK, outcast=F),
    # ... on a members-only room: members and above only.
    "read archive members-only": row(F, member=OK, admin=OK, owner=OK, global_admin=OK),
    # XEP-0424: the author retracts its own message (only those with voice ever said one).
    "retract own message": row(OK, visitor=F, **OUTSIDE),
    # XEP-0424: nobody retracts someone else's message, owners included (they moderate instead).
    "retract another's message": row(F, **OUTSIDE),
    # XEP-0425: moderators remove others' messages; everyone else is forbidden.
    "moderate": row(F, moderator=OK, admin=OK, owner=OK, global_admin=OK),
    # Support protocol 5.1 and 7: anyone may queue, but one open ticket per customer (conflict).
    "queue join": row(OK, customer=CONFLICT),
    # Support protocol 5.6 and 7: only the queue's agents answer offers (forbidden).
    "accept offer": row(F, agent=OK),
    # Support protocol 4.6 and 7: the customer, its agents and the supervisors read a conversation.
    "read ticket": row(F, customer=OK, agent=OK, supervisor=OK, global_admin=OK),
    # Support protocol 5.7: only the agent holding it or a supervisor works on a ticket (notes).
    "write ticket note": row(F, agent=OK, supervisor=OK, global_admin=OK),
    # Support protocol 4.7: queue commands are for the queue's agents and supervisors.
    "queue command": row(F, agent=OK, supervisor=OK, global_admin=OK),
    # XEP-0050 + admin plugin: service commands for global administrators only.
    "admin command": row(F, global_admin=OK),
    # ... room commands also for owners of a room, on their rooms.
    "room admin command": row(F, owner=OK, global_admin=OK),
}


class World:
    """Everything the cells act on, built once."""

    def __init__(self, clients: dict[str, Person]) -> None:
        self.clients = clients
        self.by_role = {role: clients[USER[role]] for role in ROLES}
        self.owner = clients[USER["owner"]]
        self.victim = clients[VICTIM]
        self.own_messages: dict[str, str] = {}    # role -> stanza-id of a message it said
        self.victim_message = ""
        self.ticket = ""                          # the customer's conversation, held by the agent
        self.outcomes: dict[str, dict[str, str]] = {action: {} for action in EXPECTED}

    def nick(self, role: str) -> str:
        return role.replace(" ", "-")

    async def victim_says(self) -> str:
        return await self.victim.say(ROOM, f"victim line {next_id()}")

    async def victim_back(self) -> None:
        """The victim is in the room with voice (after a kick)."""
        assert await self.victim.join(ROOM, VICTIM) == OK
        assert await self.owner.set_role(ROOM, VICTIM, "participant") == OK


async def build(app: Any, clients: dict[str, Person]) -> World:
    world = World(clients)
    owner = world.owner
    # Two persistent, archived rooms, configured before anyone else enters.
    for room, members_only in ((ROOM, False), (MEMBERS_ROOM, True)):
        assert await owner.join(room, "owner") == OK
        assert await owner.configure(room, persistentroom=True, moderatedroom=not members_only,
                                     membersonly=members_only, enablearchiving=True) == OK
        for user, affiliation in ((USER["admin"], "admin"), (USER["member"], "member"),
                                  (USER["outcast"], "outcast")):
            assert await owner.set_affiliation(room, jid(user), affiliation) == OK
        await owner.leave(room, "owner")
    # "join" and "join members-only": every role tries; those that are not to stay leave again.
    for role in ROLES:
        person = world.by_role[role]
        world.outcomes["join members-only"][role] = outcome = await person.join(MEMBERS_ROOM, world.nick(role))
        if outcome == OK:
            await person.leave(MEMBERS_ROOM, world.nick(role))
        world.outcomes["join"][role] = outcome = await person.join(ROOM, world.nick(role))
        if outcome == OK and role not in OCCUPANTS:
            await person.leave(ROOM, world.nick(role))
    assert await owner.set_role(ROOM, world.nick("participant"), "participant") == OK
    assert await owner.set_role(ROOM, world.nick("moderator"), "moderator") == OK
    await world.victim_back()
    world.victim_message = await world.victim_says()
    # The queue: the agent holds the customer's conversation and has the second customer offered.
    agent, customer, waiting = world.by_role["agent"], world.by_role["customer"], clients[WAITING]
    presence = agent.client.make_presence(pto=HELP)
    presence.xml.append(ET.fromstring(f"<agent-status xmlns='{NS_WG}'><max-chats>2</max-chats></agent-status>"))
    presence.send()
    engine = app.services[SUPPORT].plugins["support"].engine
    await until(lambda: engine.agents["help"].get(agent.bare), what="the agent available")
    for person in (customer, waiting):
        person.send_message(HELP, "<body>hello, I need help</body>", mtype="chat")
        offer = await agent.inbox.next(lambda m: m.xml.tag.endswith("}message") and m["type"] == "chat"
                                       and ticket_of(m) is not None and person.bare in (m["body"] or ""))
        if person is customer:
            world.ticket = ticket_of(offer)
            agent.send_message(f"t-{world.ticket}@{SUPPORT}", "<body>accept</body>", mtype="chat")
            await until(lambda: engine.tickets[world.ticket].state == "active", what="the conversation active")
    for person in clients.values():
        person.forget()
    return world


# -- the cells ---------------------------------------------------------------------------------
Cell = Callable[[World, str, Person], Awaitable[str]]


async def speak_and_remember(world: World, role: str, person: Person) -> str:
    mid = person.send_message(ROOM, f"<body>{role} speaks</body>")
    seen: dict[str, Any] = {}

    async def reflected() -> None:
        seen["message"] = await person.groupchat(ROOM, lambda m: m["id"] == mid)

    outcome = await person.message_outcome(mid, reflected)
    if outcome == OK:
        world.own_messages[role] = stanza_id(seen["message"], ROOM)
    return outcome


async def private_message(world: World, role: str, person: Person) -> str:
    body = f"psst from {role} {next_id()}"
    mid = person.send_message(f"{ROOM}/{VICTIM}", f"<body>{body}</body>", mtype="chat")
    return await person.message_outcome(mid, lambda: world.victim.inbox.next(
        lambda m: m.xml.tag.endswith("}message") and m["body"] == body))


async def change_subject(world: World, role: str, person: Person) -> str:
    mid = person.send_message(ROOM, f"<subject>Topic of {role}</subject>")
    return await person.message_outcome(mid, lambda: person.groupchat(ROOM, lambda m: m["id"] == mid))


async def configure(world: World, role: str, person: Person) -> str:
    return await person.configure(ROOM, roomname=f"Named by {role}")


async def kick(world: World, role: str, person: Person) -> str:
    outcome = await person.set_role(ROOM, VICTIM, "none")
    if outcome == OK:
        await world.victim.inbox.next(lambda s: s.xml.tag.endswith("}presence") and s["type"] == "unavailable"
                                      and "307" in status_codes(s))
        await world.victim_back()
    return outcome


async def silence_member(world: World, role: str, person: Person) -> str:
    outcome = await person.set_role(ROOM, world.nick("member"), "visitor")
    if outcome == OK:
        assert await world.owner.set_role(ROOM, world.nick("member"), "participant") == OK
    return outcome


async def kick_admin(world: World, role: str, person: Person) -> str:
    return await person.set_role(ROOM, world.nick("admin"), "none")


def affiliation_cell(affiliation: str) -> Cell:
    async def cell(world: World, role: str, person: Person) -> str:
        outcome = await person.set_affiliation(ROOM, jid(STRANGER), affiliation)
        if outcome == OK:
            assert await world.owner.set_affiliation(ROOM, jid(STRANGER), "none") == OK
        return outcome
    return cell


def read_archive(room: str) -> Cell:
    async def cell(world: World, role: str, person: Person) -> str:
        return await person.ask(room, mam_query(next_id("q")))
    return cell


def retraction(target_id: str) -> str:
    return (f"<retract xmlns='{NS_RETRACT}' id='{target_id}'/><fallback xmlns='urn:xmpp:fallback:0' "
            f"for='{NS_RETRACT}'/><body>This person retracted a previous message.</body>"
            "<store xmlns='urn:xmpp:hints'/>")


async def retract_own(world: World, role: str, person: Person) -> str:
    target = world.own_messages.get(role, world.victim_message)
    mid = person.send_message(ROOM, retraction(target))
    return await person.message_outcome(mid, lambda: person.groupchat(ROOM, lambda m: m["id"] == mid))


async def retract_other(world: World, role: str, person: Person) -> str:
    mid = person.send_message(ROOM, retraction(world.victim_message))
    return await person.message_outcome(mid, lambda: person.groupchat(ROOM, lambda m: m["id"] == mid))


async def moderate(world: World, role: str, person: Person) -> str:
    target = await world.victim_says()
    return await person.ask(ROOM, f"<moderate xmlns='{NS_MODERATE}' id='{target}'><retract xmlns='{NS_RETRACT}'/>"
                                  f"<reason>checked by {role}</reason></moderate>")


async def queue_join(world: World, role: str, person: Person) -> str:
    outcome = await person.ask(HELP, f"<join-queue xmlns='{NS_WG}'><queue-notifications/></join-queue>")
    if outcome == OK:
        assert await person.ask(HELP, f"<depart-queue xmlns='{NS_WG}'/>") == OK
    return outcome


async def accept_offer(world: World, role: str, person: Person) -> str:
    customer = world.clients[WAITING].full
    return await person.ask(HELP, f"<offer-accept xmlns='{NS_WG}' jid='{customer}'/>")


async def read_ticket(world: World, role: str, person: Person) -> str:
    return await person.ask(f"t-{world.ticket}@{SUPPORT}", mam_query(next_id("q")))


async def ticket_note(world: World, role: str, person: Person) -> str:
    return await person.ask(f"t-{world.ticket}@{SUPPORT}", f"<note xmlns='{NS_SUPPORT}'>seen by {role}</note>")


def command(to: str, node: str) -> Cell:
    async def cell(world: World, role: str, person: Person) -> str:
        outcome, answer = await person.iq(to, f"<command xmlns='{NS_COMMANDS}' node='{node}' action='execute'/>")
        if outcome == OK:
            status = answer.xml.find(f"{{{NS_COMMANDS}}}command")
            if status is not None and status.get("status") == "executing":
                await person.ask(to, f"<command xmlns='{NS_COMMANDS}' node='{node}' "
                                     f"sessionid='{status.get('sessionid')}' action='cancel'/>")
        return outcome
    return cell


#: Run in this order: "speak" records each role's own message before "retract own message".
CELLS: dict[str, Cell] = {
    "speak": speak_and_remember,
    "private message": private_message,
    "change subject": change_subject,
    "configure": configure,
    "kick": kick,
    "silence a member": silence_member,
    "kick an admin": kick_admin,
    "ban": affiliation_cell("outcast"),
    "grant membership": affiliation_cell("member"),
    "grant admin": affiliation_cell("admin"),
    "read archive": read_archive(ROOM),
    "read archive members-only": read_archive(MEMBERS_ROOM),
    "retract own message": retract_own,
    "retract another's message": retract_other,
    "moderate": moderate,
    "queue join": queue_join,
    "accept offer": accept_offer,
    "read ticket": read_ticket,
    "write ticket note": ticket_note,
    "queue command": command(HELP, "support-tickets"),
    "admin command": command(ROOMS, "admin-stats"),
    "room admin command": command(ROOMS, "room-info"),
}


def allowed(action: str) -> int:
    return sum(1 for role in ROLES if EXPECTED[action][role] == OK)


async def no_side_effects_of_refusals(app: Any, world: World) -> None:
    """A refusal changed nothing: the world holds exactly what the allowed cells did."""
    owner = world.owner
    # Nobody was kicked but by the allowed kicks (each consumed its own 307).
    assert not [s for s in world.victim.inbox.items if s.xml.tag.endswith("}presence") and "307" in status_codes(s)]
    # Affiliations: the allowed grants were undone, the refused ones never happened.
    for affiliation, expected in (("outcast", {jid(USER["outcast"])}), ("member", {jid(USER["member"])}),
                                  ("admin", {jid(USER["admin"])})):
        outcome, answer = await owner.iq(ROOM, f"<query xmlns='{NS_ADMIN}'><item affiliation='{affiliation}'/>"
                                               "</query>", itype="get")
        assert outcome == OK
        assert {i.get("jid") for i in answer.xml.iter(f"{{{NS_ADMIN}}}item")} == expected, affiliation
    # The archive: only the allowed retractions and moderations became tombstones.
    archive = await owner.archive(ROOM)
    tombstones = [m for _, m in archive if m.find(f"{{{NS_RETRACT}}}retracted") is not None]
    assert len(tombstones) == allowed("retract own message") + allowed("moderate")
    assert any(archive_id == world.victim_message and m.find(f"{{{NS_RETRACT}}}retracted") is None
               for archive_id, m in archive), "someone else's retraction took effect"
    # The conversation is still the agent's, with one note per allowed note.
    support = app.services[SUPPORT].plugins["support"].engine
    assert support.tickets[world.ticket].agent == jid(USER["agent"])
    assert len(await support.store.notes(world.ticket)) == allowed("write ticket note")


async def test_every_action_against_every_role(component, prosody):
    assert set(CELLS) | {"join", "join members-only"} == set(EXPECTED)
    for user in (VICTIM, STRANGER):
        prosody.register(user, harness.password(user))
    support = {"queues": [{"name": "help", "agents": [jid("agent1")], "supervisors": [jid("super")],
                           "offer_timeout": 300.0, "grace_period": 300.0}],
               "liveness_interval": 0.0, "status_interval": 60.0}
    app = await component({
        ROOMS: {"muc": {"lock_new_rooms": False}, "mam": {}, "recall": {}, "admin": {}},
        SUPPORT: {"mam": {}, "support": support},
    })
    users = sorted(set(USER.values()) | {VICTIM, STRANGER, WAITING})
    async with people(prosody.ports.c2s, *users) as clients:
        world = await build(app, clients)
        for action, cell in CELLS.items():
            for role in ROLES:
                person = world.by_role[role]
                world.outcomes[action][role] = await cell(world, role, person)
                person.forget()
        await no_side_effects_of_refusals(app, world)
    mismatches = [f"{action:26} {role:12} expected {EXPECTED[action][role]:24} got {world.outcomes[action][role]}"
                  for action in EXPECTED for role in ROLES
                  if world.outcomes[action][role] != EXPECTED[action][role]]
    assert not mismatches, "authorization differs from the specifications:\n" + "\n".join(mismatches)
    # The table is not trivially satisfied: both kinds of cells occur for every role.
    for role in ROLES:
        column = [EXPECTED[action][role] for action in EXPECTED]
        assert OK in column and any(value != OK for value in column), role
