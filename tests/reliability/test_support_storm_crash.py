"""``kill -9`` of the component in the middle of a storm of customers, then a restart.

Customers all write to the queue at once while two agents hold offers they do not answer; the
component process is killed while the storm is still arriving. After the restart:
- every customer the queue had answered (so their ticket was stored) has their ticket and their
  first message in the conversation's archive: no ticket and no acknowledged message is lost;
- the waiting customers resume in the order the database held at the kill (each asks its
  position with XEP-0142 ``queue-status``);
- the offers pending at the kill are offered again to the same agents;
- no customer message is lost and none is stored twice: customers write two messages each, ask for
  XEP-0184 receipts and send again (same id and origin-id) what has none, as the web widget does,
  so what the server had written to the killed process's socket arrives too.

The storm is scaled to keep the test short (``CUSTOMERS`` anonymous visitors of the guest host); the
benchmark runs the full size.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .. import harness
from ..web.guest import guest
from .kit import NS_SID, NS_WG, OK, ROOMS, SUPPORT, Person, jid, people, ticket_of
from .test_crash import HELP, ComponentProcess, agent_available, consistency

pytestmark = pytest.mark.integration

CUSTOMERS = 60
#: Customers who write only just before the kill: so the kill always finds some unanswered, and messages on their way.
HELD_BACK = 5
RECEIPTS = "urn:xmpp:receipts"
#: A message with no receipt is sent again this long after its last copy (the widget waits 10 s).
RESEND_S = 1.5
MARKER = re.compile(r"\[c(\d+)/(\d+)\]")
STORM_SERVICES = {
    ROOMS: {"muc": {"lock_new_rooms": False}, "mam": {}},
    SUPPORT: {"mam": {}, "support": {
        "queues": [{"name": "help", "agents": [jid("agent1"), jid("agent2")], "offer_timeout": 300.0,
                    "grace_period": 300.0, "max_waiting": 1000}],
        "liveness_interval": 0.0, "status_interval": 60.0}},
}


class StormComponent(ComponentProcess):
    def __init__(self, prosody, tmp_path) -> None:  # type: ignore[no-untyped-def]
        super().__init__(prosody, tmp_path)
        self.config.write_text(harness.make_config_text(prosody.ports.component, STORM_SERVICES,
                                                        tmp_path / "state", self.db_url))


async def stored(db_url: str) -> tuple[list[tuple[str, str]], dict[str, str], dict[str, tuple[str, ...]], set[str]]:
    """(waiting (ticket, customer) in routing order, {customer: ticket}, {ticket: offered agents},
    customers with their first message archived in their conversation), as the database holds them."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT id, customer, state, priority, queued_at, created_at, offers FROM support_tickets"))).all()
            archived = {r[0] for r in (await conn.execute(text(
                "SELECT DISTINCT archive FROM mam_messages"))).all()}
    finally:
        await engine.dispose()
    import json

    waiting = sorted((r for r in rows if r[2] in ("queued", "offered")), key=lambda r: (-r[3], r[4] or r[5], r[0]))
    offers = {}
    for r in rows:
        if r[2] == "offered":
            raw = r[6] if isinstance(r[6], dict) else json.loads(r[6] or "{}")
            offers[r[0]] = tuple(sorted(full.split("/", 1)[0] for full in raw))
    with_message = {r[1] for r in rows if f"t-{r[0]}@{SUPPORT}" in archived}
    return [(r[0], r[1]) for r in waiting], {r[1]: r[0] for r in rows}, offers, with_message


async def test_kill_9_in_a_customer_storm_keeps_tickets_order_and_offers(prosody, tmp_path):
    async with people(prosody.ports.c2s, "agent1", "agent2", "super") as p, \
            contextlib.AsyncExitStack() as stack:
        # Customers are website visitors: anonymous logins on the guest host, as many as we like.
        # Ten at a time: sixty logins at once can outlast a login's timeout on a busy machine.
        guests = []
        for _ in range(0, CUSTOMERS, 10):
            guests += await asyncio.gather(*(stack.enter_async_context(guest(prosody.ports.c2s))
                                             for _ in range(10)))
        customers = {client.boundjid.bare: Person(client, client.boundjid.user) for client in guests}
        component = StormComponent(prosody, tmp_path)
        try:
            await component.start(p["super"])
            await storm(component, p, customers)
        except BaseException:
            print(component.log.read_text()[-4000:] if component.log.exists() else "(no log)")
            raise
        finally:
            await component.stop()


class Receipted:
    """Customers' messages asking for receipts, each sent again while it has none."""

    def __init__(self) -> None:
        self.sent: dict[str, tuple[Person, str]] = {}  # id (also the origin-id) -> (sender, body)
        self.last: dict[str, float] = {}
        self.copies: Counter[str] = Counter()
        self.receipts: set[str] = set()

    def send(self, person: Person, n: int, seq: int, text: str) -> None:
        mid = f"c{n}-{seq}"
        self.sent[mid] = (person, f"{text} [c{n}/{seq}]")
        self._send(mid)

    def _send(self, mid: str) -> None:
        person, body = self.sent[mid]
        person.send_message(HELP, f"<body>{body}</body><request xmlns='{RECEIPTS}'/>"
                                  f"<origin-id xmlns='{NS_SID}' id='{mid}'/>", mtype="chat", mid=mid)
        self.last[mid], self.copies[mid] = time.monotonic(), self.copies[mid] + 1

    def pump(self) -> None:
        """Note the receipts in the customers' inboxes (before they are forgotten)."""
        for person, _body in self.sent.values():
            for m in person.inbox.items:
                received = m.xml.find(f"{{{RECEIPTS}}}received")
                if received is not None and m["from"].bare == HELP:
                    self.receipts.add(received.get("id", ""))

    def resend_due(self) -> list[str]:
        self.pump()
        due = [mid for mid in self.sent if mid not in self.receipts and time.monotonic() - self.last[mid] >= RESEND_S]
        for mid in due:
            self._send(mid)
        return due


