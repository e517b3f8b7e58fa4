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

import logging
import zlib
from typing import Any

from sqlalchemy import text

from .config import Config, ConfigError

log = logging.getLogger("switchboard.balancing")


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

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # The connection goes back to the pool, not away: unlock explicitly.
            try:
                await connection.execute(text("SELECT pg_advisory_unlock_all()"))
            finally:
                await connection.close()
