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
#: The XMPP server the component sits behind for this session: "prosody" or "ejabberd".
SERVER = harness.SERVER


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


# The federation suite needs s2s on the standard port of two loopback addresses, so it runs in a
# pass of its own (make test-federation), never inside the others.
collect_ignore = [] if os.environ.get("SWITCHBOARD_TEST_FEDERATION") else ["federation"]


def pytest_report_header(config: Any) -> str:
    return f"switchboard database backend: {BACKEND}, XMPP server: {SERVER}"


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "prosody_only(reason): needs something only the test Prosody offers; "
                                       "the reason names what is missing elsewhere")


#: Whole folders that need what only the test Prosody is configured with, and what that is.
PROSODY_ONLY_PATHS = {
    "web": "the browser tests need the guest host for website visitors and BOSH/WebSocket on the server's "
           "HTTP port, configured only in the test Prosody",
}


#: Files whose tests do not depend on the database backend (server runners, the browser pages, the
#: container and benchmark tooling, the bundle): the PostgreSQL pass leaves them out, since the
#: SQLite pass already ran them and they would only cost time. The web channel's storage is covered
#: on PostgreSQL by tests/web/test_protocol.py and the support suites.
BACKEND_FREE_FILES = (
    "test_bench_smoke.py", "test_container.py", "test_localserver.py", "test_localejabberd.py",
    "test_readme_ejabberd.py", "web/test_bundle.py", "web/test_widget.py", "web/test_consoles.py",
)


#: Folders whose tests run only on a server other than the test Prosody (they start their own).
OWN_SERVER_FOLDERS = {"balancing", "federation"}


def _deselect(config: Any, items: list[Any], leave_out: Callable[[Any], bool]) -> None:
    kept = [item for item in items if not leave_out(item)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if leave_out(item)])
        items[:] = kept


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    here = Path(__file__).resolve().parent
    if BACKEND != "sqlite":
        def backend_free(item: Any) -> bool:
            path = Path(str(item.fspath)).resolve()
            return path.is_relative_to(here) and path.relative_to(here).as_posix() in BACKEND_FREE_FILES
        _deselect(config, items, backend_free)
    if SERVER == "prosody":
        return
    # Another server changes nothing for a test that talks to no server (config parsing, units),
    # except in the folders that run on this server alone.
    def server_free(item: Any) -> bool:
        path = Path(str(item.fspath)).resolve()
        folder = path.relative_to(here).parts[0] if path.is_relative_to(here) else ""
        return folder not in OWN_SERVER_FOLDERS and "xmpp_server" not in item.fixturenames
    _deselect(config, items, server_free)
    for item in items:
        marker = item.get_closest_marker("prosody_only")
        reason = (marker.args[0] if marker.args else marker.kwargs.get("reason", "")) if marker else None
        path = Path(str(item.fspath)).resolve()
        folder = path.relative_to(here).parts[0] if path.is_relative_to(here) else ""
        reason = reason or PROSODY_ONLY_PATHS.get(folder)
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"not on {SERVER}: {reason}"))


@pytest.fixture(scope="session")
def xmpp_server() -> Any:
    """The session's server (SWITCHBOARD_TEST_SERVER): a LocalProsody or a LocalEjabberd.

    Both offer ``ports.c2s``, ``ports.component``, ``register()``, ``log_position()``,
    ``wait_for_log()``, ``wait_component()``, ``restart()`` and ``is_running()``.
    """
    prefix = f"switchboard-{SERVER}-"
    state = Path(tempfile.mkdtemp(prefix=prefix))
    components = {d: harness.secret(d) for d in harness.DOMAINS}
    admins = [f"admin@{harness.HOST}"]
    if SERVER == "ejabberd":
        from component.localejabberd import LocalEjabberd

        server: Any = LocalEjabberd(state, host=harness.HOST, components=components, admins=admins)
    elif SERVER == "prosody":
        server = LocalProsody(state, host=harness.HOST, components=components, admins=admins,
                              guest_host=harness.GUEST_HOST, guest_allowed=list(harness.GUEST_ALLOWED))
    else:
        raise pytest.UsageError(f"SWITCHBOARD_TEST_SERVER must be prosody or ejabberd, not {SERVER!r}")
    with harness.serving(server, state):
        yield server


@pytest.fixture(scope="session")
def prosody(xmpp_server: Any) -> Any:
    """The session's XMPP server under its historical name (whichever server was chosen)."""
    return xmpp_server


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
