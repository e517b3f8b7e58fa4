"""One service domain: its XEP-0114 stream, its plugins, and the stanza router.

Routing goes through the hook bus:
- an IQ get/set fires ``iq:<type>:<{ns}name of its child>``; a handler returns a
  reply stanza, ``True`` (it answered itself) or ``None`` (not mine);
  nobody answering means ``service-unavailable`` (RFC 6120 8.3.3.19);
- messages fire ``message``, presences fire ``presence``; a handler returns
  non-None when it took the stanza.
Every handler failure is answered with a stanza error and logged; the service
keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from slixmpp import JID, ComponentXMPP, Iq, Message, Presence
from slixmpp.exceptions import XMPPError
from slixmpp.xmlstream import register_stanza_plugin, tostring
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from .config import ServiceConfig
from .errors import StanzaError, fill_error
from .hooks import HookBus
from .limits import Limiter
from .logs import begin_request, stanza_label
from .links import SlotLink, quiet_component
from .plugin import Plugin

if TYPE_CHECKING:
    from .app import App

log = logging.getLogger("switchboard.service")

StanzaHandler = Callable[[Any], Awaitable[Any] | Any]


class FatalConnectionError(Exception):
    """The server refused us for good (e.g. wrong secret)."""


_KIND_BY_INITIAL: dict[Any, str] = {"m": "message", "p": "presence", "i": "iq",
                                    b"m": "message", b"p": "presence", b"i": "iq"}


class Service:
    def __init__(self, app: "App", config: ServiceConfig, secret: str) -> None:
        self.app = app
        self.config = config
        self.domain = config.domain
        self.jid = JID(config.domain)
        self.hooks = HookBus()
        self.limiter = Limiter(config.limits)
        self.plugins: dict[str, Plugin] = {}
        self.stanzas_in = 0
        self.stanzas_out = 0
        #: (direction, kind) -> stanzas, for metrics; kinds: message, presence, iq.
        self.stanza_counts: dict[tuple[str, str], int] = {}
        #: kind -> stanzas whose handler failed (answered internal-server-error).
        self.handler_errors: dict[str, int] = {}
        #: Streams re-established after the first one.
        self.reconnects = 0
        #: Sessions opened on any of this process's connections (every slot, reconnections too): a
        #: connection that came back may hold another slot than before.
        self.sessions_started = 0
        self._ever_connected = False
        self.connected_at: float | None = None
        self.connected = asyncio.Event()
        self.fatal: FatalConnectionError | None = None
        self._stopping = False
        self._reconnect_delay = 0.5
        self._reconnect_handle: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        self._sender_locks: dict[str, asyncio.Lock] = {}
        self._foreign_warned: set[str] = set()
        server = app.config.server
        host, port = server.host, config.port or server.port
        self.xmpp = ComponentXMPP(config.domain, secret, host, port)
        #: The balancing slots this process opens for the domain: the main stream takes the first,
        #: a SlotLink each of the others (see links.py).
        self.slots = app.config.balancing.mine
        self.links = [SlotLink(self.xmpp, slot, config.domain, secret, host, port) for slot in self.slots[1:]]
        self._main_joined = False
        self._prepare_stream()
        from .adhoc import Commands
        from .disco import Disco
        self.commands = Commands(self)
        self.disco = Disco(self)

    # -- properties -------------------------------------------------------
    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.app.db

    def is_admin(self, jid: JID | str) -> bool:
        return JID(jid).bare in self.app.admins

    # -- stream -----------------------------------------------------------
    def _prepare_stream(self) -> None:
        xmpp = self.xmpp
        # Only our router sees messages and presences (see quiet_component).
        quiet_component(xmpp)
        ns = xmpp.default_ns
        xmpp.register_handler(Callback("switchboard iq", MatchXPath(f"{{{ns}}}iq"), self._on_iq))
        xmpp.register_handler(Callback("switchboard message", MatchXPath(f"{{{ns}}}message"), self._on_message))
        xmpp.register_handler(Callback("switchboard presence", MatchXPath(f"{{{ns}}}presence"), self._on_presence))
        xmpp.add_event_handler("session_start", self._on_session_start)
        xmpp.add_event_handler("disconnected", self._on_disconnected)
        xmpp.add_event_handler("connection_failed", self._on_connection_failed)
        xmpp.add_event_handler("stream_error", self._on_stream_error)
        # Unhandled slixmpp exceptions inside stanza objects end up here.
        xmpp.exception = lambda exc: log.error("stream exception", exc_info=exc,
                                               extra={"domain": self.domain})
        for link in self.links:
            link.add_event_handler("session_start", lambda _e, link=link: self._on_link_start(link))
            link.add_event_handler("disconnected", lambda reason, link=link: self._on_link_lost(link, reason))
            link.add_event_handler("connection_failed",
                                   lambda error, link=link: self._on_link_failed(link, error))
            link.add_event_handler("stream_error", self._on_stream_error)

    def connect(self) -> None:
        self._stopping = False
        log.info("connecting", extra={"domain": self.domain,
                                      "server": f"{self.xmpp.server_host}:{self.xmpp.server_port}"})
        self.xmpp.connect()
        for link in self.links:
            link.connect()

    def _schedule_link_reconnect(self, link: SlotLink, why: str) -> None:
        if self._stopping or self.fatal or link.retry_handle:
            return
        delay, link.retry_delay = link.retry_delay, min(link.retry_delay * 2, 5.0)
        log.warning("connection lost, reconnecting", extra={"domain": self.domain, "slot": link.slot,
                                                             "reason": why, "retry_in_s": delay})

        def again() -> None:
            link.retry_handle = None
            if not self._stopping and not self.fatal:
                link.connect()

        link.retry_handle = asyncio.get_running_loop().call_later(delay, again)

    def _on_link_start(self, link: SlotLink) -> None:
        self.sessions_started += 1
        link.retry_delay = 0.5
        log.info("connected and authenticated", extra={"domain": self.domain, "slot": link.slot})
        self._update_connected()

    def _on_link_lost(self, link: SlotLink, reason: Any) -> None:
        self.connected.clear()
        self._schedule_link_reconnect(link, str(reason or "stream closed"))

    def _on_link_failed(self, link: SlotLink, error: Any) -> None:
        link.cancel_connection_attempt()
        self._schedule_link_reconnect(link, f"connection failed: {error}")

    def open_slots(self) -> int:
        """How many of this process's slots have an authenticated connection now."""
        return (1 if self._main_joined else 0) + sum(1 for link in self.links if link.joined)

    def _update_connected(self) -> None:
        """``connected`` means every slot of this process is open; sending needs only one."""
        if self._main_joined and all(link.joined for link in self.links):
            self.connected.set()

    def _schedule_reconnect(self, why: str) -> None:
        if self._stopping or self.fatal or self._reconnect_handle:
            return
        delay = self._reconnect_delay
        self._reconnect_delay = min(self._reconnect_delay * 2, 5.0)
        log.warning("connection lost, reconnecting", extra={"domain": self.domain, "reason": why,
                                                             "retry_in_s": delay})

        def again() -> None:
            self._reconnect_handle = None
            if not self._stopping and not self.fatal:
                self.xmpp.connect()

        self._reconnect_handle = asyncio.get_running_loop().call_later(delay, again)

    def _on_connection_failed(self, error: Any) -> None:
        # slixmpp's own retry backs off to minutes; ours stays within seconds
        # so a restarted server is served again quickly.
        self.xmpp.cancel_connection_attempt()
        self._schedule_reconnect(f"connection failed: {error}")

    def _on_stream_error(self, error: Any) -> None:
        condition = error["condition"]
        if condition == "not-authorized":
            self.fatal = FatalConnectionError(
                f"the server refused the component secret for {self.domain} (stream error not-authorized)")
        elif condition in ("host-unknown", "improper-addressing"):
            self.fatal = FatalConnectionError(
                f"the server does not know the component domain {self.domain} (stream error {condition})")
        elif condition == "conflict":
            self.fatal = FatalConnectionError(
                f"another component is already connected as {self.domain} (stream error conflict)")
        if self.fatal:
            log.error(str(self.fatal), extra={"domain": self.domain})
            self.app.fatal_error(self.fatal)
        else:
            log.warning("stream error", extra={"domain": self.domain, "condition": condition})

    def _on_session_start(self, _event: Any) -> None:
        self.sessions_started += 1
        self._reconnect_delay = 0.5
        if self._ever_connected:
            self.reconnects += 1
        self._ever_connected = True
        self.connected_at = time.time()
        self._main_joined = True
        self._update_connected()
        log.info("connected and authenticated", extra={"domain": self.domain})
        for plugin in self.plugins.values():
            self._spawn(plugin.on_connected())

    def _on_disconnected(self, reason: Any) -> None:
        was_connected = self.connected.is_set()
        self._main_joined = False
        self.connected.clear()
        self.connected_at = None
        if was_connected or not self._stopping:
            self._spawn(self.hooks.fire("service.disconnected"))
        self._schedule_reconnect(str(reason or "stream closed"))

    async def disconnect(self) -> None:
        self._stopping = True
        if self._reconnect_handle:
            self._reconnect_handle.cancel()
            self._reconnect_handle = None
        for link in self.links:
            if link.retry_handle:
                link.retry_handle.cancel()
                link.retry_handle = None
        for stream in (*self.links, self.xmpp):
            stream.cancel_connection_attempt()
            if stream.transport is not None:
                try:
                    await asyncio.wait_for(stream.disconnect(wait=1.0), 3)
                except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - best effort on the way out
                    stream.abort()
        self.connected.clear()

    # -- sending ----------------------------------------------------------
    def send(self, stanza: Any) -> None:
        """Serialize and write a stanza now (keeps order with :meth:`send_raw`)."""
        data = tostring(stanza.xml, xmlns=self.xmpp.default_ns, stream=self.xmpp, top_level=True)
        limit = self.app.config.server.max_stanza_bytes
        if limit and len(data.encode("utf-8")) > limit:
            self._oversize(stanza, len(data.encode("utf-8")), limit)
            return
        self.send_raw(data)

    def _oversize(self, stanza: Any, size: int, limit: int) -> None:
        """Not sent: the server would close the whole stream on it. An IQ answer becomes an error."""
        log.error("stanza larger than the server accepts, not sent",
                  extra={"domain": self.domain, "bytes": size, "limit": limit,
                         "kind": stanza.xml.tag.rpartition("}")[2], "type": stanza["type"]})
        if isinstance(stanza, Iq) and stanza["type"] == "result":
            reply = Iq(self.xmpp, sto=stanza["to"], sfrom=stanza["from"])
            reply["id"] = stanza["id"]
            self.send(fill_error(reply, StanzaError(
                "resource-constraint", "the answer is larger than the server accepts; ask for less")))

    def send_raw(self, data: str | bytes, count: int = 1) -> None:
        """Write serialized stanzas; ``count`` is how many the data holds (for statistics)."""
        transport = self.xmpp.transport
        if transport is None or not self._main_joined:
            # The main stream is reconnecting: any other open slot of ours carries it.
            transport = next((link.transport for link in self.links if link.joined), transport)
        if transport is None:
            log.warning("not connected, stanza dropped", extra={"domain": self.domain})
            return
        transport.write(data.encode("utf-8") if isinstance(data, str) else data)
        self.stanzas_out += count
        # What was written starts with its first stanza's tag; a burst holds one kind.
        key = ("out", _KIND_BY_INITIAL.get(data[1:2], "other"))
        self.stanza_counts[key] = self.stanza_counts.get(key, 0) + count

    def send_error(self, stanza: Any, error: XMPPError) -> None:
        """Answer ``stanza`` with ``error`` (never an error to an error)."""
        if stanza["type"] == "error":
            return
        reply = stanza.reply(clear=True) if not isinstance(stanza, Presence) else stanza.reply()
        if isinstance(stanza, Presence):
            reply.clear()
            reply["to"], reply["from"] = stanza["from"], stanza["to"]
        # The sender matches the error to its stanza by id (RFC 6120 8.2);
        # slixmpp's Message.reply() would make a new one.
        reply["id"] = stanza["id"]
        self.send(fill_error(reply, error))

    def make_iq(self, ifrom: JID | str, ito: JID | str, itype: str = "set") -> Iq:
        iq = self.xmpp.make_iq(ito=ito, ifrom=ifrom, itype=itype)
        return iq

    async def request(self, iq: Iq, timeout: float = 30) -> Iq:
        """Send an IQ and await its result (raises IqError / IqTimeout)."""
        return await iq.send(timeout=timeout)

    # -- receiving --------------------------------------------------------
    async def _in_order(self, sender: str, coro: Awaitable[Any]) -> None:
        """Run handlers for one sender one at a time, in arrival order (RFC 6120 10.1).

        Tasks start in creation order and asyncio.Lock is FIFO, so stanzas from
        one full JID are processed in the order they arrived, even when a
        handler awaits storage.
        """
        lock = self._sender_locks.get(sender)
        if lock is None:
            lock = self._sender_locks[sender] = asyncio.Lock()
        try:
            async with lock:
                await coro
        finally:
            if not lock.locked() and self._sender_locks.get(sender) is lock and not getattr(lock, "_waiters", None):
                del self._sender_locks[sender]

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _admit(self, stanza: Any, is_message: bool = False) -> bool:
        """Apply the input limits; answer and drop what exceeds them."""
        try:
            self.limiter.check_shape(stanza.xml)
            if is_message and stanza["type"] != "error":
                self.limiter.check_message(stanza["from"].bare, stanza["body"])
        except XMPPError as error:
            log.info("stanza refused by limits", extra={"domain": self.domain, "stanza": stanza_label(stanza["id"]),
                                                        "from": stanza["from"].bare,
                                                        "condition": error.condition})
            self.send_error(stanza, error)
            return False
        return True

    def _owner(self, stanza: Any) -> "Service | None":
        """The service of this process that ``stanza`` is addressed to.

        Prosody routes each component domain to its own stream. ejabberd routes
        every domain of an ``ejabberd_service`` listener to every stream
        authenticated on it (and picks one at random when several are
        connected), so a stanza for another of our domains can arrive here:
        hand it to that service's stream. A domain this process does not serve is
        answered, never served as if it were ours.
        """
        domain = stanza["to"].domain
        if domain == self.jid.domain:
            return self
        other = next((s for s in self.app.services.values() if s.jid.domain == domain), None)
        if domain not in self._foreign_warned:
            self._foreign_warned.add(domain)
            log.warning("the server delivered a stanza for another domain on this stream; give each "
                        "domain its own component listener (ejabberd: one ejabberd_service per domain)",
                        extra={"domain": self.domain, "to_domain": domain, "served_here": other is not None})
        if other is None and stanza["type"] != "error":
            self.send_error(stanza, StanzaError("service-unavailable",
                                                "no service of this address is connected on this stream"))
        return other

    def _count_in(self, kind: str) -> None:
        self.stanzas_in += 1
        key = ("in", kind)
        self.stanza_counts[key] = self.stanza_counts.get(key, 0) + 1

    def _failed(self, kind: str) -> None:
        self.handler_errors[kind] = self.handler_errors.get(kind, 0) + 1

    def take(self, stanza: Any) -> None:
        """Process a stanza that arrived on another stream as if it had come on ours, so that slixmpp's
        IQ waiters (answers to our requests) match it as well as our handlers."""
        self.xmpp._spawn_event(stanza.xml)

    def _on_iq(self, iq: Iq) -> None:
        owner = self._owner(iq)
        if owner is not self:
            if owner is not None:
                owner.take(iq)
            return
        self._count_in("iq")
        if iq["type"] in ("get", "set") and self._admit(iq):
            self._spawn(self._in_order(iq["from"].full, self._dispatch_iq(iq)))

    def _on_message(self, msg: Message) -> None:
        owner = self._owner(msg)
        if owner is not self:
            if owner is not None:
                owner.take(msg)
            return
        self._count_in("message")
        if self._admit(msg, is_message=True):
            self._spawn(self._in_order(msg["from"].full, self._dispatch(msg, "message")))

    def _on_presence(self, pres: Presence) -> None:
        owner = self._owner(pres)
        if owner is not self:
            if owner is not None:
                owner.take(pres)
            return
        self._count_in("presence")
        if pres["type"] == "error" or self._admit(pres):
            self._spawn(self._in_order(pres["from"].full, self._dispatch(pres, "presence")))

    async def _dispatch_iq(self, iq: Iq) -> None:
        begin_request(self.domain, iq["id"])
        try:
            children = list(iq.xml)
            payload = [c for c in children if not c.tag.endswith("}error")]
            if len(payload) != 1:
                raise StanzaError("bad-request", "an IQ get or set carries exactly one payload element")
            result = await self.hooks.fire(f"iq:{iq['type']}:{payload[0].tag}", iq)
            if result is None:
                raise StanzaError("service-unavailable", "this service does not answer that request")
            if result is not True:
                self.send(result)
        except XMPPError as error:
            self.send_error(iq, error)
        except Exception:  # noqa: BLE001 - the service must survive any handler bug
            self._failed("iq")
            log.exception("IQ handler failed", extra={"domain": self.domain, "to": str(iq["to"]),
                                                      "payload": payload[0].tag if payload else ""})
            self.send_error(iq, StanzaError("internal-server-error", "the request failed on our side"))

    async def _dispatch(self, stanza: Any, kind: str) -> None:
        begin_request(self.domain, stanza["id"])
        try:
            handled = await self.hooks.fire(kind, stanza)
            if handled is None and kind == "message" and stanza["type"] not in ("error", "groupchat", "headline"):
                raise StanzaError("service-unavailable", "nobody here receives messages at this address")
        except XMPPError as error:
            self.send_error(stanza, error)
        except Exception:  # noqa: BLE001
            self._failed(kind)
            log.exception(f"{kind} handler failed", extra={"domain": self.domain, "to": str(stanza["to"])})
            self.send_error(stanza, StanzaError("internal-server-error", "the stanza failed on our side"))

    # -- registration helpers for plugins ---------------------------------
    def on_iq(self, tag: str, handler: StanzaHandler, types: tuple[str, ...] = ("get", "set"),
              priority: int = 0, stanza_plugins: tuple[type, ...] = ()) -> None:
        """Answer IQs whose payload is ``tag`` (``{namespace}name``)."""
        for stanza_plugin in stanza_plugins:
            register_stanza_plugin(Iq, stanza_plugin)
        for itype in types:
            self.hooks.on(f"iq:{itype}:{tag}", handler, priority)

    def on_message(self, handler: StanzaHandler, priority: int = 0) -> None:
        self.hooks.on("message", handler, priority)

    def on_presence(self, handler: StanzaHandler, priority: int = 0) -> None:
        self.hooks.on("presence", handler, priority)

    async def idle(self) -> None:
        """Wait until the handlers already started have finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
