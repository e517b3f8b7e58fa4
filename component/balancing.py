"""Slots shared by several processes: who holds which, checked in PostgreSQL.

The server decides which connection gets which slot (ejabberd gives a new
connection the first free one), so the slot numbers in the configuration are our
own bookkeeping: they say how many connections a process opens and let the
processes of one deployment check each other. Each process takes, for every
service domain, a PostgreSQL session-level advisory lock per slot it opens
(exclusive) and one for the N it runs with (shared). Locks live exactly as long
as the process's database connection, so a process killed with SIGKILL releases
its slots the moment the kernel closes its socket, and its restart claims them
again at once, without waiting for a lease to expire.

Refused, with the reason: a slot another running process holds; an N that differs
from the N of the processes already running for the domain (N re-pins every room:
stop them all to change it, and change ejabberd's component_number with it).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import zlib
from typing import Any

from sqlalchemy import text

from .config import Config, ConfigError

log = logging.getLogger("switchboard.balancing")


# -- ejabberd's choice of a slot ------------------------------------------------------------------
# With ``type: bare_destination`` ejabberd picks slot ``erlang:phash2({User, Server, <<>>}, N)``
# of the stanza's bare ``to`` (lower-cased). The functions below compute the same value (Erlang's
# portable term hash for a tuple of binaries, bit for bit), so a JID can be minted in a chosen slot:
# the support desk gives a conversation the slot of its queue, so both reach the same process.
_MASK = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    """Bob Jenkins' 96-bit mix, as Erlang's term hash uses it."""
    for shift_a, shift_b, shift_c in ((13, 8, 13), (12, 16, 5), (3, 10, 15)):
        a = ((a - b - c) & _MASK) ^ (c >> shift_a)
        b = ((b - c - a) & _MASK) ^ ((a << shift_b) & _MASK)
        c = ((c - a - b) & _MASK) ^ (b >> shift_c)
    return a, b, c


def _hash_bytes(data: bytes, initial: int) -> int:
    """Jenkins' lookup2 over ``data`` (little-endian words), seeded with the hash so far."""
    a, b, c = _GOLDEN, _GOLDEN, initial
    whole = len(data) - len(data) % 12
    for i in range(0, whole, 12):
        a = (a + int.from_bytes(data[i:i + 4], "little")) & _MASK
        b = (b + int.from_bytes(data[i + 4:i + 8], "little")) & _MASK
        c = (c + int.from_bytes(data[i + 8:i + 12], "little")) & _MASK
        a, b, c = _mix(a, b, c)
    tail = data[whole:] + bytes(12 - (len(data) - whole))
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    # The low byte of c takes the length; the last bytes go above it.
    c = (c + len(data) + (int.from_bytes(tail[8:11], "little") << 8)) & _MASK
    return _mix(a, b, c)[2]


def term_hash(parts: tuple[bytes, ...]) -> int:
    """``erlang:phash2`` (full 32 bits) of a tuple of binaries."""
    tuple_const, binary_const = (_GOLDEN * 9) & _MASK, (_GOLDEN * 13) & _MASK
    value = _mix((tuple_const + len(parts)) & _MASK, tuple_const, 0)[2]
    for part in parts:
        start = (binary_const + value) & _MASK
        value = _hash_bytes(part, start) if part else start
    return value


def slot_of(bare_jid: str, slots: int) -> int:
    """The slot (0…N-1) ejabberd's ``bare_destination`` balancing routes ``bare_jid`` to."""
    user, _, server = bare_jid.lower().rpartition("@")
    return term_hash((user.encode(), server.encode(), b"")) % slots


class BalancingError(Exception):
    """This process may not open the slots it was configured with.

    ``lasting``: only a person can fix it (a wrong N: exit status 2, a service manager does not
    retry); otherwise a retry may succeed (a slot still held by a killed process whose database
    session the server has not closed yet: exit status 1, restarted).
    """

    def __init__(self, message: str, lasting: bool) -> None:
        super().__init__(message)
        self.lasting = lasting


