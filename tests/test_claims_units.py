"""The claims session's logic without a database (component/claims.py): how long it waits between
reconnection attempts, and that nothing is held, or taken, while the session is lost.

With PostgreSQL, behind ejabberd: tests/balancing/test_claims.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from component.claims import RETRY_FIRST, RETRY_MAX, SlotClaims, backoff

from . import harness


def test_reconnection_backs_off_doubling_up_to_a_ceiling_spread_around_it() -> None:
    middle = [backoff(attempt, 0.5) for attempt in range(8)]
    assert middle == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]
    assert middle[0] == RETRY_FIRST and max(middle) == RETRY_MAX
    # Spread ±25 %, so processes cut at once do not knock again together; never 0, never unbounded.
    assert (backoff(0, 0.0), backoff(0, 1.0)) == (0.375, 0.625)
    assert (backoff(10_000, 0.0), backoff(10_000, 1.0)) == (3.75, 6.25)


class _Session:
    """The claims connection as far as claims.py uses it: statements, and being closed for good."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.invalidated = False

    async def execute(self, statement: Any, params: Any = None) -> Any:
        self.statements.append(str(statement))
        return SimpleNamespace(scalar=lambda: True)

    async def invalidate(self) -> None:
        self.invalidated = True


class _Database:
    """A database that is away: every new connection is refused."""

    url = SimpleNamespace(database="db")

    def __init__(self) -> None:
        self.attempts = 0

    async def connect(self) -> Any:
        self.attempts += 1
        raise OSError("connection refused")


async def test_nothing_is_held_or_taken_while_the_session_is_lost() -> None:
    database = _Database()
    told: list[bool] = []

    async def changed(up: bool) -> None:
        told.append(up)

    claims = SlotClaims(database, SimpleNamespace(services=[], balancing=None), changed)
    session = _Session()
    claims._install(session, 41, SimpleNamespace(add_termination_listener=lambda _callback: None))
    try:
        assert await claims.hold("support.example", "help") and claims.holding("support.example", "help")
        assert claims.up

        claims._lose("a test")  # what the driver's termination callback does
        assert not claims.up and not claims.holding("support.example", "help")
        # Fail closed: neither the queue held before nor another one is taken while it is lost.
        assert not await claims.hold("support.example", "help")
        assert not await claims.hold("support.example", "sales")
        await claims.let_go("support.example", "help")  # nothing to let go: no statement, no error
        await harness.until(lambda: told == [False] and database.attempts >= 2, 5, "told, and trying again")
        assert session.invalidated  # never back to the pool
        assert session.statements == ["SELECT pg_try_advisory_lock(:k)"]
        assert claims.losses == 1 and claims.reclaims == 0
    finally:
        await claims.release()
    attempts = database.attempts
    await asyncio.sleep(0.7)
    assert database.attempts == attempts  # stopped trying with the process


class _Result:
    def __init__(self, value: Any) -> None:
        self.value = value

    def scalar(self) -> Any:
        return self.value

    def scalars(self) -> Any:
        return SimpleNamespace(all=lambda: self.value)


class _Connection:
    """A session that records what it is asked; no other process holds anything."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.statements: list[tuple[str, Any]] = []
        self.closed_by_server: list[Any] = []
        self.driver = SimpleNamespace(add_termination_listener=self.closed_by_server.append, terminate=lambda: None)

    async def execution_options(self, **_options: Any) -> "_Connection":
        return self

    async def execute(self, statement: Any, params: Any = None) -> _Result:
        sql = str(statement)
        self.statements.append((sql, params))
        if "FROM pg_" in sql:  # pg_locks, pg_stat_activity: nobody else
            return _Result([])
        if "pg_backend_pid" in sql:
            return _Result(self.pid)
        return _Result(True)

    async def get_raw_connection(self) -> Any:
        return SimpleNamespace(driver_connection=self.driver)

    async def invalidate(self) -> None:
        pass

    def locks(self) -> list[tuple[str, Any]]:
        return [(sql, params) for sql, params in self.statements if "advisory" in sql]


async def test_the_locks_taken_again_are_the_slots_and_ns_of_every_domain_and_no_queue() -> None:
    """A queue's lock comes back only with its adoption (where its stanzas now arrive), never blindly."""
    sessions: list[_Connection] = []

    async def connect() -> _Connection:
        sessions.append(_Connection(100 + len(sessions)))
        return sessions[-1]

    engine = SimpleNamespace(url=SimpleNamespace(database="db"), connect=connect)
    domains = [SimpleNamespace(domain="rooms.example"), SimpleNamespace(domain="support.example")]
    config = SimpleNamespace(services=domains, balancing=SimpleNamespace(slots=4, mine=[0, 1]))
    told: list[bool] = []

    async def changed(up: bool) -> None:
        told.append(up)

    claims = SlotClaims(engine, config, changed)
    await claims.claim()
    try:
        at_start = sessions[0].locks()
        # Per domain: the gate, the check of the others' N, N shared, each of 2 slots, the gate again.
        assert len(at_start) == 2 * 6 and claims.process_id == 100
        assert await claims.hold("support.example", "help")
        sessions[0].closed_by_server[0](sessions[0].driver)  # the database ended the session
        await harness.until(lambda: len(told) == 2, 5, "the loss and the return told")
        assert told == [False, True] and claims.up and claims.process_id == 101  # a new session, a new name
        assert sessions[1].locks() == at_start  # the same slots and Ns, in the same order
        assert not claims.holding("support.example", "help")  # taken again when adopted again
        assert any("pg_stat_activity" in sql for sql, _ in sessions[1].statements)  # an old session looked for
    finally:
        await claims.release()


async def test_a_failed_statement_of_a_hold_is_a_loss_and_nothing_held() -> None:
    class Failing(_Session):
        async def execute(self, statement: Any, params: Any = None) -> Any:
            raise OSError("connection reset")

    claims = SlotClaims(_Database(), SimpleNamespace(services=[], balancing=None))
    claims._install(Failing(), 41, SimpleNamespace(add_termination_listener=lambda _callback: None,
                                                   terminate=lambda: None))
    try:
        assert not await claims.hold("support.example", "help")  # logged (structured), not raised
        assert not claims.up and claims.losses == 1 and not claims.holding("support.example", "help")
    finally:
        await claims.release()
