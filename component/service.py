"""One service domain: its plugins and the stanza router (its connections: stream.py).

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
from xml.etree.ElementTree import Element

from slixmpp import JID, ComponentXMPP, Iq, Message, Presence
from slixmpp.exceptions import XMPPError
from slixmpp.xmlstream import register_stanza_plugin, tostring

from .config import ServiceConfig
from .errors import StanzaError, fill_error
from .hooks import HookBus
from .limits import Limiter
from .logs import begin_request, stanza_label
from .links import SlotLink
from .pacing import MARKER_RESOURCE, Pacer
from .plugin import Plugin
from .stream import FatalConnectionError, ServiceStreams
from .xml import serialize

__all__ = ["FatalConnectionError", "Service", "StanzaHandler"]

if TYPE_CHECKING:
    from .app import App

log = logging.getLogger("switchboard.service")

StanzaHandler = Callable[[Any], Awaitable[Any] | Any]


_KIND_BY_INITIAL: dict[Any, str] = {"m": "message", "p": "presence", "i": "iq",
                                    b"m": "message", b"p": "presence", b"i": "iq"}


class Service(ServiceStreams):
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
        #: Bulk notices wait here while the server is behind (pacing.py). With balancing a marker
        #: to the domain may come back on another process's connection, so there is none.
        window = app.config.server.pacing_window
        self.pacer = (Pacer(self._write, self._send_marker, window)
                      if window and app.config.balancing.slots == 1 else None)
        self._marker_jid = f"{config.domain}/{MARKER_RESOURCE}"
        # What slixmpp sends for us (IQ requests, presences) takes our own way out: written at once
        # (not behind a task of slixmpp's own), counted, and in order with what waits for its addressee.
        self.xmpp.send = self._send_for_slixmpp  # type: ignore[method-assign]
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

    # -- sending ----------------------------------------------------------
    def send(self, stanza: Any) -> None:
        """Serialize and write a stanza now (keeps order with :meth:`send_raw`)."""
        data = tostring(stanza.xml, xmlns=self.xmpp.default_ns, stream=self.xmpp, top_level=True)
        limit = self.app.config.server.max_stanza_bytes
        if limit and len(data.encode("utf-8")) > limit:
            self._oversize(stanza, len(data.encode("utf-8")), limit)
            return
        self.send_raw(data, to=stanza.xml.get("to"), sender=stanza.xml.get("from"))

    def _send_for_slixmpp(self, data: Any, use_filters: bool = True) -> None:
        if self._main_joined and isinstance(data, (Iq, Message, Presence)):
            self.send(data)
        else:  # the handshake, or a stanza while the stream is down: slixmpp queues it as it would
            ComponentXMPP.send(self.xmpp, data, use_filters)

    def send_element(self, elem: Element) -> None:
        """Write a stanza built as a plain element: what goes out by the thousand (a desk's notices in
        a storm) skips the stanza object and its serializer, several times the cost."""
        data = self._serialized(elem)
        if data is not None:
            self.send_raw(data, to=elem.get("to"), sender=elem.get("from"))

    def send_bulk(self, elem: Element) -> None:
        """Like :meth:`send_element`, for a stanza that may wait while the server is behind, so that
        the stanzas somebody waits for (an offer, an answer) overtake it. It still reaches its
        addressee before anything sent from the same address to it later."""
        data = self._serialized(elem)
        if data is None:
            return
        if self.pacer is None:
            self._write(data)
        else:
            self.pacer.bulk(data, elem.get("to"), elem.get("from"))

    def _serialized(self, elem: Element) -> str | None:
        data = serialize(elem)
        limit = self.app.config.server.max_stanza_bytes
        if limit and len(data) * 4 > limit and len(data.encode("utf-8")) > limit:
            log.error("stanza larger than the server accepts, not sent",
                      extra={"domain": self.domain, "bytes": len(data.encode("utf-8")), "limit": limit,
                             "kind": elem.tag.rpartition("}")[2], "type": elem.get("type", "")})
            return None
        return data

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

    def send_raw(self, data: str | bytes, count: int = 1, to: str | None = None,
                 sender: str | None = None) -> None:
        """Write serialized stanzas now; ``count`` is how many the data holds (for statistics), ``to``
        and ``sender`` the addresses of a single one (what waits between them goes first; unknown
        ``to``: everything, unknown ``sender``: whatever waits for ``to``)."""
        if self.pacer is None:
            self._write(data, count)
        else:
            self.pacer.urgent(data, to, count, sender)

    def _write(self, data: str | bytes, count: int = 1) -> None:
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

    def _send_marker(self, marker_id: str) -> None:
        """A headline to our own domain: the server hands it back once it has handled what came before."""
        transport = self.xmpp.transport
        if transport is not None and self._main_joined:
            transport.write(f"<message xmlns='{self.xmpp.default_ns}' type='headline' from='{self._marker_jid}' "
                            f"to='{self._marker_jid}' id='{marker_id}'/>".encode())

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
        return await self.request_now(iq, timeout)

    def request_now(self, iq: Iq, timeout: float = 30) -> asyncio.Future:
        """Send an IQ before returning (``request`` sends when its task runs); the future of its result."""
        return iq.send(timeout=timeout)

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
            self._spawn(self._in_order(iq["from"].full, self._dispatch_iq(iq, time.monotonic())))

    def _on_message(self, msg: Message) -> None:
        if self.pacer is not None and msg.xml.get("to") == self._marker_jid == msg.xml.get("from"):
            self.pacer.marker_back(msg.xml.get("id", ""))  # ours, even one back after its timeout
            return
        owner = self._owner(msg)
        if owner is not self:
            if owner is not None:
                owner.take(msg)
            return
        self._count_in("message")
        if self._admit(msg, is_message=True):
            self._spawn(self._in_order(msg["from"].full, self._dispatch(msg, "message", time.monotonic())))

    def _on_presence(self, pres: Presence) -> None:
        owner = self._owner(pres)
        if owner is not self:
            if owner is not None:
                owner.take(pres)
            return
        self._count_in("presence")
        if pres["type"] == "error" or self._admit(pres):
            self._spawn(self._in_order(pres["from"].full, self._dispatch(pres, "presence", time.monotonic())))

    async def _dispatch_iq(self, iq: Iq, arrived: float | None = None) -> None:
        begin_request(self.domain, iq["id"], arrived)
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

    async def _dispatch(self, stanza: Any, kind: str, arrived: float | None = None) -> None:
        begin_request(self.domain, stanza["id"], arrived)
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
