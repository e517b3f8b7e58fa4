"""An ejabberd of its own that balances the test domains over 4 slots, and a PostgreSQL.

The session's shared server must not balance: a domain balanced over N slots drops
whatever hashes to a slot nobody holds, and the other suites connect one stream each.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from component.localpostgres import LocalPostgres

from .. import harness

SLOTS = 4
ROOMS = "rooms.localhost"
SUPPORT = "support.localhost"

pytestmark = pytest.mark.skipif(harness.SERVER != "ejabberd",
                                reason="needs ejabberd's domain_balancing: runs in the ejabberd pass "
                                       "(make test-ejabberd)")


@pytest.fixture(scope="session")
def balanced() -> Iterator[Any]:
    from component.localejabberd import LocalEjabberd

    state = Path(tempfile.mkdtemp(prefix="switchboard-balanced-"))
    domains = (ROOMS, SUPPORT)
    server = LocalEjabberd(state / "ejabberd", host=harness.HOST,
                           components={d: harness.secret(d) for d in domains},
                           admins=[f"admin@{harness.HOST}"], balancing={d: SLOTS for d in domains})
    with harness.serving(server, state):
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """The session's PostgreSQL when the suite runs on it, else one of this folder's own."""
    if harness.POSTGRES is not None:
        yield harness.POSTGRES
        return
    state = Path(tempfile.mkdtemp(prefix="switchboard-balanced-pg-"))
    server = LocalPostgres(state)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def database(postgres: LocalPostgres, tmp_path: Path) -> str:
    name = "b_" + os.urandom(6).hex()
    postgres.create_database(name)
    return postgres.url(name)
