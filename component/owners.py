"""Who owns what one process alone may act on (a support queue), as a durable record that fences writes.

The owner of a queue holds its advisory lock on the claims session (claims.py ``hold``), but a lock
lives as long as that session: when the session is lost while the process runs on (a database
restart, a network cut, ``pg_terminate_backend``), the lock is free at once, while the process may
still be acting on the queue until it notices and lets it go (after the work it is doing). Another
process may take the lock then. So the lock alone cannot keep the old owner's writes out.

A fencing token closes that window. ``core_owners`` keeps one row per (domain, name): the process
that took it last and a generation that only grows. Taking a queue is two steps, one call
(``take``): its advisory lock (one adopter at a time), then the row's generation bumped in a
transaction of its own; the generation returned is the owner's token. Every write the owner makes
for the queue's state carries the tokens it held when the change was made, and its transaction
first reads the rows ``FOR SHARE`` (``check``): a token that is no longer the row's generation
refuses the whole transaction (``OwnerChanged``), so nothing of it is stored. The row lock orders
the two: an adopter's bump waits for a write already past its check to commit (and then loads what
it wrote), and a write checked after the bump sees the new generation and is refused. The cost:
one row read per batch of writes where processes share a domain; nothing without balancing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, Iterable

from sqlalchemy import BigInteger, Float, String, select, text
from sqlalchemy.orm import Mapped, mapped_column

from .errors import StanzaError
from .storage import Base

log = logging.getLogger("switchboard.balancing")

#: Seconds an adopter waits for a write already checked under the old generation to end.
TAKE_LOCK_TIMEOUT = 5.0


class CoreOwner(Base):
    """The current owner of one thing only one process may act on, and its fencing generation."""

    __tablename__ = "core_owners"

    domain: Mapped[str] = mapped_column(String(1023), primary_key=True)
    name: Mapped[str] = mapped_column(String(1023), primary_key=True)
    #: The process that took it last (host and process id: for operators; the generation fences).
    owner: Mapped[str] = mapped_column(String(300))
    generation: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[float] = mapped_column(Float)


class OwnerChanged(StanzaError):
    """A write made under an owner's token that is no longer current: refused as a whole."""

    def __init__(self, domain: str, names: list[str]) -> None:
        super().__init__("recipient-unavailable", "this queue is moving; send it again in a moment")
        self.domain, self.names = domain, names


def stale(tokens: Iterable[tuple[str, int]], current: dict[str, int]) -> list[str]:
    """The names whose token (name, generation) is not their current generation (or has none)."""
    return sorted({name for name, generation in tokens if current.get(name) != generation})


_TAKE = text(
    "INSERT INTO core_owners (domain, name, owner, generation, taken_at) VALUES (:d, :n, :o, 1, :t) "
    "ON CONFLICT (domain, name) DO UPDATE SET owner = EXCLUDED.owner, "
    "generation = core_owners.generation + 1, taken_at = EXCLUDED.taken_at RETURNING generation")


class Owners:
    """The tokens of what this process owns, over its claims (component/claims.py)."""

    def __init__(self, claims: Any, engine: Any) -> None:
        self.claims = claims
        self.engine = engine
        self.identity = f"{socket.gethostname()} pid {os.getpid()}"
        self._generations: dict[tuple[str, str], int] = {}
        #: Transactions refused because a token was stale, per domain (a metric).
        self.refusals: dict[str, int] = {}

    def generation(self, domain: str, name: str) -> int | None:
        """The token held for ``name``: None when this process does not hold it."""
        return self._generations.get((domain, name))

    async def take(self, domain: str, name: str) -> bool:
        """Take ``name`` for this process alone and a new generation for it; False while another
        process holds its lock, or while the claims session is lost (claims.py ``hold``)."""
        self._generations.pop((domain, name), None)
        if not await self.claims.hold(domain, name):
            return False
        try:
            generation = await self._bump(domain, name)
        except Exception as exc:  # noqa: BLE001 - not taken: the adoption is tried again
            log.warning("a new owner's generation could not be stored", extra={
                "domain": domain, "item": name, "error": type(exc).__name__})
            await self.claims.let_go(domain, name)
            return False
        if not self.claims.holding(domain, name):
            return False  # the session was lost meanwhile, and the lock with it
        self._generations[(domain, name)] = generation
        return True

    async def keep(self, domain: str, name: str, generation: int) -> bool:
        """Take ``name`` again under the token this process had (its claims session was lost
        meanwhile): True when its lock is taken and no other process took it in between (the
        generation is still ``generation``: anyone else would have raised it, under the lock this
        process holds now). Otherwise nothing is held (``take`` takes it anew)."""
        self._generations.pop((domain, name), None)
        if not await self.claims.hold(domain, name):
            return False
        try:
            async with self.engine.connect() as connection:
                current = (await connection.execute(select(CoreOwner.generation).where(
                    CoreOwner.domain == domain, CoreOwner.name == name))).scalar()
        except Exception as exc:  # noqa: BLE001 - not kept: taken anew (or not) as any adoption
            log.warning("an owner's generation could not be read", extra={
                "domain": domain, "item": name, "error": type(exc).__name__})
            current = None
        if current != generation:
            await self.claims.let_go(domain, name)
            return False
        if not self.claims.holding(domain, name):
            return False
        self._generations[(domain, name)] = generation
        return True

    async def _bump(self, domain: str, name: str) -> int:
        async with self.engine.begin() as connection:
            # A write checked under the old generation holds its row until it commits: wait for it
            # (then the adoption reads what it wrote), but not for ever (a session stuck in a transaction).
            if connection.dialect.name == "postgresql":  # the only database several processes share
                await connection.execute(text(f"SET LOCAL lock_timeout = '{int(TAKE_LOCK_TIMEOUT * 1000)}ms'"))
            found = await connection.execute(_TAKE, {"d": domain, "n": name, "o": self.identity, "t": time.time()})
            return int(found.scalar_one())

    async def let_go(self, domain: str, name: str) -> None:
        self._generations.pop((domain, name), None)
        await self.claims.let_go(domain, name)

    def drop(self, domain: str, name: str) -> None:
        """Forget the token at once (another process took ``name``: the lock is let go after)."""
        self._generations.pop((domain, name), None)

    async def check(self, session: Any, domain: str, tokens: set[tuple[str, int]]) -> None:
        """In a writer's transaction, before it writes: raise OwnerChanged unless every token is still
        its name's generation. The rows stay locked (shared) until the transaction ends."""
        names = sorted({name for name, _ in tokens})
        rows = await session.execute(
            select(CoreOwner.name, CoreOwner.generation)
            .where(CoreOwner.domain == domain, CoreOwner.name.in_(names)).with_for_update(read=True))
        current = {name: int(generation) for name, generation in rows.all()}
        refused = stale(tokens, current)
        if refused:
            self.refusals[domain] = self.refusals.get(domain, 0) + 1
            log.warning("a write for what another process owns now was refused", extra={
                "domain": domain, "names": ",".join(refused),
                "held": ",".join(f"{n}:{g}" for n, g in sorted(tokens) if n in refused),
                "current": ",".join(f"{n}:{current[n]}" for n in refused if n in current)})
            raise OwnerChanged(domain, refused)
