"""Load limits, each with the error its specification names and nothing leaking past it.

- flood control per occupant and per customer (core limits: resource-constraint, wait);
- body size and stanza shape (core limits: policy-violation, modify);
- rooms per user (muc ``max_rooms_per_user``: XEP-0045 10.1.1 not-allowed);
- occupants per room (muc ``default_max_users`` / maxusers: XEP-0045 7.2.10 service-unavailable);
- waiting customers per queue (support ``max_waiting``: XEP-0142 and our protocol, service-unavailable);
- MAM page size (mam ``max_page_size``: XEP-0059 lets the responder return fewer items than asked).
"""

from __future__ import annotations

import pytest

from .kit import (NS_MAM, NS_RSM, NS_WG, OK, ROOMS, SUPPORT, jid, next_id, people, ticket_of, until)

pytestmark = pytest.mark.integration

HELP = f"help@{SUPPORT}"
RESOURCE = "resource-constraint/wait"
POLICY = "policy-violation/modify"


async def test_flood_control_per_occupant_keeps_others_talking(component, prosody):
    await component({ROOMS: {"muc": {"lock_new_rooms": False}}},
                    limits={"message_rate": 0.2, "message_burst": 3, "max_body_chars": 200})
    room = f"flood@{ROOMS}"
    async with people(prosody.ports.c2s, "alice", "bob") as p:
        alice, bob = p["alice"], p["bob"]
        assert await alice.join(room, "alice") == OK
        assert await bob.join(room, "bob") == OK
        sent = [alice.send_message(room, f"<body>burst {i}</body>") for i in range(5)]
        for mid in sent[:3]:
            await bob.groupchat(room, lambda m, mid=mid: m["id"] == mid)
        for mid in sent[3:]:
            error = await alice.inbox.next(lambda m, mid=mid: m["type"] == "error" and m["id"] == mid)
            assert f"{error['error']['condition']}/{error['error']['type']}" == RESOURCE
        # The flood cost only alice: bob still speaks, and nobody saw what was refused.
        assert await bob.say(room, "bob is fine")
        await bob.inbox.quiet(lambda m: m["type"] == "groupchat" and m["id"] in sent[3:], 0.3)
        # Too long and too deep are refused before any room sees them.
        mid = bob.send_message(room, f"<body>{'x' * 201}</body>")
        error = await bob.inbox.next(lambda m: m["type"] == "error" and m["id"] == mid)
        assert f"{error['error']['condition']}/{error['error']['type']}" == POLICY
        deep = "".join("<x xmlns='urn:example:deep'>" for _ in range(40)) + "</x>" * 40
        outcome = await bob.ask(room, f"<query xmlns='http://jabber.org/protocol/disco#info'>{deep}</query>",
                                itype="get")
        assert outcome == POLICY
        wide = "<i xmlns='urn:example:wide'/>" * 600
        assert await bob.ask(room, f"<query xmlns='http://jabber.org/protocol/disco#info'>{wide}</query>",
                             itype="get") == POLICY
        await alice.inbox.quiet(lambda m: m["type"] == "groupchat" and "x" * 201 in (m["body"] or ""), 0.3)


async def test_flood_control_per_customer(component, prosody):
    support = {"queues": [{"name": "help", "agents": [jid("agent1")]}], "liveness_interval": 0.0}
    await component({SUPPORT: {"mam": {}, "support": support}}, limits={"message_rate": 0.2, "message_burst": 2})
    async with people(prosody.ports.c2s, "cust1", "cust2") as p:
        cust1, cust2 = p["cust1"], p["cust2"]
        sent = [cust1.send_message(HELP, f"<body>help {i}</body>", mtype="chat") for i in range(4)]
        for mid in sent[2:]:
            error = await cust1.inbox.next(lambda m, mid=mid: m["type"] == "error" and m["id"] == mid)
            assert f"{error['error']['condition']}/{error['error']['type']}" == RESOURCE
        # Another customer is not slowed down by the first one's flood.
        cust2.send_message(HELP, "<body>hello</body>", mtype="chat")
        notice = await cust2.inbox.next(lambda m: m["type"] == "chat" and ticket_of(m) is not None)
        assert notice["from"].bare == HELP


