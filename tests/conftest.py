"""Shared fixtures: one real Prosody per session, a component factory per test."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from component.app import App
from component.localserver import LocalProsody

from . import harness


BACKEND = os.environ.get("SWITCHBOARD_TEST_BACKEND", "sqlite")


@pytest.fixture(scope="session", autouse=True)
def database_server() -> Any:
    """On SWITCHBOARD_TEST_BACKEND=postgresql, a real PostgreSQL server for the whole session."""
    if BACKEND != "postgresql":
        yield None
        return
    from component.localpostgres import LocalPostgres

    state = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
    server = LocalPostgres(state)
    server.start()
    harness.POSTGRES = server
    try:
        yield server
    finally:
        harness.POSTGRES = None
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


def pytest_report_header(config: Any) -> str:
    return f"switchboard database backend: {BACKEND}"


@pytest.fixture(scope="session")
def prosody() -> Any:
    state = Path(tempfile.mkdtemp(prefix="switchboard-prosody-"))
    server = LocalProsody(state, host=harness.HOST,
                          components={d: harness.secret(d) for d in harness.DOMAINS},
                          admins=[f"admin@{harness.HOST}"],
                          guest_host=harness.GUEST_HOST, guest_allowed=list(harness.GUEST_ALLOWED))
    server.start()
    try:
        for user in harness.USERS:
            server.register(user, harness.password(user))
        yield server
    finally:
        server.stop()
        if not os.environ.get("SWITCHBOARD_KEEP_STATE"):
            shutil.rmtree(state, ignore_errors=True)


StartComponent = Callable[..., Awaitable[App]]


@pytest.fixture
async def component(prosody: LocalProsody, tmp_path: Path) -> AsyncIterator[StartComponent]:
    """``await component({domain: {plugin: options}})`` starts an App connected to Prosody."""
    apps: list[App] = []

    async def start(services: dict[str, dict[str, dict]], **kwargs: Any) -> App:
        app = await harness.start_app(prosody.ports.component, services, tmp_path, **kwargs)
        apps.append(app)
        return app

    yield start
    for app in reversed(apps):
        await app.stop()