def lock_key(database: str, domain: str, kind: str) -> int:
    """A signed 32-bit key per (database, domain, kind): advisory locks span the PostgreSQL cluster,
    so two deployments in one cluster (other databases) never see each other's slots."""
    value = zlib.crc32(f"switchboard\0{database}\0{domain}\0{kind}".encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def needs_claims(config: Config) -> bool:
    """Claims matter only where balancing is configured, on a database several processes share."""
    balancing = config.balancing
    return not config.database_url.startswith("sqlite") and (
        balancing.slots > 1 or balancing.process_slots is not None)


def check_shareable(config: Config, key: str, order: list[tuple[type, Any]]) -> None:
    """Refuse plugins that cannot yet run on a domain whose slots several processes share."""
    if not config.balancing.shared:
        return
    for cls, _options in order:
        if not cls.shares_domain:
            raise ConfigError(config.source, f"{key}.{cls.name}",
                              f"plugin {cls.name} cannot yet share its domain with other processes; serve "
                              "this domain from one process (a configuration of its own, without "
                              "balancing.process_slots)")


class SlotClaims:
    """The advisory locks of this process, held on one database connection of their own."""

    def __init__(self, engine: Any, config: Config) -> None:
        self.engine = engine
        self.config = config
        self.database = engine.url.database or ""
        self._connection: Any = None
        #: This process's name among its peers: the backend id of the session holding its locks,
        #: which pg_locks shows (peer_requests.py).
        self.process_id: int | None = None
        #: One statement at a time on the claims connection (it is shared by the holds below).
        self._using = asyncio.Lock()
        self._held: set[tuple[str, str]] = set()

    async def claim(self) -> None:
        balancing = self.config.balancing
        connection = await self.engine.connect()
        # Autocommit: this connection lives as long as the process and must never sit idle in a
        # transaction (that would hold back VACUUM everywhere).
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        self._connection = connection
        # A process on a machine that vanished keeps its slots until the server notices the dead
        # socket: ask it to probe this session after 10 s of silence (the default is hours).
        for setting, value in (("tcp_keepalives_idle", 10), ("tcp_keepalives_interval", 5),
                               ("tcp_keepalives_count", 3)):
            await connection.execute(text(f"SET {setting} = {value}"))
        self.process_id = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        try:
            for service in self.config.services:
                await self._claim_domain(service.domain, balancing.slots, balancing.mine)
        except BaseException:
            await self.release()
            raise

    async def _claim_domain(self, domain: str, n: int, mine: list[int]) -> None:
        run, slot, gate = (lock_key(self.database, domain, k) for k in ("n", "slot", "gate"))
        execute = self._connection.execute
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

    async def hold(self, domain: str, name: str) -> bool:
        """Take ``name`` of ``domain`` for this process alone; False while another process holds it.

        When the claims session is unusable (the database restarted) the answer is True: acting as
        before this guard existed beats a queue nobody may serve."""
        if (domain, name) in self._held:
            return True
        try:
            async with self._using:
                got = bool((await self._connection.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                                           {"k": self._thing_key(domain, name)})).scalar())
        except Exception:  # noqa: BLE001 - see above
            log.warning("the ownership guard is unavailable", exc_info=True, extra={"domain": domain, "name": name})
            return True
        if got:
            self._held.add((domain, name))
        return got

    async def let_go(self, domain: str, name: str) -> None:
        if (domain, name) not in self._held:
            return
        self._held.discard((domain, name))
        try:
            async with self._using:
                await self._connection.execute(text("SELECT pg_advisory_unlock(:k)"),
                                               {"k": self._thing_key(domain, name)})
        except Exception:  # noqa: BLE001 - a dead session holds nothing any more
            log.warning("letting go failed", exc_info=True, extra={"domain": domain, "name": name})

    async def release(self) -> None:
        self._held.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            # The connection goes back to the pool, not away: unlock explicitly.
            try:
                await connection.execute(text("SELECT pg_advisory_unlock_all()"))
            finally:
                await connection.close()