def answered(person) -> bool:  # type: ignore[no-untyped-def]
    """The queue answered this customer (a message carrying their ticket)."""
    return any(m.xml.tag.endswith("}message") and m["type"] == "chat" and m["from"].bare == HELP
               and ticket_of(m) is not None for m in person.inbox.items)


async def storm(component: StormComponent, p: dict, customers: dict) -> None:
    agent1, agent2 = p["agent1"], p["agent2"]
    await agent_available(agent1, 2)
    await agent_available(agent2, 1)
    # The first customers are offered to the agents, who leave the offers unanswered (an agent
    # holds one offer at a time); then the storm: the other customers write a few milliseconds
    # apart, and the kill comes at the storm's first answer (typically with ~50 written and ~5
    # answered). Tickets are written in batches, so answers come in bursts: written all at once,
    # the storm could be answered in one burst before the kill lands; the last few are held back
    # until the first answer, so the kill always finds customers unanswered.
    everyone = list(customers.values())
    first, rest = everyone[:3], everyone[3:]
    mail = Receipted()

    def write(n: int, person: Person) -> None:
        mail.send(person, n, 1, f"customer {n} needs help")
        mail.send(person, n, 2, f"customer {n}: it is order 7-{n}")  # while the first is on its way

    for n, person in enumerate(first):
        write(n, person)
    deadline = time.monotonic() + 15
    while len((await stored(component.db_url))[2]) < 2:
        assert time.monotonic() < deadline, "the first customers were not offered"
        await asyncio.sleep(0.05)
    unsent = list(enumerate(rest, start=len(first)))
    deadline = time.monotonic() + 30
    while not any(answered(c) for c in rest):
        assert time.monotonic() < deadline, "the storm was not answered"
        if len(unsent) > HELD_BACK:
            write(*unsent.pop(0))
        await asyncio.sleep(0.002)
    # The held-back customers write just as the process is killed: their messages are on their way (in
    # the clients, in Prosody, or written to the component's socket) when it dies, and no receipt can
    # have come for them. (Killed a few milliseconds later, a quiet machine had answered them all.)
    for n, person in unsent:
        write(n, person)
    await component.kill()
    mail.pump()
    answered_before = {bare for bare, c in customers.items() if answered(c)}
    waiting, tickets, offers, with_message = await stored(component.db_url)
    assert answered_before and len(answered_before) < len(customers), "the kill did not fall in the storm"
    # Nothing the queue acknowledged is lost: the ticket and the customer's message were stored first.
    assert answered_before <= set(tickets), sorted(answered_before - set(tickets))[:5]
    assert answered_before <= with_message, sorted(answered_before - with_message)[:5]
    assert offers, "no offer was pending at the kill"
    for person in [*p.values(), *customers.values()]:
        person.forget()

    await component.start(p["super"])
    await consistency(component.db_url)
    # The offers pending at the kill come again to the same agents.
    agents = {"agent1@localhost": agent1, "agent2@localhost": agent2}
    for ticket, holders in offers.items():
        for holder in holders:
            await agents[holder].inbox.next(lambda m: m["type"] == "chat" and ticket_of(m) == ticket, 15)
    # The waiting customers resume in the stored order (those offered count as ahead, as before).
    for position, (ticket, customer) in enumerate(waiting):
        if ticket in offers:
            continue
        person = customers[customer]
        outcome, status = await person.iq(HELP, f"<queue-status xmlns='{NS_WG}'/>", itype="get")
        assert outcome == OK, (customer, outcome)
        assert status.xml.findtext(f"{{{NS_WG}}}queue-status/{{{NS_WG}}}position") == str(position), \
            (customer, position)
    # And the queue carries on: the first agent takes the offer and talks.
    ticket = next(iter(offers))
    session = f"t-{ticket}@{SUPPORT}"
    holder = agents[offers[ticket][0]]
    holder.send_message(session, "<body>accept</body>", mtype="chat")
    holder.send_message(session, "<body>sorry for the wait</body>", mtype="chat")
    customer = next(c for t, c in waiting if t == ticket)
    await customers[customer].inbox.next(lambda m: m["type"] == "chat"
                                                 and m["body"] == "sorry for the wait", 15)
    # Everyone sent again what got no receipt: every message is in the conversations' archives once,
    # none lost, none twice.
    deadline = time.monotonic() + 20
    while mail.resend_due() or len(mail.receipts & set(mail.sent)) < len(mail.sent):
        assert time.monotonic() < deadline, sorted(set(mail.sent) - mail.receipts)[:5]
        await asyncio.sleep(0.05)
    copies = await archived_copies(component.db_url)
    lost = [mid for mid, (_p, body) in mail.sent.items() if copies[body[body.rindex("["):]] == 0]
    twice = [mid for mid, (_p, body) in mail.sent.items() if copies[body[body.rindex("["):]] > 1]
    assert not lost and not twice, (lost[:5], twice[:5])
    assert len(copies) == len(mail.sent)
    resent = [mid for mid, n in mail.copies.items() if n > 1]
    assert resent, "nothing was sent again: the kill found no message on its way"


async def archived_copies(db_url: str) -> Counter[str]:
    """How many archived rows hold each customer message marker (``[c<n>/<seq>]``)."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT stanza FROM mam_messages WHERE archive LIKE 't-%'"))).all()
    finally:
        await engine.dispose()
    found: Counter[str] = Counter()
    for (stanza,) in rows:
        found.update({f"[c{n}/{seq}]" for n, seq in MARKER.findall(stanza or "")})
    return found
