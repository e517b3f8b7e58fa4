"""An anonymous guest of the test server's guest host, as a slixmpp client."""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import slixmpp

from tests import harness


@contextlib.asynccontextmanager
async def guest(port: int) -> AsyncIterator[slixmpp.ClientXMPP]:
    client = slixmpp.ClientXMPP(harness.GUEST_HOST, "")
    client.enable_starttls = False
    client.enable_direct_tls = False
    client.enable_plaintext = True
    client.register_plugin("xep_0030")
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
    client.add_event_handler("failed_auth", lambda _e: started.done() or started.set_exception(
        RuntimeError("anonymous login refused")))
    client.connect("127.0.0.1", port)
    try:
        await asyncio.wait_for(started, 15)
        yield client
    finally:
        client.disconnect(wait=0.5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnected, 3)
