"""A day of conversations driven through the real support engine with a controlled clock.

The events are the rows the engine records (kinds, actors, data, queues), so the reports are checked
against what the queue really writes, not against a hand-written imitation. Hand-computed figures:

  t1  09:00 help, queued; offered to A; A accepts 09:01 (wait 60), writes 09:01:30 (first response 90),
            closes 09:11:30 (handle 630); the customer rates 4
  t2  09:30 help, the bot keeps it; hands off 09:32; A accepts 09:34 (wait 120), writes 09:35 (first
            response 180); A transfers to sales 09:40 (A: 360); C accepts 09:41 (C waited 60), closes
            09:50 (C: 540; 900 in all); rated 2 (for C, who held it last). Counts in help, where it started.
  t3  10:00 help, the bot keeps it and closes it at 10:01 (bot-resolved)
  t4  10:30 help, queued, offered to A who rejects at 10:31; the customer leaves at 10:35 (abandoned)
  t1' 13:00 the customer of t1 writes again: t1 reopens (a new conversation), back to A who accepts at
            13:02 (wait 120), writes 13:03 (its own first response: 180, not t1's 90) and waits for the
            customer from 13:05 (A: 180); the customer answers at 14:00, back to A who accepts at 14:01
            (A waited 60 on that turn) and closes at 14:05 (A: 240). Handle 420: the 55 minutes pending
            are the customer's, not the agent's.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from component.hooks import HookBus
from component.storage import Database, Migrations
from plugins.support import hooks as events
from plugins.support.options import QueueOptions, SupportOptions
from plugins.support.plugin import SupportPlugin
from plugins.support.engine import SupportEngine
from plugins.support.store import SupportStore

DAY = datetime(2026, 11, 20, tzinfo=timezone.utc).timestamp()
NEXT_DAY = DAY + 86400
A, B, C = "a@x", "b@x", "c@x"

HELP = {"conversations": 5, "bot": 2, "bot_resolved": 1, "bot_resolved_share": 0.2, "handed_off": 1,
        "handoff_rate": 0.5, "queued": 4, "answered": 3, "abandoned": 1, "abandonment_rate": 0.25,
        "wait_avg": 100.0, "wait_p90": 120.0, "first_response_avg": 150.0, "handle_avg": 650.0, "transfers": 1,
        "csat_count": 2, "csat_avg": 3.0, "csat_2": 1, "csat_4": 1}
AGENT_A = {"conversations": 3, "answered": 4, "wait_avg": 90.0, "first_response_avg": 150.0, "handle_avg": 470.0,
           "transfers": 1, "csat_count": 1, "csat_avg": 4.0}
AGENT_C = {"conversations": 1, "answered": 1, "wait_avg": 60.0, "first_response_avg": None, "handle_avg": 540.0,
           "transfers": 0, "csat_count": 1, "csat_avg": 2.0}


class QuietOutbox:
    """Stands in for the network: offers are 'sent', probes find everyone online, the rest is dropped."""

    def offer_now(self, t: Any, agent_jid: str, timeout: float, body: str) -> str:
        return ""  # always through offer()

    def known_offer_form(self, agent_jid: str) -> str:
        return ""

    async def offer(self, t: Any, agent_jid: str, timeout: float, body: str, via: str = "") -> str:
        return "chat"

    async def connect_agent(self, t: Any, agent_jid: str, intro: str) -> None:
        return None

    async def probe(self, jid: str) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def at(hh: int, mm: int, ss: int = 0) -> float:
    return DAY + hh * 3600 + mm * 60 + ss


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def record_day(url: str) -> None:
    """Run the scripted day on the database at ``url`` (migrated here)."""
    db = Database(url)
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    clock = [at(8, 0)]
    hooks = HookBus()
    # The bot stand-in keeps customers whose first words are "bot ...".
    hooks.on(events.BEFORE_QUEUE, lambda e: True if e.body.startswith("bot") else None)
    options = SupportOptions(queues=[
        QueueOptions(name="help", agents=[A, B], offer_timeout=3600.0),
        QueueOptions(name="sales", agents=[C], offer_timeout=3600.0)], status_interval=0.0, liveness_interval=0.0)
    engine = SupportEngine(options, "support.x", SupportStore(db), QuietOutbox(), hooks, now=lambda: clock[0])
    await engine.load()
    try:
        await engine.agent_presence("help", f"{A}/r", "chat")
        await engine.agent_presence("sales", f"{C}/r", "chat")

        def when(hh: int, mm: int, ss: int = 0) -> None:
            clock[0] = at(hh, mm, ss)

        when(9, 0)
        t1 = await engine.join("help", "c1@y/r", "en", body="hello")
        await settle()
        when(9, 1)
        await engine.accept(t1.id, f"{A}/r")
        when(9, 1, 30)
        await engine.first_response(engine.tickets[t1.id])
        when(9, 11, 30)
        await engine.close(t1.id, A)
        when(9, 12)
        await engine.rate(t1.id, 4, "quick", "c1@y")

        when(9, 30)
        t2 = await engine.join("help", "c2@y/r", "en", body="bot: where is my order?")
        assert engine.tickets[t2.id].state == "bot"
        when(9, 32)
        await engine.enqueue(t2.id)
        await settle()
        when(9, 34)
        await engine.accept(t2.id, f"{A}/r")
        when(9, 35)
        await engine.first_response(engine.tickets[t2.id])
        when(9, 40)
        await engine.transfer(t2.id, A, "sales")
        await settle()
        when(9, 41)
        await engine.accept(t2.id, f"{C}/r")
        when(9, 50)
        await engine.close(t2.id, C)
        when(9, 52)
        await engine.rate(t2.id, 2, "", "c2@y")

        when(10, 0)
        t3 = await engine.join("help", "c3@y/r", "en", body="bot: opening hours?")
        when(10, 1)
        await engine.close(t3.id, "", "bot")

        when(10, 30)
        t4 = await engine.join("help", "c4@y/r", "en", body="hi")
        await settle()
        when(10, 31)
        await engine.reject(t4.id, f"{A}/r")
        when(10, 35)
        await engine.leave(t4.id, "bye", "c4@y")

        when(13, 0)
        assert (await engine.reopenable("help", "c1@y")).id == t1.id
        await engine.reopen(t1.id, "c1@y/r")
        await settle()
        when(13, 2)
        await engine.accept(t1.id, f"{A}/r")
        when(13, 3)
        await engine.first_response(engine.tickets[t1.id])
        when(13, 5)
        await engine.set_pending(t1.id, A)
        when(14, 0)
        await engine.requeue(t1.id, "c1@y/r")
        await settle()
        when(14, 1)
        await engine.accept(t1.id, f"{A}/r")
        when(14, 5)
        await engine.close(t1.id, A)
    finally:
        await engine.stop()
        await db.close()


def record_day_file(path: Path) -> str:
    """The day in a fresh SQLite file; returns its URL."""
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(record_day(url))
    return url
