"""An aioxmpp client for the MUC tests: plaintext login on the loopback server, and its MUC client."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import aioxmpp
import aioxmpp.connector
import aioxmpp.muc
import aioxmpp.security_layer

from .. import harness


@contextlib.asynccontextmanager
async def client(port: int, user: str, resource: str = "aiox") -> AsyncIterator[aioxmpp.Client]:
    """A logged-in aioxmpp client (SCRAM over plaintext on loopback; no TLS is offered there)."""
    password = harness.password(user)

    async def provide_password(_jid: Any, attempt: int) -> str | None:
        return password if attempt == 0 else None

    security = aioxmpp.security_layer.SecurityLayer(
        ssl_context_factory=aioxmpp.security_layer.default_ssl_context,
        certificate_verifier_factory=aioxmpp.security_layer._NullVerifier,
        tls_required=False,
        sasl_providers=[aioxmpp.security_layer.PasswordSASLProvider(provide_password)])
    xmpp = aioxmpp.PresenceManagedClient(
        aioxmpp.JID.fromstr(f"{user}@{harness.HOST}/{resource}"), security,
        override_peer=[("127.0.0.1", port, aioxmpp.connector.STARTTLSConnector())])
    async with xmpp.connected():
        yield xmpp
    await asyncio.sleep(0)


class Events:
    """Collects a room's signals as (name, args, kwargs), to await the next one of a kind."""

    SIGNALS = ("on_message", "on_join", "on_leave", "on_exit", "on_nick_changed", "on_topic_changed",
               "on_muc_role_changed", "on_muc_affiliation_changed", "on_muc_enter")

    def __init__(self, room: aioxmpp.muc.Room) -> None:
        self.items: list[tuple[str, tuple, dict]] = []
        self._changed = asyncio.Event()
        for name in self.SIGNALS:
            signal = getattr(room, name, None)
            if signal is not None:
                signal.connect(self._collector(name))

    def _collector(self, name: str):  # type: ignore[no-untyped-def]
        def collect(*args: Any, **kwargs: Any) -> None:
            self.items.append((name, args, kwargs))
            self._changed.set()
        return collect

    async def next(self, name: str, predicate: Any = lambda *a, **k: True, timeout: float = 10) -> tuple:
        async def find() -> tuple:
            while True:
                for i, (kind, args, kwargs) in enumerate(self.items):
                    if kind == name and predicate(*args, **kwargs):
                        del self.items[i]
                        return args, kwargs
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(find(), timeout)
