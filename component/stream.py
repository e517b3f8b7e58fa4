"""A service's connections to the server: its main XEP-0114 stream and its other balancing slots
(links.py), their reconnection and the errors that stop the process.

``connected`` is set while every slot of this process is open; a lost connection is
reconnected on its own within seconds (slixmpp's own retry backs off to minutes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from .links import SlotLink, quiet_component

if TYPE_CHECKING:
    from slixmpp import ComponentXMPP

    from .app import App
    from .hooks import HookBus
    from .pacing import Pacer
    from .plugin import Plugin

log = logging.getLogger("switchboard.service")

#: Hook fired (no arguments) when any connection of the domain closes. With balancing the server
#: frees that connection's slot and the reconnection may take another one, so whatever this
#: process learnt from a JID's stanzas reaching it (a queue's, the bare domain's) may be wrong now.
CONNECTION_LOST = "service.connection_lost"


class FatalConnectionError(Exception):
    """The server refused us for good (e.g. wrong secret)."""


class ServiceStreams:
    """The stream half of :class:`component.service.Service` (which sets the attributes below)."""

    app: "App"
    domain: str
    xmpp: "ComponentXMPP"
    links: list[SlotLink]
    hooks: "HookBus"
    plugins: dict[str, "Plugin"]
    connected: asyncio.Event
    fatal: FatalConnectionError | None
    sessions_started: int
    reconnects: int
    connected_at: float | None
    _main_joined: bool
    pacer: "Pacer | None"
    _ever_connected: bool
    _stopping: bool
    _reconnect_delay: float
    _reconnect_handle: asyncio.TimerHandle | None

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
        if not self._stopping:
            self._spawn(self.hooks.fire(CONNECTION_LOST))
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
        if self.pacer is not None:
            self.pacer.connected()
        self._update_connected()
        log.info("connected and authenticated", extra={"domain": self.domain})
        for plugin in self.plugins.values():
            self._spawn(plugin.on_connected())

    def _on_disconnected(self, reason: Any) -> None:
        was_connected = self.connected.is_set()
        self._main_joined = False
        if self.pacer is not None:
            self.pacer.connection_lost()
        self.connected.clear()
        self.connected_at = None
        if was_connected or not self._stopping:
            self._spawn(self.hooks.fire("service.disconnected"))
        if not self._stopping:
            self._spawn(self.hooks.fire(CONNECTION_LOST))
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

