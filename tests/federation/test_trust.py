"""Whom the component believes across servers.

What we rely on: the component hears only its own server, over the XEP-0114 stream, and takes a stanza's
``from`` as the server passes it on. The server accepts a remote stanza only on a server-to-server stream
authenticated for the domain in that ``from`` (dialback here, certificates in production) and drops or
refuses anything else. So a server that lies about its users' domain never gets a stanza to us, and
rights are then decided on whole bare JIDs: an administrator of another server is nobody special here.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
from slixmpp.exceptions import IqError

from ..admin.client import Commands
from .conftest import LOCAL_IP, REMOTE, ROOMS, local, remote

pytestmark = pytest.mark.timeout(60)

ADMIN_PLUGINS = {ROOMS: {"muc": {}, "admin": {}}}


async def test_an_administrator_of_another_server_gets_no_admin_commands(federation, switchboard):
    await switchboard(ADMIN_PLUGINS)
    async with federation.local_client("admin", ("xep_0050",)) as ours, \
            federation.remote_client("admin", ("xep_0050",)) as theirs:
        assert "admin-stats" in await Commands(ours, ROOMS).nodes()  # the control: our admin has it
        assert not [n for n in await Commands(theirs, ROOMS).nodes() if n.startswith("admin-")]
        for node in ("admin-stats", "admin-log-level"):
            with pytest.raises(IqError) as err:
                await Commands(theirs, ROOMS).execute(node)
            assert (err.value.condition, err.value.iq["error"]["type"]) == ("forbidden", "auth")
    assert remote("admin") != local("admin")


async def _s2s(stream_from: str, to: str, then: str) -> bytes:
    """Open a server-to-server stream to our server claiming ``stream_from``, send ``then``, read the answer."""
    reader, writer = await asyncio.open_connection(LOCAL_IP, 5269)
    try:
        writer.write((f"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                      f"xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
                      f"from='{stream_from}' to='{to}' version='1.0'>{then}").encode())
        await writer.drain()
        received = b""
        with contextlib.suppress(asyncio.TimeoutError):
            while b"</stream:stream>" not in received:
                chunk = await asyncio.wait_for(reader.read(4096), 2)
                if not chunk:
                    break
                received += chunk
        return received
    finally:
        writer.close()


def lure(sender: str) -> str:
    """An admin command request, as an attacker would want it believed."""
    return (f"<iq type='set' id='lie' from='{sender}' to='{ROOMS}'>"
            "<command xmlns='http://jabber.org/protocol/commands' node='admin-stats' action='execute'/></iq>")


async def test_a_server_lying_about_its_domain_never_reaches_the_component(federation, switchboard):
    app = await switchboard(ADMIN_PLUGINS)
    service = app.services[ROOMS]
    before = service.stanzas_in
    # Unauthenticated: a stanza straight away, from our own administrator's address.
    answer = await _s2s(REMOTE, ROOMS, lure(f"{local('admin')}/x"))
    assert b"id='lie'" not in answer and b'id="lie"' not in answer  # dropped by the server, unanswered
    # Dialback for other.test from a server that is not other.test: the real other.test (ejabberd,
    # asked by our server) does not know the key, so the claim fails and the stanza is refused.
    answer = await _s2s(REMOTE, ROOMS, f"<db:result from='{REMOTE}' to='{ROOMS}'>forged-key</db:result>"
                                       + lure(f"{remote('rita')}/x"))
    assert re.search(rb"<db:result[^>]*type=['\"]invalid['\"]", answer), answer
    await asyncio.sleep(0.5)  # anything that slipped through would have arrived by now
    assert service.stanzas_in == before
