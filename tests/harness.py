"""Test harness: a real Prosody, the component in-process, real client libraries.

Prosody is started once per test session with a fixed set of component domains
(each test connects the plugins it needs to one of them); every test gets a
fresh database, so tests do not see each other's rooms or tickets.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any, AsyncIterator

import slixmpp
from slixmpp import JID

from component.app import App
from component.config import parse

#: "prosody" (default) or "ejabberd": the server the component sits behind in this session.
SERVER = os.environ.get("SWITCHBOARD_TEST_SERVER", "prosody")
HOST = "localhost"
PASSWORD = "secret-{user}"
USERS = ("alice", "bob", "carol", "dave", "eve", "admin", "agent1", "agent2", "agent3", "super", "cust1",
         "cust2", "cust3")
#: Component domains declared in Prosody for the whole session.
DOMAINS = ("rooms.localhost", "support.localhost", "test.localhost", "extra.localhost")
#: Anonymous website visitors (the chat widget) log in here; they may write to this domain only.
GUEST_HOST = "guest.localhost"
GUEST_ALLOWED = ("support.localhost",)
SECRET = "component-secret-{domain}"


def password(user: str) -> str:
    return PASSWORD.format(user=user)


def secret(domain: str) -> str:
    return SECRET.format(domain=domain)


#: The PostgreSQL server of this session when the suite runs on PostgreSQL
#: (SWITCHBOARD_TEST_BACKEND=postgresql); set by the session fixture.
POSTGRES: Any = None


@contextlib.contextmanager
def serving(server: Any, state: Path) -> Any:
    """A session's server: started, with the test users registered; stopped and its state folder
    removed afterwards (kept with SWITCHBOARD_KEEP_STATE=1)."""
    server.start()
    try:
        for user in USERS:
            server.register(user, password(user))
        yield server
    finally:
        server.stop()
        if not os.environ.get("SWITCHBOARD_KEEP_STATE"):
            shutil.rmtree(state, ignore_errors=True)


def database_url(tmp_path: Path) -> str:
    """A fresh database for this test: SQLite in its folder, or one PostgreSQL database per folder.

    The same folder gives the same database, so a test can restart the component on it.
    """
    if POSTGRES is None:
        return f"sqlite+aiosqlite:///{tmp_path / 'switchboard.db'}"
    name = "t_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:20]
    if not POSTGRES.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip():
        POSTGRES.create_database(name)
    return POSTGRES.url(name)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


#: Tests send bursts on purpose; flood control is tested on its own with explicit limits.
NO_RATE_LIMIT = {"message_rate": 0}


def make_config_text(port: int, services: dict[str, dict[str, dict]], state_dir: Path, db_url: str,
                     admins: tuple[str, ...] = (f"admin@{HOST}",), secrets: dict[str, str] | None = None,
                     limits: dict[str, Any] | None = None, service_ports: dict[str, int] | None = None,
                     server_options: dict[str, Any] | None = None) -> str:
    lines = [f"state_dir = {toml_value(str(state_dir))}", f"admins = {toml_value(list(admins))}",
             "[server]", 'host = "127.0.0.1"', f"port = {port}",
             *(f"{k} = {toml_value(v)}" for k, v in (server_options or {}).items()),
             "[database]", f"url = {toml_value(db_url)}", "[logging]", 'level = "debug"']
    for domain, plugins in services.items():
        lines += ["[[services]]", f"domain = {toml_value(domain)}",
                  f"secret = {toml_value((secrets or {}).get(domain, secret(domain)))}",
                  f"limits = {toml_value(NO_RATE_LIMIT if limits is None else limits)}"]
        if service_ports and domain in service_ports:
            lines.append(f"port = {service_ports[domain]}")
        for name, options in plugins.items():
            lines.append(f"[services.plugins.{name}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


async def start_app(port: int, services: dict[str, dict[str, dict]], tmp_path: Path,
                    db_url: str | None = None, **kwargs: Any) -> App:
    text = make_config_text(port, services, tmp_path / "state", db_url or database_url(tmp_path), **kwargs)
    return await start_configured(text, tmp_path)


async def start_configured(text: str, tmp_path: Path) -> App:
    """Run the component on this configuration text until its streams are up (stopped again if not)."""
    app = App(parse(text, str(tmp_path / "switchboard.toml"), tmp_path))
    try:
        await app.start()
        await app.wait_connected(20)
    except BaseException:
        await app.stop()
        raise
    return app


def new_client(user: str, resource: str = "test", cls: type = slixmpp.ClientXMPP,
               plugins: tuple[str, ...] = (), host: str = HOST, lang: str = "en") -> slixmpp.ClientXMPP:
    client = cls(f"{user}@{host}/{resource}", password(user), lang=lang)
    # Loopback Prosody without TLS (see the project's pitfalls notes).
    client.enable_starttls = False
    client.enable_direct_tls = False
    client.enable_plaintext = True
    client.plugin["feature_mechanisms"].unencrypted_plain = True
    client.plugin["feature_mechanisms"].unencrypted_scram = True
    for plugin in ("xep_0030", "xep_0199", *plugins):
        client.register_plugin(plugin)
    return client


@contextlib.asynccontextmanager
async def slix_client(port: int, user: str, resource: str = "test", plugins: tuple[str, ...] = (),
                      presence: bool = True, host: str = HOST,
                      address: str = "127.0.0.1") -> AsyncIterator[slixmpp.ClientXMPP]:
    """A logged-in slixmpp client (yields after session start); ``host``/``address`` for another server."""
    client = new_client(user, resource, plugins=plugins, host=host)
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
    client.add_event_handler("failed_auth", lambda _e: started.done() or started.set_exception(
        RuntimeError(f"login failed for {user}")))
    client.connect(address, port)
    try:
        await asyncio.wait_for(started, 15)
        if presence:
            client.send_presence()
        yield client
    finally:
        client.disconnect(wait=0.5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnected, 3)


class Inbox:
    """Collects stanzas a client receives, to await the next one matching a predicate.

    Messages the client's own server kept while the account was offline are left out unless
    ``offline_replays`` is set: the test accounts are shared by the tests of a session, so an
    offer or a reply sent to an earlier test's session would otherwise pass for this test's.
    """

    def __init__(self, client: slixmpp.ClientXMPP, kinds: tuple[str, ...] = ("message",),
                 offline_replays: bool = False) -> None:
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        self._client = client
        self._offline_replays = offline_replays
        self.items: list[Any] = []
        self._changed = asyncio.Event()
        for kind in kinds:
            client.register_handler(Callback(f"inbox {kind} {id(self)}",
                                             MatchXPath(f"{{{client.default_ns}}}{kind}"), self._add))

    def _add(self, stanza: Any) -> None:
        if not self._offline_replays and self._replayed_by_own_server(stanza):
            return
        self.items.append(stanza)
        self._changed.set()

    def _replayed_by_own_server(self, stanza: Any) -> bool:
        delay = stanza.xml.find("{urn:xmpp:delay}delay")
        return delay is not None and delay.get("from") == self._client.boundjid.domain

    async def next(self, predicate: Any = lambda s: True, timeout: float = 10) -> Any:
        """The first stanza matching ``predicate`` (removed from the inbox)."""
        async def find() -> Any:
            while True:
                for i, item in enumerate(self.items):
                    if predicate(item):
                        return self.items.pop(i)
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(find(), timeout)

    async def quiet(self, predicate: Any = lambda s: True, wait: float = 0.5) -> None:
        """Assert nothing matching arrives within ``wait`` seconds."""
        with contextlib.suppress(asyncio.TimeoutError):
            item = await self.next(predicate, wait)
            raise AssertionError(f"unexpected stanza: {item}")


def bare(jid: str | JID) -> str:
    return JID(jid).bare


async def until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll in-process state until ``predicate()`` is truthy and return it (no fixed sleeps).
    ``predicate`` may be a coroutine function (a question to a server, say)."""
    import inspect
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def run_command(client: Any, to: str, node: str, action: str = "execute", sessionid: str | None = None,
                      fields: dict[str, str] | None = None, lang: str | None = None) -> Any:
    """One XEP-0050 step as raw XML (a submitted form when ``fields`` is given); returns ``<command/>``."""
    from xml.etree.ElementTree import SubElement

    commands, xdata = "http://jabber.org/protocol/commands", "jabber:x:data"
    iq = client.make_iq_set(ito=to)
    if lang:
        iq.xml.set("{http://www.w3.org/XML/1998/namespace}lang", lang)
    attrs = {"node": node, "action": action}
    if sessionid:
        attrs["sessionid"] = sessionid
    element = SubElement(iq.xml, f"{{{commands}}}command", attrs)
    if fields is not None:
        form = SubElement(element, f"{{{xdata}}}x", {"type": "submit"})
        for var, value in fields.items():
            SubElement(SubElement(form, f"{{{xdata}}}field", {"var": var}), f"{{{xdata}}}value").text = value
    result = await iq.send(timeout=10)
    return result.xml.find(f"{{{commands}}}command")
