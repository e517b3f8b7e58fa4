"""What one process changed, told to the other processes serving the same domains.

Processes that share the balancing slots of a domain (see balancing.py) keep in memory
only what belongs to the rooms and queues pinned to them, but some state every process
reads: a room's configuration and affiliations answer the service's disco#items and the
administrators' commands, which reach whichever process the bare domain hashes to. The
writer says so with PostgreSQL ``NOTIFY`` in the same transaction as its write, so a
notification arrives only after the commit and never for a write that was rolled back;
the others ``LISTEN`` and reload that one item from the database.

Chosen over handing each such request to the owner: the readers answer at once from their
own memory, nothing waits on another process, and a process that is down misses nothing
it needs (it loads everything from the database when it starts).

Notifications are a hint, not a log: one lost while a listener reconnects is repaired by
the next change or the next start. Single-process deployments do nothing here.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable

from sqlalchemy import text

log = logging.getLogger("switchboard.peers")

Handler = Callable[[str], Awaitable[None]]


class Peers:
    def __init__(self, engine: Any, active: bool) -> None:
        self.engine = engine
        #: Only where balancing is configured on PostgreSQL; a running process also listens
        #: (start()), a command-line tool only notifies.
        self.active = active
        #: Tells our own notifications from the others' (LISTEN hears every session, ours too).
        self.origin = f"{os.getpid()}-{os.urandom(4).hex()}"
        self._handlers: dict[str, list[Handler]] = {}
        self._connection: Any = None
        self._driver: Any = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        if not self.active:
            return
        connection = await self.engine.connect()
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        self._connection = connection
        self._driver = (await connection.get_raw_connection()).driver_connection
        for channel in self._handlers:
            await self._driver.add_listener(channel, self._received)

    async def listen(self, channel: str, handler: Handler) -> None:
        """Call ``handler(payload)`` for every notification another process sends on ``channel``."""
        first = channel not in self._handlers
        self._handlers.setdefault(channel, []).append(handler)
        if first and self._driver is not None:
            await self._driver.add_listener(channel, self._received)

    async def notify(self, session: Any, channel: str, payload: str) -> None:
        """Inside the writer's transaction (an AsyncSession): delivered to the others at its commit."""
        if self.active:
            await session.execute(text("SELECT pg_notify(:c, :p)"),
                                  {"c": channel, "p": f"{self.origin} {payload}"})

    def _received(self, _connection: Any, _pid: int, channel: str, message: str) -> None:
        origin, _, payload = message.partition(" ")
        if origin == self.origin:
            return
        for handler in self._handlers.get(channel, []):
            task = asyncio.ensure_future(self._run(handler, channel, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, handler: Handler, channel: str, payload: str) -> None:
        try:
            await handler(payload)
        except Exception:  # noqa: BLE001 - a peer's hint must never take the process down
            log.exception("peer notification handler failed", extra={"channel": channel})

    async def stop(self) -> None:
        connection, self._connection, self._driver = self._connection, None, None
        for task in list(self._tasks):
            task.cancel()
        if connection is not None:
            # UNLISTEN before the connection goes back to the pool.
            try:
                await connection.execute(text("UNLISTEN *"))
            finally:
                await connection.close()
