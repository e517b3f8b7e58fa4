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

Without balancing (one process per database, SQLite or PostgreSQL) the only other writer
is a command-line tool (``switchboard queues close``, ``kb import``…): there the writer adds
a row to ``core_changes`` in its transaction instead, and a running process reads the rows
newer than the last it saw every second (one indexed read; nothing when no plugin listens).
Rows older than an hour are deleted by the readers.

With balancing, every change goes through ``core_changes`` too, in the writer's transaction:
the notification carries the row's id and the payload (or only the id when the payload is over
NOTIFY's 8000 bytes: it is read back before its handler runs, so a shorter notification sent
after it may be handled first). A notification sent while a listener's connection is down is
lost by PostgreSQL, so a listener that connects again reads every row after the last it saw and
hands them on in id order before anything newer: a change made during the cut is applied late,
never lost. Rows older than an hour are deleted (a process away longer reloads at its start).

Questions between processes (peer_requests.py) are the exception (``durable=False``,
``replay=False``): they are worth an answer only within their deadline, after which the asker
reports the process as late; replayed later they would act on a request already answered
without them (a reload the administrator was told did not happen there).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Awaitable, Callable

from sqlalchemy import Float, Integer, String, Text, delete, insert, select, text
from sqlalchemy.orm import Mapped, mapped_column

from .owners import CoreOwner
from .storage import Base, Migrations, create_tables

log = logging.getLogger("switchboard.peers")

Handler = Callable[[str], Awaitable[None]]

#: Seconds between two reads of ``core_changes`` (how soon a shell's change is seen).
POLL_INTERVAL = 1.0
#: Rows older than this are deleted (a process that was down reloads everything at start).
KEEP_SECONDS = 3600.0
#: Ids are taken at insert but seen at commit, so a later id may be seen first: rows this far
#: behind the newest seen are read again (their ids remembered), so a slower commit is not lost.
LOOK_BACK = 64
#: The same after a listening connection was lost, where a commit may have waited on the cut for
#: longer: the ids remembered (handled or older than the start) reach this far back.
CATCH_UP = 1024
#: Seconds between two deletions of old rows by a listening process.
PRUNE_INTERVAL = 60.0
#: PostgreSQL refuses a NOTIFY payload of 8000 bytes or more: longer ones travel in core_changes.
NOTIFY_LIMIT = 7900


class CoreChange(Base):
    __tablename__ = "core_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Float, index=True)


#: The core's own schema history (kept next to the plugins' in core_schema_versions).
#: Step 2: the owners' fencing records (owners.py).
MIGRATIONS = Migrations("core", (create_tables("core_changes"), create_tables(CoreOwner.__tablename__)))


