"""A logged-in aioxmpp client against the loopback Prosody (no TLS there).

aioxmpp insists on TLS unless its security layer says otherwise, so the layer
is built by hand with ``tls_required=False`` and password SASL.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import aioxmpp
import aioxmpp.connector
import aioxmpp.security_layer

from .. import harness
from ..aioxmpp_client import security_layer


@contextlib.asynccontextmanager
async def aioxmpp_client(port: int, user: str, resource: str = "aiox") -> AsyncIterator[aioxmpp.PresenceManagedClient]:
    jid = aioxmpp.JID.fromstr(f"{user}@{harness.HOST}/{resource}")
    client = aioxmpp.PresenceManagedClient(
        jid, security_layer(harness.password(user)),
        override_peer=[("127.0.0.1", port, aioxmpp.connector.STARTTLSConnector())])
    client.presence = aioxmpp.PresenceState(True)
    async with client.connected() as stream:
        yield client
        del stream


class AioInbox:
    """Collects chat messages an aioxmpp client receives."""

    def __init__(self, client: Any) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()
        dispatcher = client.summon(aioxmpp.dispatcher.SimpleMessageDispatcher)
        dispatcher.register_callback(aioxmpp.MessageType.CHAT, None, self._add)

    def _add(self, message: Any) -> None:
        self.items.append(message)
        self._changed.set()

    async def next(self, predicate: Any, timeout: float = 10) -> Any:
        async def find() -> Any:
            while True:
                for i, item in enumerate(self.items):
                    if predicate(item):
                        return self.items.pop(i)
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(find(), timeout)


def body_text(message: Any) -> str:
    return " ".join(str(v) for v in message.body.values()) if message.body else ""
