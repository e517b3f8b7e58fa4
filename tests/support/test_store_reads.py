"""The customers' latest tickets, asked by a storm of new customers at once, come from few queries."""

from __future__ import annotations

import asyncio

from component.storage import Database, Migrations
from plugins.support.model import Ticket
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