class Peers:
    def __init__(self, engine: Any, active: bool) -> None:
        self.engine = engine
        #: Only where balancing is configured on PostgreSQL; a running process also listens
        #: (start()), a command-line tool only notifies.
        self.active = active
        #: Tells our own notifications from the others' (LISTEN hears every session, ours too).
        self.origin = f"{os.getpid()}-{os.urandom(4).hex()}"
        self._handlers: dict[str, list[Handler]] = {}
        #: Channels whose rows are not handed on again after a cut (listen(replay=False)).
        self._momentary: set[str] = set()
        self._connection: Any = None
        self._driver: Any = None
        self._tasks: set[asyncio.Task] = set()
        self._poller: asyncio.Task | None = None
        self._last = 0
        #: Rows already handed on (or older than our start), within CATCH_UP of the newest.
        self._seen: set[int] = set()
        self.poll_interval = POLL_INTERVAL
        self._stopping = False
        self._pruned = 0.0
        #: Times the listening connection was lost and opened again.
        self.relistens = 0
        #: Changes handed on late, read back after the listening connection was lost.
        self.caught_up = 0

    async def start(self) -> None:
        async with self.engine.connect() as connection:
            back = CATCH_UP if self.active else LOOK_BACK
            newest = (await connection.execute(select(CoreChange.id).order_by(CoreChange.id.desc())
                                               .limit(back))).scalars().all()
        for change_id in sorted(newest):  # what was written before we started is not news
            self._remember(change_id)
        if not self.active:
            self._poller = asyncio.ensure_future(self._poll())
            return
        self._stopping = False
        self._pruned = time.monotonic()
        await self._open_listener()

    def _remember(self, change_id: int) -> bool:
        """Mark a row handed on; False when it was already."""
        if change_id in self._seen:
            return False
        self._seen.add(change_id)
        self._last = max(self._last, change_id)
        if len(self._seen) > 2 * CATCH_UP:  # forget what no read reaches any more
            self._seen = {seen for seen in self._seen if seen > self._last - CATCH_UP}
        return True

    async def _open_listener(self) -> None:
        connection = await self.engine.connect()
        try:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            driver = (await connection.get_raw_connection()).driver_connection
            listening = set(self._handlers)
            for channel in listening:
                await driver.add_listener(channel, self._received)
        except BaseException:
            await connection.close()
            raise
        self._connection, self._driver = connection, driver
        for channel in set(self._handlers) - listening:  # listened to meanwhile
            await driver.add_listener(channel, self._received)
        # The server restarted, or the connection was cut: listen again on a new one, or this
        # process would hear no other process (and answer none of their questions) until restarted.
        driver.add_termination_listener(self._lost)

    def _lost(self, driver: Any) -> None:
        if self._stopping or driver is not self._driver:
            return
        log.warning("the connection listening to the other processes was lost; listening again")
        self._driver = None
        self._start(self._listen_again())

    async def _listen_again(self) -> None:
        old, self._connection = self._connection, None
        if old is not None:
            try:
                await old.invalidate()  # dead: never back to the pool
            except Exception:  # noqa: BLE001 - it is gone either way
                pass
        delay = 0.5
        listening = False
        while not self._stopping:
            try:
                if not listening:
                    await self._open_listener()
                    listening = True
                # Listening first, then reading: what commits in between is both heard and read,
                # and handed on once (the ids are remembered).
                await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database is away: try again
                log.warning("listening again failed", exc_info=True, extra={"retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.relistens += 1
            log.info("listening to the other processes again")
            return

    async def _catch_up(self) -> None:
        """Hand on, in id order, the changes whose notifications were lost with the connection."""
        query = (select(CoreChange.id, CoreChange.channel, CoreChange.origin, CoreChange.payload)
                 .where(CoreChange.id > self._last - CATCH_UP).order_by(CoreChange.id))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        late = 0
        for change_id, channel, origin, payload in rows:
            if not self._remember(change_id) or channel in self._momentary or origin == self.origin:
                continue
            if self._handlers.get(channel):
                late += 1
            self._dispatch(channel, origin, payload)
        self.caught_up += late
        if late:
            log.info("changes made while not listening handed on", extra={"changes": late})

    async def listen(self, channel: str, handler: Handler, replay: bool = True) -> None:
        """Call ``handler(payload)`` for every notification another process sends on ``channel``.

        ``replay=False``: what was sent while this process was not listening is dropped, not
        handed on late."""
        first = channel not in self._handlers
        self._handlers.setdefault(channel, []).append(handler)
        if not replay:
            self._momentary.add(channel)
        if first and self._driver is not None:
            await self._driver.add_listener(channel, self._received)

    async def notify(self, session: Any, channel: str, payload: str, durable: bool = True) -> None:
        """Inside the writer's transaction (an AsyncSession): delivered to the others at its commit.

        ``durable=False`` (with balancing): sent by NOTIFY alone when short, so lost by a listener
        whose connection is down at that moment."""
        if not self.active:
            await session.execute(insert(CoreChange).values(channel=channel, origin=self.origin, payload=payload,
                                                            at=time.time()))
            return
        message = f"{self.origin} {payload}"
        if durable or len(message.encode()) > NOTIFY_LIMIT:
            row = await session.scalar(insert(CoreChange).values(
                channel=channel, origin=self.origin, payload=payload, at=time.time()).returning(CoreChange.id))
            message = f"{self.origin}#{row} {payload}"
            if len(message.encode()) > NOTIFY_LIMIT:
                message = f"{self.origin}#{row}"  # read back by the listeners
            self._maybe_prune()
        await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": message})

    def _received(self, _connection: Any, _pid: int, channel: str, message: str) -> None:
        head, space, payload = message.partition(" ")
        origin, numbered, row = head.partition("#")
        if numbered:
            if not self._remember(int(row)) or origin == self.origin:
                return  # handed on already (read back after a cut), or ours
            if not space:
                self._start(self._read_long(channel, origin, int(row)))
                return
        self._dispatch(channel, origin, payload)

    async def _read_long(self, channel: str, origin: str, row: int) -> None:
        try:
            async with self.engine.connect() as connection:
                payload = await connection.scalar(select(CoreChange.payload).where(CoreChange.id == row))
        except Exception:  # noqa: BLE001 - the database is away: lost
            log.warning("reading a long notification failed", exc_info=True, extra={"channel": channel})
            return
        if payload is not None:
            self._dispatch(channel, origin, payload)

    def _maybe_prune(self) -> None:
        # Outside any writer's transaction: two writers deleting the same old rows would wait on
        # each other (or deadlock) in the middle of their own work.
        # Only a running process (listening): a command-line tool exits before the deletion ends.
        now = time.monotonic()
        if self._connection is not None and now - self._pruned >= PRUNE_INTERVAL:
            self._pruned = now
            self._start(self._prune())

    async def _prune(self) -> None:
        try:
            async with self.engine.begin() as connection:
                await connection.execute(delete(CoreChange).where(CoreChange.at < time.time() - KEEP_SECONDS))
        except Exception:  # noqa: BLE001 - another process pruning at once, or the database away
            log.warning("deleting old changes failed", exc_info=True)

    def _start(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _dispatch(self, channel: str, origin: str, payload: str) -> None:
        if origin == self.origin:
            return
        for handler in self._handlers.get(channel, []):
            self._start(self._run(handler, channel, payload))

    async def _run(self, handler: Handler, channel: str, payload: str) -> None:
        try:
            await handler(payload)
        except Exception:  # noqa: BLE001 - a peer's hint must never take the process down
            log.exception("peer notification handler failed", extra={"channel": channel})

    async def _poll(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(self.poll_interval)
            if not self._handlers:
                continue
            rounds += 1
            try:
                await self.read_changes(prune=rounds % 600 == 1)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database is away: read again next round
                log.warning("reading changes failed", exc_info=True)

    async def read_changes(self, prune: bool = False) -> None:
        """Hand every change written since the last read to its listeners."""
        query = (select(CoreChange.id, CoreChange.channel, CoreChange.origin, CoreChange.payload)
                 .where(CoreChange.id > self._last - LOOK_BACK).order_by(CoreChange.id))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            if prune:
                await connection.execute(delete(CoreChange).where(CoreChange.at < time.time() - KEEP_SECONDS))
                await connection.commit()
        floor = self._last - LOOK_BACK
        for change_id, channel, origin, payload in rows:
            if change_id <= floor or not self._remember(change_id):
                continue
            self._dispatch(channel, origin, payload)

    async def stop(self) -> None:
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        connection, self._connection, self._driver = self._connection, None, None
        for task in list(self._tasks):
            task.cancel()
        if connection is not None:
            # UNLISTEN before the connection goes back to the pool.
            try:
                await connection.execute(text("UNLISTEN *"))
            finally:
                await connection.close()
