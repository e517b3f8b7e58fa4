"""A logged-in aioxmpp client on the loopback Prosody (SCRAM over plaintext; no TLS is offered there)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import aioxmpp
import aioxmpp.connector
import aioxmpp.security_layer

from . import harness


def security_layer(password: str) -> Any:
    async def provide_password(_jid: Any, attempt: int) -> str | None:
        return password if attempt == 0 else None

    return aioxmpp.security_layer.SecurityLayer(
        ssl_context_factory=aioxmpp.security_layer.default_ssl_context,
        certificate_verifier_factory=aioxmpp.security_layer._NullVerifier,
        tls_required=False,
        sasl_providers=[aioxmpp.security_layer.PasswordSASLProvider(provide_password)])


@contextlib.asynccontextmanager
async def client(port: int, user: str, resource: str = "aiox") -> AsyncIterator[aioxmpp.PresenceManagedClient]:
    xmpp = aioxmpp.PresenceManagedClient(
        aioxmpp.JID.fromstr(f"{user}@{harness.HOST}/{resource}"), security_layer(harness.password(user)),
        override_peer=[("127.0.0.1", port, aioxmpp.connector.STARTTLSConnector())])
    async with xmpp.connected():
        yield xmpp
    await asyncio.sleep(0)
