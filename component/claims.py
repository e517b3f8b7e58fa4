"""This process's advisory locks in PostgreSQL, on one database session of its own, kept through its loss.

What is held (balancing.py says why): per service domain, an exclusive lock per slot this process
opens and a shared one for its N; and, taken while running, one exclusive lock per thing only one
process may act on (a support queue: ``hold``/``let_go``). A lock lives exactly as long as the
session, so a killed process frees its slots at once; the other side of that coin is that a
database restart, a network cut or an administrator's ``pg_terminate_backend`` frees them too,
while the process runs on. So the session is watched:

- **Noticed**: at once when the database closes it (the driver's termination callback), else at
  the next check (``SELECT 1`` every ``CHECK_INTERVAL`` seconds, ``CHECK_TIMEOUT`` to answer: a
  half-open connection to a database host that vanished never closes by itself). A statement of
  ``hold``/``let_go`` that fails counts as a loss too.
- **While lost** nothing this process held is held: ``hold`` answers False (fail closed: a queue
  is not adopted, rather than risk two owners), and the listeners are told (``CLAIMS_LOST`` on
  every service: the support desk lets its queues go, as when a server connection drops).
- **Reconnected** with backoff (``backoff``: from 0.5 s doubling to 5 s, spread ±25 %): the old
  session, if the database still has it (a check that timed out on a live session), is ended first
  so that its locks are free; then the slots and N are claimed again exactly as at start, and the
  listeners are told (``CLAIMS_BACK``: the desk probes its queues, and takes each queue's lock
  again as it adopts it where its stanzas arrive). The process's name among its peers (the
  session's backend id, which ``pg_locks`` shows) changes with the session.
- **Refused** on reconnection (another process was started with these slots, or with another N,
  while the session was away): the process stops, as it would have been refused at start (exit
  status 1, or 2 for a wrong N), rather than serve slots that the bookkeeping gives to another.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
from typing import Any, Awaitable, Callable

from sqlalchemy import text

from .balancing import BalancingError, lock_key
from .config import Config

log = logging.getLogger("switchboard.balancing")

#: Seconds between two checks of the claims session.
CHECK_INTERVAL = 5.0
#: Seconds the database gets to answer a check before the session counts as lost.
CHECK_TIMEOUT = 10.0
#: Seconds before the first reconnection attempt, and the most between two.
RETRY_FIRST, RETRY_MAX = 0.5, 5.0
#: Seconds an old session of ours gets to end once told to.
END_OLD_TIMEOUT = 5.0

#: Fired on every service's hooks (``collect``, no arguments): the claims session was lost, and with
#: it every lock of this process.
CLAIMS_LOST = "service.claims_lost"
#: Fired on every service's hooks: the claims session is back, the slots claimed again.
CLAIMS_BACK = "service.claims_back"


def backoff(attempt: int, draw: float) -> float:
    """Seconds to wait after failed reconnection attempt ``attempt`` (0 for the first): doubling
    from RETRY_FIRST up to RETRY_MAX, spread over ±25 % by ``draw`` (0…1) so that processes cut at
    once (a database restart) do not all knock again at the same moment."""
    return min(RETRY_MAX, RETRY_FIRST * 2 ** min(attempt, 16)) * (0.75 + 0.5 * draw)


class SlotClaims:
    """The advisory locks of this process, held on one database connection of their own."""

    def __init__(self, engine: Any, config: Config,
                 changed: Callable[[bool], Awaitable[None]] | None = None,
                 refused: Callable[[BalancingError], None] | None = None) -> None:
        self.engine = engine
        self.config = config
        self.database = engine.url.database or ""
        #: Awaited with False once the session is lost, with True once it is back (slots claimed).
        self._changed = changed
        #: Called when the slots cannot be claimed again: the process must stop.
        self._refused = refused
        self._connection: Any = None
        self._driver: Any = None
        #: This process's name among its peers: the backend id of the session holding its locks,
        #: which pg_locks shows (peer_requests.py). A new session, a new id.
        self.process_id: int | None = None
        #: Names the sessions this process opened for its claims (an old one may outlive its loss).
        self.session_name = f"switchboard claims {os.getpid()}-{os.urandom(4).hex()}"
        #: One statement at a time on the claims connection (it is shared by the holds below).
        self._using = asyncio.Lock()
        #: The listeners hear of a loss and a return in the order they happened, one at a time.
        self._telling = asyncio.Lock()
        self._held: set[tuple[str, str]] = set()
        self._stopping = False
        self._watcher: asyncio.Task | None = None
        self._reclaiming: asyncio.Task | None = None
        self.check_interval = CHECK_INTERVAL
        self.check_timeout = CHECK_TIMEOUT
        #: Times the session was lost, and claimed again.
        self.losses = 0
        self.reclaims = 0
        #: Old sessions of ours told to end before claiming again.
        self.ended_sessions = 0

    @property
    def up(self) -> bool:
        """The session is there and holds this process's slots."""
        return self._connection is not None

    async def claim(self) -> None:
        """At start: take the slots, or raise BalancingError (nothing is kept then)."""
        connection, pid, driver = await self._open()
        try:
            await self._claim_slots(connection)
        except BaseException:
            await self._close(connection)
            raise
        self._install(connection, pid, driver)
        self._watcher = asyncio.ensure_future(self._watch())

    async def _open(self) -> tuple[Any, int, Any]:
        connection = await self.engine.connect()
        try:
            # Autocommit: this connection lives as long as the process and must never sit idle in a
            # transaction (that would hold back VACUUM everywhere).
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            # A process on a machine that vanished keeps its slots until the server notices the dead
            # socket: ask it to probe this session after 10 s of silence (the default is hours).
            for setting, value in (("tcp_keepalives_idle", 10), ("tcp_keepalives_interval", 5),
                                   ("tcp_keepalives_count", 3)):
                await connection.execute(text(f"SET {setting} = {value}"))
            await connection.execute(text("SELECT set_config('application_name', :n, false)"),
                                     {"n": self.session_name})
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
            driver = (await connection.get_raw_connection()).driver_connection
        except BaseException:
            await _invalidate(connection)
            raise
        return connection, int(pid), driver

    def _install(self, connection: Any, pid: int, driver: Any) -> None:
        self._connection, self._driver, self.process_id = connection, driver, pid
        driver.add_termination_listener(self._terminated)

    async def _claim_slots(self, connection: Any) -> None:
        balancing = self.config.balancing
        for service in self.config.services:
            await self._claim_domain(connection, service.domain, balancing.slots, balancing.mine)

    async def _claim_domain(self, connection: Any, domain: str, n: int, mine: list[int]) -> None:
        run, slot, gate = (lock_key(self.database, domain, k) for k in ("n", "slot", "gate"))
        execute = connection.execute
        # One process at a time checks a domain, so two starting together with different Ns cannot
        # both pass.
        await execute(text("SELECT pg_advisory_lock(:k, 0)"), {"k": gate})
        try:
            others = (await execute(text(
                "SELECT DISTINCT objid::int FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
                "AND classid::int = :k AND objid::int <> :n AND granted"), {"k": run, "n": n})).scalars().all()
            if others:
                raise BalancingError(
                    f"{domain}: this process has balancing.slots = {n}, but processes running for this domain "
                    f"use {', '.join(map(str, sorted(others)))}. N must not change while any of them runs (it "
                    "re-pins every room and queue): stop them all, change ejabberd's component_number, then "
                    "start them with the new N", lasting=True)
            await execute(text("SELECT pg_advisory_lock_shared(:k, :n)"), {"k": run, "n": n})
            for number in mine:
                got = (await execute(text("SELECT pg_try_advisory_lock(:k, :s)"),
                                     {"k": slot, "s": number})).scalar()
                if not got:
                    raise BalancingError(
                        f"{domain}: slot {number} is already held by another running process; give each "
                        "process its own balancing.process_slots (or wait: a process just killed on "
                        "another machine holds its slots until the database notices)", lasting=False)
        finally:
            await execute(text("SELECT pg_advisory_unlock(:k, 0)"), {"k": gate})
        log.info("slots claimed", extra={"domain": domain, "slots": n, "mine": ",".join(map(str, mine))})

    # -- the session's loss and return ---------------------------------------------------------------
    def _terminated(self, driver: Any) -> None:
        if driver is self._driver:
            self._lose("the database closed the session")

    def _lose(self, why: str) -> None:
        """Every lock of this process is gone (or about to be: the session is closed here too)."""
        if self._stopping or self._connection is None:
            return
        connection, driver = self._connection, self._driver
        self._connection, self._driver = None, None
        try:
            # At once and without a goodbye (a graceful close waits for a server that may be gone): a
            # session still alive on the server ends with its socket and frees what it held.
            driver.terminate()
        except Exception:  # noqa: BLE001 - closed already
            pass
        self._held.clear()
        self.losses += 1
        log.warning("the session holding this process's slots was lost; claiming them again",
                    extra={"reason": why, "session": self.process_id})
        self._reclaiming = asyncio.ensure_future(self._reclaim(connection))

    async def _reclaim(self, old: Any) -> None:
        await _invalidate(old)  # never back to the pool; closing it frees whatever it still held
        told = asyncio.ensure_future(self._tell(False))
        previous = self.process_id
        attempt = 0
        try:
            while not self._stopping:
                connection = None
                try:
                    connection, pid, driver = await self._open()
                    await self._end_old_sessions(connection)
                    await self._claim_slots(connection)
                except asyncio.CancelledError:
                    if connection is not None:
                        await _invalidate(connection)
                    raise
                except BalancingError as refusal:
                    if connection is not None:
                        await self._close(connection)
                    log.error("the slots cannot be claimed again; stopping: %s", refusal)
                    if self._refused is not None:
                        self._refused(refusal)
                    return
                except Exception as exc:  # noqa: BLE001 - the database is away: try again
                    if connection is not None:
                        await _invalidate(connection)
                    delay = backoff(attempt, random.random())
                    attempt += 1
                    # The reason without its traceback: an outage of minutes repeats it every few seconds.
                    log.warning("claiming the slots again failed", extra={
                        "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                        "retry_in_s": round(delay, 2)})
                    await asyncio.sleep(delay)
                    continue
                self._install(connection, pid, driver)
                self.reclaims += 1
                log.info("slots claimed again", extra={"session": pid, "was": previous, "attempts": attempt + 1})
                break
        finally:
            if self._stopping:
                told.cancel()
            await asyncio.gather(told, return_exceptions=True)
        if self.up:
            await self._tell(True)

    async def _end_old_sessions(self, connection: Any) -> None:
        """A session of ours the database still has (a check that timed out on a live one) holds our
        locks: end it, and wait until it is gone, before claiming them again."""
        query = text("SELECT pid FROM pg_stat_activity WHERE application_name = :n AND pid <> pg_backend_pid()")
        old = (await connection.execute(query, {"n": self.session_name})).scalars().all()
        if not old:
            return
        log.warning("ending an old session of this process", extra={"pids": ",".join(map(str, old))})
        for pid in old:
            await connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            self.ended_sessions += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + END_OLD_TIMEOUT
        while (await connection.execute(query, {"n": self.session_name})).scalars().all():
            if loop.time() > deadline:
                raise TimeoutError("an old session of this process does not end")
            await asyncio.sleep(0.1)

    async def _tell(self, up: bool) -> None:
        if self._changed is None:
            return
        async with self._telling:
            try:
                await self._changed(up)
            except Exception:  # noqa: BLE001 - a listener's failure must not stop the reconnection
                log.exception("a listener of the claims failed", extra={"up": up})

    async def _watch(self) -> None:
        """Check the session now and then: a database host that vanished never closes it by itself."""
        while not self._stopping:
            await asyncio.sleep(self.check_interval)
            connection = self._connection
            if connection is None:
                continue
            async with self._using:
                if connection is not self._connection:
                    continue
                check = asyncio.ensure_future(connection.execute(text("SELECT 1")))
                # Not wait_for: cancelling a statement waits for the server, which may never answer.
                done, _ = await asyncio.wait({check}, timeout=self.check_timeout)
            if not done:
                check.add_done_callback(_consume)  # it fails once the connection is closed below
                why = "no answer to the check"
            elif check.exception() is not None:
                why = f"the check failed: {type(check.exception()).__name__}"
            else:
                continue
            if connection is self._connection:
                self._lose(why)

    async def holders(self, domain: str) -> dict[int, list[int]]:
        """The processes holding slots of ``domain`` now: {process id: [slots]}.

        Read on a pooled connection (the claims connection is not shared between tasks)."""
        key = lock_key(self.database, domain, "slot")
        async with self.engine.connect() as connection:
            rows = (await connection.execute(text(
                "SELECT pid, objid::int FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 "
                "AND classid::int = :k AND granted AND mode = 'ExclusiveLock'"), {"k": key})).all()
        found: dict[int, list[int]] = {}
        for pid, slot in rows:
            found.setdefault(int(pid), []).append(int(slot))
        return {pid: sorted(slots) for pid, slots in found.items()}

    # -- what one process alone may act on ----------------------------------------------------------
    # A queue of the support desk is owned by the process its stanzas reach; when the slots move
    # (every connection back at once, in any order) the old owner may still be letting it go while
    # the new one is told to take it. An exclusive lock per (domain, name) on this session makes the
    # hand-over strict: the new owner takes it only once the old one has let it go, or died.

    def _thing_key(self, domain: str, name: str) -> int:
        digest = hashlib.blake2b(f"switchboard\0{self.database}\0{domain}\0own\0{name}".encode(),
                                 digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def holding(self, domain: str, name: str) -> bool:
        return (domain, name) in self._held

    async def hold(self, domain: str, name: str) -> bool:
        """Take ``name`` of ``domain`` for this process alone; False while another process holds it,
        and while the session is lost (its locks are gone: taking it could make a second owner)."""
        if (domain, name) in self._held:
            return True
        connection = self._connection
        if connection is None:
            return False
        try:
            async with self._using:
                if connection is not self._connection:
                    return False
                got = bool((await connection.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                                     {"k": self._thing_key(domain, name)})).scalar())
        except Exception as exc:  # noqa: BLE001 - the session is in trouble: not taken
            log.warning("taking a lock failed", exc_info=True, extra={"domain": domain, "item": name})
            if connection is self._connection:
                self._lose(f"a statement failed: {type(exc).__name__}")
            return False
        if got and connection is self._connection:  # else taken on a session lost meanwhile
            self._held.add((domain, name))
            return True
        return False

    async def let_go(self, domain: str, name: str) -> None:
        if (domain, name) not in self._held:
            return
        self._held.discard((domain, name))
        connection = self._connection
        if connection is None:
            return  # a lost session holds nothing any more
        try:
            async with self._using:
                if connection is self._connection:
                    await connection.execute(text("SELECT pg_advisory_unlock(:k)"),
                                             {"k": self._thing_key(domain, name)})
        except Exception as exc:  # noqa: BLE001 - it must not stay held: start again without it
            log.warning("letting go failed", exc_info=True, extra={"domain": domain, "item": name})
            if connection is self._connection:
                self._lose(f"a statement failed: {type(exc).__name__}")

    async def release(self) -> None:
        self._stopping = True
        for task in (self._watcher, self._reclaiming):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._held.clear()
        connection, self._connection, self._driver = self._connection, None, None
        if connection is not None:
            await self._close(connection)

    async def _close(self, connection: Any) -> None:
        # Unlocked explicitly, so that the slots are free when this returns (a closed socket is
        # noticed by the server a moment later); then closed for good, not pooled with its name.
        try:
            await connection.execute(text("SELECT pg_advisory_unlock_all()"))
        except Exception:  # noqa: BLE001 - a dead session holds nothing
            pass
        await _invalidate(connection)


def _consume(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


async def _invalidate(connection: Any) -> None:
    try:
        await connection.invalidate()
    except Exception:  # noqa: BLE001 - gone either way
        pass
