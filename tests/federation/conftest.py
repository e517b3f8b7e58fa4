"""Two servers federating over loopback: Switchboard behind Prosody at example.test (127.0.0.1), remote
users on ejabberd at other.test (127.0.0.2), server-to-server with dialback and without TLS.

Each server must resolve the other. Prosody's resolver (lua-unbound) reads a hosts file of its own in
its state folder. ejabberd asks DNS for SRV records with its own client and then the system's
getaddrinfo, so the set-up adds the names to /etc/hosts in a marked block and removes it afterwards
(root only; a block left by a killed run is replaced). s2s has no SRV records here, so both servers
listen on the standard 5269 of their own address; a lock file keeps two runs on one machine apart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from component.app import App
from component.localejabberd import LocalEjabberd, available
from component.localserver import LocalProsody

from .. import harness

LOCAL, REMOTE = "example.test", "other.test"
LOCAL_IP, REMOTE_IP = "127.0.0.1", "127.0.0.2"
ROOMS, SUPPORT = f"rooms.{LOCAL}", f"support.{LOCAL}"
LOCAL_USERS = ("alice", "agent1", "cust1", "admin")
REMOTE_USERS = ("rita", "ragent", "rcust", "admin")


def local(user: str) -> str:
    return f"{user}@{LOCAL}"


def remote(user: str) -> str:
    return f"{user}@{REMOTE}"


@dataclass
class Federation:
    prosody: LocalProsody
    ejabberd: LocalEjabberd

    def local_client(self, user: str, plugins: tuple[str, ...] = (), **kwargs: Any) -> Any:
        return harness.slix_client(self.prosody.ports.c2s, user, plugins=plugins, host=LOCAL, **kwargs)

    def remote_client(self, user: str, plugins: tuple[str, ...] = (), **kwargs: Any) -> Any:
        return harness.slix_client(self.ejabberd.ports.c2s, user, plugins=plugins, host=REMOTE,
                                   address=REMOTE_IP, **kwargs)


class HostsEntries:
    """Names in /etc/hosts for the duration of the session, in a block marked as ours."""

    PATH = Path("/etc/hosts")
    BEGIN, END = "# switchboard federation tests: begin", "# switchboard federation tests: end"

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def _without_ours(self, text: str) -> str:
        lines, skipping = [], False
        for line in text.splitlines(keepends=True):
            if line.strip() == self.BEGIN:
                skipping = True
            elif line.strip() == self.END:
                skipping = False
            elif not skipping:
                lines.append(line)
        return "".join(lines)

    def add(self) -> None:
        if not os.access(self.PATH, os.W_OK):
            pytest.fail(f"the federation suite names its servers in {self.PATH} and cannot write it: run as root")
        text = self._without_ours(self.PATH.read_text())
        if text and not text.endswith("\n"):
            text += "\n"
        block = [self.BEGIN, *(f"{address} {name}" for name, address in self.names.items()), self.END]
        # In place, not by rename: /etc/hosts is often a bind mount (containers).
        self.PATH.write_text(text + "\n".join(block) + "\n")

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.PATH.write_text(self._without_ours(self.PATH.read_text()))


def _port_taken(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return True
    return False


@pytest.fixture(scope="session")
def federation() -> Any:
    if not available():
        pytest.fail("ejabberd is not installed: apt-get install ejabberd (make install does)")
    lock = open(Path(tempfile.gettempdir()) / "switchboard-federation.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    taken = [a for a in (LOCAL_IP, REMOTE_IP) if _port_taken(a, 5269)]
    if taken:
        pytest.fail(f"port 5269 is taken on {taken}: a system XMPP server (Debian's ejabberd or prosody "
                    "service) listening on all addresses? Stop it for the federation suite.")
    state = Path(tempfile.mkdtemp(prefix="switchboard-federation-"))
    prosody = LocalProsody(state / "prosody", host=LOCAL, components={d: harness.secret(d) for d in (ROOMS, SUPPORT)},
                           admins=[local("admin")], peer_hosts={REMOTE: REMOTE_IP})
    ejabberd = LocalEjabberd(state / "ejabberd", host=REMOTE, ip=REMOTE_IP, federation=True, admins=[remote("admin")])
    hosts = HostsEntries({**{name: LOCAL_IP for name in (LOCAL, ROOMS, SUPPORT)}, REMOTE: REMOTE_IP})
    try:
        hosts.add()
        prosody.start()
        ejabberd.start()
        for user in LOCAL_USERS:
            prosody.register(user, harness.password(user))
        for user in REMOTE_USERS:
            ejabberd.register(user, harness.password(user))
        yield Federation(prosody, ejabberd)
    finally:
        ejabberd.stop()
        prosody.stop()
        hosts.remove()
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        if not os.environ.get("SWITCHBOARD_KEEP_STATE"):
            shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
async def switchboard(federation: Federation, tmp_path: Path) -> AsyncIterator[Any]:
    """``await switchboard({domain: {plugin: options}})``: the component behind the local Prosody."""
    apps: list[App] = []

    async def start(services: dict[str, dict[str, dict]]) -> App:
        app = await harness.start_app(federation.prosody.ports.component, services, tmp_path / str(len(apps)),
                                      admins=(local("admin"),))
        apps.append(app)
        return app

    yield start
    for app in reversed(apps):
        await app.stop()


@contextlib.contextmanager
def ejabberd_down(federation: Federation) -> Any:
    """The remote server gone without a word (killed: a stopped ejabberd would first tell everyone its users
    left) and unreachable for a while; it comes back, with its accounts, afterwards."""
    federation.ejabberd.kill()
    try:
        yield
    finally:
        federation.ejabberd.start()
        # Accounts registered just before a kill -9 may not have reached ejabberd's disc yet.
        for user in REMOTE_USERS:
            federation.ejabberd.register(user, harness.password(user))