async def test_rooms_per_user(component, prosody):
    await component({ROOMS: {"muc": {"max_rooms_per_user": 1, "lock_new_rooms": False}}})
    async with people(prosody.ports.c2s, "alice", "admin") as p:
        alice, admin = p["alice"], p["admin"]
        assert await alice.join(f"first@{ROOMS}", "alice") == OK
        # XEP-0045 10.1.1: a user who may not create a room gets not-allowed.
        assert await alice.join(f"second@{ROOMS}", "alice") == "not-allowed/cancel"
        # Administrators are not limited, and entering a room someone else owns is not creating one.
        for name in ("third", "fourth"):
            assert await admin.join(f"{name}@{ROOMS}", "admin") == OK
        assert await alice.join(f"third@{ROOMS}", "alice") == OK
        # Leaving a temporary room deletes it, which frees the quota.
        await alice.leave(f"first@{ROOMS}", "alice")
        assert await alice.join(f"second@{ROOMS}", "alice") == OK


async def test_occupants_per_room(component, prosody):
    await component({ROOMS: {"muc": {"default_max_users": 2, "lock_new_rooms": False}}})
    room = f"small@{ROOMS}"
    async with people(prosody.ports.c2s, "alice", "bob", "carol", "dave") as p:
        assert await p["alice"].join(room, "alice") == OK
        assert await p["alice"].set_affiliation(room, jid("carol"), "admin") == OK
        assert await p["bob"].join(room, "bob") == OK
        # XEP-0045 7.2.10: a full room answers service-unavailable ...
        assert await p["dave"].join(room, "dave") == "service-unavailable/cancel"
        await p["bob"].inbox.quiet(lambda s: s["from"].full == f"{room}/dave", 0.2)
        # ... but admins and owners still enter, and a freed seat is taken again.
        assert await p["carol"].join(room, "carol") == OK
        await p["bob"].leave(room, "bob")
        assert await p["dave"].join(room, "dave") == "service-unavailable/cancel"  # still 2: alice and carol
        await p["carol"].leave(room, "carol")
        assert await p["dave"].join(room, "dave") == OK


async def test_waiting_customers_per_queue(component, prosody):
    support = {"queues": [{"name": "help", "agents": [jid("agent1")], "max_waiting": 1}],
               "liveness_interval": 0.0}
    app = await component({SUPPORT: {"mam": {}, "support": support}})
    engine = app.services[SUPPORT].plugins["support"].engine
    async with people(prosody.ports.c2s, "cust1", "cust2", "cust3") as p:
        assert await p["cust1"].ask(HELP, f"<join-queue xmlns='{NS_WG}'/>") == OK
        # XEP-0142 and our protocol (section 7): a full queue refuses with service-unavailable ...
        assert await p["cust2"].ask(HELP, f"<join-queue xmlns='{NS_WG}'/>") == "service-unavailable/cancel"
        # ... and a plain-chat customer is told so in words, without a ticket.
        p["cust3"].send_message(HELP, "<body>hello</body>", mtype="chat")
        told = await p["cust3"].inbox.next(lambda m: m["type"] == "chat" and "too many" in (m["body"] or ""))
        assert ticket_of(told) is None
        assert sum(1 for t in engine.tickets.values() if t.state in ("queued", "offered")) == 1
        # A seat frees up when a customer leaves.
        assert await p["cust1"].ask(HELP, f"<depart-queue xmlns='{NS_WG}'/>") == OK
        await until(lambda: not engine.tickets, what="the first customer gone")
        assert await p["cust2"].ask(HELP, f"<join-queue xmlns='{NS_WG}'/>") == OK


async def test_archive_page_size(component, prosody):
    await component({ROOMS: {"muc": {"lock_new_rooms": False, "default_archiving": "on"},
                             "mam": {"max_page_size": 5}}})
    room = f"paged@{ROOMS}"
    async with people(prosody.ports.c2s, "alice") as p:
        alice = p["alice"]
        assert await alice.join(room, "alice") == OK
        said = [await alice.say(room, f"line {i}") for i in range(8)]
        for rsm in ("<max>100</max>", ""):
            queryid = next_id("q")
            outcome, answer = await alice.iq(room, f"<query xmlns='{NS_MAM}' queryid='{queryid}'>"
                                                   f"<set xmlns='{NS_RSM}'>{rsm}</set></query>")
            assert outcome == OK
            results = [m for m in alice.inbox.items if (r := m.xml.find(f"{{{NS_MAM}}}result")) is not None
                       and r.get("queryid") == queryid]
            assert [m.xml.find(f"{{{NS_MAM}}}result").get("id") for m in results] == said[:5]
            fin = answer.xml.find(f"{{{NS_MAM}}}fin")
            assert fin.get("complete") not in ("true", "1")
            assert fin.findtext(f"{{{NS_RSM}}}set/{{{NS_RSM}}}count") == "8"
        # Paging on reaches everything, five at a time.
        assert [stanza_id for stanza_id, _ in await alice.archive(room, page=100)] == said
