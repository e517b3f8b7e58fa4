"""Tests for component.localserver: a real Prosody on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from component.localprocess import answers_c2s
from component.localserver import LocalProsody, ProsodyPorts, free_port

pytestmark = pytest.mark.timeout(30)

requires_prosody = pytest.mark.skipif(
    shutil.which("prosody") is None and not Path("/usr/bin/prosody").exists(),
    reason="prosody is not installed (apt-get install prosody prosody-modules lua-dbi-sqlite3)",
)

COMPONENT = "rooms.localhost"
SECRET = "component-secret"
STREAMS_NS = "http://etherx.jabber.org/streams"
STREAM_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-streams"


@pytest.fixture
def prosody(tmp_path: Path):
    server = LocalProsody(tmp_path / "prosody", components={COMPONENT: SECRET}, admins=["admin@localhost"])
    with server:
        yield server


# ---- client side (slixmpp) ----------------------------------------------


@contextlib.asynccontextmanager
async def _client(server: LocalProsody, jid: str, password: str, plugins: tuple[str, ...] = ()):
    """A slixmpp client logged in to `server`, disconnected on exit."""
    import slixmpp

    client = slixmpp.ClientXMPP(jid, password)
    # Loopback Prosody without certificates: plain TCP, SASL without TLS.
    client.enable_starttls = False
    client.enable_direct_tls = False
    client.enable_plaintext = True
    for plugin in plugins:
        client.register_plugin(plugin)
    client.plugin["feature_mechanisms"].unencrypted_plain = True
    client.plugin["feature_mechanisms"].unencrypted_scram = True

    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def fail(reason: str) -> None:
        if not ready.done():
            ready.set_exception(AssertionError(reason))

    client.add_event_handler("session_start", lambda _: ready.done() or ready.set_result(None))
    client.add_event_handler("failed_auth", lambda _: fail("authentication failed"))
    client.add_event_handler("connection_failed", lambda e: fail(f"connection failed: {e}"))

    client.connect("127.0.0.1", server.ports.c2s)
    try:
        await asyncio.wait_for(ready, 5)
        yield client
    finally:
        await client.disconnect()


async def _login_and_ping(server: LocalProsody, jid: str, password: str) -> float:
    async with _client(server, jid, password, ("xep_0199",)) as client:
        return await client.plugin["xep_0199"].ping(jid=server.host, timeout=5)


@pytest.mark.integration
@requires_prosody
@pytest.mark.asyncio
async def test_client_login_ping_and_restart(prosody: LocalProsody) -> None:
    prosody.register("alice", "wonderland")
    prosody.register("alice", "wonderland")  # idempotent

    rtt = await _login_and_ping(prosody, "alice@localhost/test", "wonderland")
    assert rtt >= 0

    ports_before = prosody.ports
    prosody.restart()
    assert prosody.is_running()
    assert prosody.ports == ports_before

    # The account survived: same data folder.
    await _login_and_ping(prosody, "alice@localhost/again", "wonderland")


# ---- component side (raw XEP-0114) ----------------------------------------


class _ComponentStream:
    """Just enough of XEP-0114 to test the handshake by hand."""

    def __init__(self, port: int, domain: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.sock.sendall(
            (
                "<?xml version='1.0'?>"
                "<stream:stream xmlns='jabber:component:accept' "
                f"xmlns:stream='{STREAMS_NS}' to='{domain}'>"
            ).encode()
        )
        self.stream_id = self._next("start").get("id")

    def _next(self, wanted: str) -> ET.Element:
        """The next stream header ("start") or top-level stanza ("end")."""
        while True:
            for event, elem in self.parser.read_events():
                if event == "start":
                    self.depth += 1
                    if self.depth == 1 and wanted == "start":
                        return elem
                else:
                    self.depth -= 1
                    if self.depth == 1 and wanted == "end":
                        return elem
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("stream closed by the server")
            self.parser.feed(data)

    def handshake(self, secret: str) -> ET.Element:
        digest = hashlib.sha1((self.stream_id + secret).encode()).hexdigest()
        self.sock.sendall(f"<handshake>{digest}</handshake>".encode())
        return self._next("end")

    def close(self) -> None:
        try:
            self.sock.sendall(b"</stream:stream>")
        except OSError:
            pass
        self.sock.close()


@pytest.mark.integration
@requires_prosody
def test_component_handshake(prosody: LocalProsody) -> None:
    bad = _ComponentStream(prosody.ports.component, COMPONENT)
    try:
        assert bad.stream_id
        reply = bad.handshake("wrong-" + SECRET)
        assert reply.tag == f"{{{STREAMS_NS}}}error"
        assert reply.find(f"{{{STREAM_ERRORS_NS}}}not-authorized") is not None
    finally:
        bad.close()

    mark = prosody.log_position()
    good = _ComponentStream(prosody.ports.component, COMPONENT)
    try:
        reply = good.handshake(SECRET)
        assert reply.tag == "{jabber:component:accept}handshake"
        assert len(reply) == 0 and not (reply.text or "").strip()
        assert prosody.wait_for_log("External component successfully authenticated", timeout=5, since=mark)
    finally:
        good.close()


@pytest.mark.integration
@requires_prosody
def test_prosody_takes_our_garbage_collector_settings(prosody: LocalProsody) -> None:
    """Our configuration asks for Lua 5.4's generational collector (why: docs/servers.md). A Prosody
    that cannot apply it (an older Lua, a misspelt parameter) logs so and keeps its own collector,
    whose pauses the support storm measured at tens of milliseconds."""
    log = prosody.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Hello and welcome to Prosody" in log  # its start is in this log
    assert "Failed to apply GC configuration" not in log


# ---- launcher behaviour -------------------------------------------------


@pytest.mark.integration
@requires_prosody
def test_stop_and_kill_are_idempotent(tmp_path: Path) -> None:
    server = LocalProsody(tmp_path / "state")
    server.stop()  # never started
    server.start()
    pid = server.pid
    assert pid and server.is_running()
    server.kill()
    assert not server.is_running()
    server.kill()
    server.stop()
    # A killed server comes back on the same ports (stale pid file and all).
    server.start()
    try:
        assert server.pid != pid
        with socket.create_connection(("127.0.0.1", server.ports.c2s), timeout=2):
            pass
    finally:
        server.stop()
    assert not server.is_running()


@pytest.mark.integration
@requires_prosody
def test_port_in_use_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = ProsodyPorts(c2s=taken.getsockname()[1], component=free_port(), http=free_port())
        server = LocalProsody(tmp_path / "state", ports=ports)
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="could not bind"):
            server.start(timeout=10)
        assert time.monotonic() - started < 5
        assert not server.is_running()


@pytest.mark.integration
@requires_prosody
def test_a_drawn_port_taken_before_the_first_start_is_drawn_again(tmp_path: Path) -> None:
    """Another server on this machine may take a drawn port before Prosody binds it: the first start
    draws the ports again (given ports are kept: the test above)."""
    server = LocalProsody(tmp_path / "state")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", server.ports.c2s))
        taken.listen()
        first = server.ports
        with server:
            assert server.ports != first and server.ports.c2s != taken.getsockname()[1]
            assert answers_c2s(server.ports.c2s)


def test_rendered_config(tmp_path: Path) -> None:
    server = LocalProsody(
        tmp_path / "state",
        components={COMPONENT: 'se"cret', "support.localhost": "other"},
        admins=["admin@localhost"],
        native_muc=True,
        native_storage="sql",
        log_level="debug",
    )
    text = server.write_config().read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    assert "@@" not in code
    assert f'Component "{COMPONENT}"\n\tcomponent_secret = "se\\"cret"' in text
    assert 'Component "support.localhost"' in text
    assert 'Component "conference.localhost" "muc"' in text
    assert 'storage = "sql"' in text and "prosody.sqlite" in text
    assert 'admins = { "admin@localhost" }' in text
    assert '"limits"' not in code and '"tls"' not in code
    assert (server.config_path.stat().st_mode & 0o777) == 0o640

    plain = LocalProsody(tmp_path / "plain").render()
    assert "Component" not in "".join(line for line in plain.splitlines() if not line.lstrip().startswith("--"))
    assert "sql = {" not in plain

    with pytest.raises(ValueError):
        LocalProsody(tmp_path / "x", native_storage="postgres")


@pytest.mark.integration
@requires_prosody
@pytest.mark.asyncio
@pytest.mark.parametrize("storage", ["internal", "sql"])
async def test_native_muc_archives(tmp_path: Path, storage: str) -> None:
    with LocalProsody(tmp_path / "state", native_muc=True, native_storage=storage) as server:
        errors = [line for line in server.log_tail(200).splitlines() if "\terror\t" in line]
        assert errors == []
        server.register("alice", "wonderland")
        room = "lobby@conference.localhost"
        async with _client(server, "alice@localhost/muc", "wonderland", ("xep_0045", "xep_0313")) as client:
            # Unlocked at once (muc_room_locking = false): no configuration step.
            await client.plugin["xep_0045"].join_muc_wait(room, "alice", maxstanzas=0, timeout=5)
            echoed = asyncio.get_running_loop().create_future()
            client.add_event_handler(
                "groupchat_message", lambda msg: echoed.done() or echoed.set_result(msg["body"])
            )
            client.send_message(mto=room, mbody="hello archive", mtype="groupchat")
            assert await asyncio.wait_for(echoed, 5) == "hello archive"

            archived = asyncio.get_running_loop().create_future()
            client.plugin["xep_0313"].retrieve(
                jid=room, timeout=5, callback=lambda iq: archived.set_result(iq["mam"]["results"])
            )
            results = await asyncio.wait_for(archived, 5)
            bodies = [r["mam_result"]["forwarded"]["stanza"]["body"] for r in results]
            assert bodies == ["hello archive"]
        # The archive went to the selected backend only.
        file_store = server.data_path / "conference%2elocalhost"
        database = tmp_path / "state" / "prosody.sqlite"
        if storage == "sql":
            assert database.stat().st_size > 0 and not file_store.exists()
        else:
            assert file_store.is_dir() and not database.exists()


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    """Outgoing connections take their local ports from the ephemeral range: a port chosen there
    could be taken before the server binds it."""
    from component.localprocess import _ephemeral_floor, free_ports

    ports = free_ports(20)
    assert len(set(ports)) == 20
    assert all(1024 <= port < _ephemeral_floor() for port in ports)
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
