"""What a storm asks of the store at once is done in batches: the customers' latest tickets come from
few queries, and agents coming online together are stored in few transactions."""

from __future__ import annotations

import asyncio

from component.storage import Database, Migrations
from plugins.support.model import Resource, Ticket
from plugins.support.plugin import SupportPlugin
from plugins.support.store import SupportStore

from .. import harness


async def test_latest_tickets_of_many_customers_at_once(tmp_path):
    db = Database(harness.database_url(tmp_path))
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    store = SupportStore(db)
    try:
        # Ids grow with time: each customer's later ticket has the larger id; "sales" is another entry.
        for n in range(60):
            for rank, entry in enumerate(("help", "help", "sales")):
                await store.save(Ticket(id=f"t{rank}{n:03d}", queue=entry, entry=entry, customer=f"c{n}@x",
                                        customer_jid=f"c{n}@x/r", lang="en", created_at=float(rank)))
        customers = [f"c{n}@x" for n in range(60)] + ["nobody@x"]
        found = await asyncio.gather(*(store.latest_ticket("help", c) for c in customers))
        assert [t.id if t else None for t in found] == [f"t1{n:03d}" for n in range(60)] + [None]
        assert (await store.latest_ticket("sales", "c7@x")).id == "t2007"
        assert store._latest.queries <= 3 and store._latest.keys == 62
    finally:
        await db.close()


async def test_presences_of_agents_coming_and_going_at_once(tmp_path):
    db = Database(harness.database_url(tmp_path))
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    store = SupportStore(db)
    try:
        await asyncio.gather(*(store.presence_changed("help", Resource(f"a{n}@x/r", "chat", 3, 1.0), f"a{n}@x/r")
                               for n in range(50)))
        # Gone, back as away, and a new one, all at once: each kept as last changed.
        await asyncio.gather(store.presence_changed("help", None, "a1@x/r"),
                             store.presence_changed("help", Resource("a2@x/r", "chat", 3, 2.0), "a2@x/r"),
                             store.presence_changed("help", Resource("a2@x/r", "away", 2, 3.0), "a2@x/r"),
                             store.presence_changed("sales", Resource("a1@x/r", "dnd", None, 3.0), "a1@x/r"))
        stored = {(q, r.jid): (r.show, r.max_chats) for q, r in await store.presences()}
        assert len(stored) == 50 and ("help", "a1@x/r") not in stored
        assert stored[("help", "a2@x/r")] == ("away", 2) and stored[("sales", "a1@x/r")] == ("dnd", None)
        assert store._presences.batches <= 4
    finally:
        await db.close()
