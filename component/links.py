"""More than one XEP-0114 connection for one service domain (server-side balancing).

ejabberd's ``domain_balancing`` (``type: bare_destination``, ``component_number: N``)
keeps N route slots per component domain; each connection that authenticates takes
a free slot, and every stanza goes to the slot that the hash of its bare ``to`` picks.
A process opens one connection per slot it was given. The first is the service's
main stream: slixmpp handlers, IQ waiters and stanza objects all live there. A
:class:`SlotLink` is one of the others: after its handshake it hands every stanza
it receives to the main stream, so a reply to an IQ we sent is matched whichever
of our connections the server delivered it on.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from slixmpp import ComponentXMPP

_STANZA_NAMESPACES = ("{jabber:component:accept}", "{jabber:client}")


def quiet_component(xmpp: ComponentXMPP) -> None:
    """A component has no roster: drop slixmpp's client-side message and presence processing."""
    for name in ("IM", "IMError", "Presence"):
        xmpp.remove_handler(name)
    xmpp.del_event_handler("presence_probe", xmpp._handle_probe)


class SlotLink(ComponentXMPP):
    """A further connection of one domain whose stanzas are processed by ``main``."""

    def __init__(self, main: ComponentXMPP, slot: int, jid: str, secret: str, host: str, port: int) -> None:
        super().__init__(jid, secret, host, port)
        self.main = main
        self.slot = slot
        self.joined = False
        #: Stanzas this connection carried (handed to the main stream).
        self.received = 0
        quiet_component(self)
        self.add_event_handler("session_start", self._joined)
        self.add_event_handler("disconnected", self._left)
        # Reconnection state, kept by the service.
        self.retry_delay = 0.5
        self.retry_handle: Any = None

    def _joined(self, _event: Any) -> None:
        self.joined = True

    def _left(self, _event: Any) -> None:
        self.joined = False

    def _spawn_event(self, xml: Element) -> None:
        # The handshake and stream-level elements (stream errors) belong to this connection.
        if self.joined and xml.tag.startswith(_STANZA_NAMESPACES):
            self.received += 1
            self.main._spawn_event(xml)
        else:
            super()._spawn_event(xml)
