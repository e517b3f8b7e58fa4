"""Bad input at the support desk gets a clear refusal and the desk keeps serving: a customer flooding
the queue address, forged conversation addresses, an offer answered after it was withdrawn, and
commands from people without the right."""

from __future__ import annotations

import pytest

from .kit import NS_COMMANDS, NS_SUPPORT, NS_WG, OK, SUPPORT, people, ticket_of, until
from .test_crash import HELP, agent_available

pytestmark = pytest.mark.integration

SERVICES = {SUPPORT: {"mam": {}, "support": {
    "queues": [{"name": "help", "agents": ["agent1@localhost"], "supervisors": ["super@localhost"],
                "offer_timeout": 120.0, "grace_period": 120.0},
               {"name": "sales", "agents": ["agent2@localhost"]}],
    "liveness_interval": 0.0, "status_interval": 60.0}}}


def error_to(person, mid):  # type: ignore[no-untyped-def]
    return person.inbox.next(lambda m: m["type"] == "error" and m["id"] == mid)


async def test_floods_forgeries_withdrawn_offers_and_missing_rights(component, prosody):
    app = await component(SERVICES)
    engine = app.services[SUPPORT].plugins["support"].engine
    async with people(prosody.ports.c2s, "agent1", "agent2", "super", "cust1", "cust2", "cust3") as p:
        agent1, agent2, cust1, cust2, cust3 = (p[u] for u in ("agent1", "agent2", "cust1", "cust2", "cust3"))

        # A flood at the queue address: one ticket, every line kept in order, nobody else held up.
        for n in range(40):
            cust1.send_message(HELP, f"<body>flood {n}</body>", mtype="chat")
        cust2.send_message(HELP, "<body>just one question</body>", mtype="chat")
        await cust2.inbox.next(lambda m: m["type"] == "chat" and ticket_of(m) is not None)
        await until(lambda: sum(1 for t in engine.tickets.values() if t.customer == cust1.bare) == 1
                    and engine.open_ticket("help", cust1.bare) is not None, what="the flooder's one ticket")
        assert sum(1 for t in engine.tickets.values() if t.customer == cust1.bare) == 1

        # Forged conversation addresses: no such ticket, in a message, an IQ and a command.
        mid = cust3.send_message(f"t-nosuchticket@{SUPPORT}", "<body>hello?</body>", mtype="chat")
        error = await error_to(cust3, mid)
        assert (error["error"]["condition"], error["error"]["type"]) == ("item-not-found", "cancel")
        assert await cust3.ask(f"t-nosuchticket@{SUPPORT}", f"<close xmlns='{NS_SUPPORT}'/>") == \
            "item-not-found/cancel"
        assert await cust3.ask(f"t-nosuchticket@{SUPPORT}", f"<command xmlns='{NS_COMMANDS}' node='support-close' "
                                                            "action='execute'/>") == "forbidden/auth"

        # An offer withdrawn (the customer left) cannot be accepted: chat, XEP-0050 and XEP-0142 all refuse.
        await agent_available(agent1, 1)
        await until(lambda: any(t.state == "offered" for t in engine.tickets.values()), what="an offer")
        first = next(t for t in engine.tickets.values() if t.state == "offered")
        leaving, staying = (cust1, cust2) if first.customer == cust1.bare else (cust2, cust1)
        ticket = first.id
        await agent1.inbox.next(lambda m: m["type"] == "chat" and ticket_of(m) == ticket, 15)  # the offer came
        session = f"t-{ticket}@{SUPPORT}"
        assert await leaving.ask(HELP, f"<depart-queue xmlns='{NS_WG}'/>") == OK
        await until(lambda: ticket not in engine.tickets, what="the ticket abandoned")
        mid = agent1.send_message(session, "<body>accept</body>", mtype="chat")
        error = await error_to(agent1, mid)
        assert error["error"]["condition"] == "item-not-found"  # only offered: the ended ticket is not theirs
        assert await agent1.ask(session, f"<command xmlns='{NS_COMMANDS}' node='support-accept' "
                                         "action='execute'/>") == "forbidden/auth"
        assert await agent1.ask(HELP, f"<offer-accept xmlns='{NS_WG}' jid='{leaving.full}'/>") == \
            "item-not-found/cancel"
        assert engine.load_of(agent1.bare) == 1  # the other customer is offered to agent1 now; nothing else

        # Without the right: a supervisor taking a ticket (agents only), an agent whispering (supervisors
        # only), another queue's agent writing a note, a customer closing by IQ.
        kept = engine.open_ticket("help", staying.bare).id
        kept_session = f"t-{kept}@{SUPPORT}"
        p["super"].send_message(HELP, f"<body>/take {kept}</body>", mtype="chat")
        refused = await p["super"].inbox.next(lambda m: m["type"] == "chat" and "/take" in (m["body"] or ""))
        assert "You may not use /take here" in refused["body"]
        agent1.send_message(kept_session, "<body>accept</body>", mtype="chat")
        await until(lambda: engine.tickets[kept].state == "active", what="the other customer served")
        agent1.send_message(kept_session, "<body>/whisper psst</body>", mtype="chat")
        refused = await agent1.inbox.next(lambda m: m["type"] == "chat" and "/whisper" in (m["body"] or ""))
        assert "You may not use /whisper here" in refused["body"]
        assert await agent2.ask(kept_session, f"<note xmlns='{NS_SUPPORT}'>mine</note>") == "forbidden/auth"
        assert await staying.ask(kept_session, f"<close xmlns='{NS_SUPPORT}'/>") == "forbidden/auth"
        assert engine.tickets[kept].state == "active"
        assert [kind for kind, *_ in await engine.store.events(kept)].count("whisper") == 0
