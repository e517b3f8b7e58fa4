"""What breaks is told: when the other server is unreachable, our server bounces what we send there, the
room removes the occupant (XEP-0045's error kinds, as for local occupants), the queue lets the customer
go, and no error is answered with another."""

from __future__ import annotations

import asyncio

import pytest

from .. import harness
from ..muc.helpers import Member, codes, is_presence_from
from ..support.kit import has_child
from .conftest import ROOMS, SUPPORT, ejabberd_down, remote
from .test_rooms import ROOM_PLUGINS, groupchat_with, new_room
from .test_support import HELP

STATUS = "{http://jabber.org/protocol/workgroup}queue-status"

pytestmark = pytest.mark.timeout(90)

async def settled(service, what: str) -> None:  # type: ignore[no-untyped-def]
    """No stanza leaves the service for a while: nothing ping-pongs with the server."""
    sent = -1
    while sent != service.stanzas_out:
        sent = service.stanzas_out
        await asyncio.sleep(0.7)


async def test_unreachable_server_removes_its_users_from_rooms_and_the_queue(federation, switchboard):
    queue = {"name": "help", "agents": [], "grace_period": 0.5}
    app = await switchboard({ROOMS: ROOM_PLUGINS, SUPPORT: {"mam": {}, "support": {
        "queues": [queue], "status_interval": 0.3, "liveness_interval": 0.0}}})
    tickets = app.services[SUPPORT].plugins["support"].engine.tickets
    room = new_room()
    async with federation.local_client("alice", ("xep_0045",)) as a, federation.local_client("cust1") as first:
        alice, first_inbox = Member(a), harness.Inbox(first)
        await alice.join(room, "Alice")
        first.send_message(mto=HELP, mbody="me first", mtype="chat")
        await first_inbox.next(has_child(STATUS))
        async with federation.remote_client("rita", ("xep_0045",)) as r, \
                federation.remote_client("rcust") as cust:
            await Member(r).join(room, "Rita")
            await alice.inbox.next(is_presence_from(f"{room}/Rita"))
            cust.send_message(mto=HELP, mbody="anyone there?", mtype="chat")
            await harness.Inbox(cust).next(has_child(STATUS))
            await harness.until(lambda: len(tickets) == 2, what="two customers waiting")
            with ejabberd_down(federation):
                # The remote server is gone without a word to us (no unavailable presence made it).
                alice.say(room, "still there?")
                await alice.inbox.next(groupchat_with("still there?"))
                gone = await alice.inbox.next(is_presence_from(f"{room}/Rita", unavailable=True), timeout=20)
                assert "333" in codes(gone)  # removed because of an error (XEP-0045 9.x)
                assert not app.services[ROOMS].plugins["muc"].rooms.get(room).by_jid.get(str(r.boundjid))
                # The first customer leaves; the remote one moves up and the new position bounces:
                # that customer is let go after the grace period.
                first.send_message(mto=HELP, mbody="bye", mtype="chat")
                await harness.until(lambda: not tickets, timeout=20, what="the unreachable customer let go")
                await settled(app.services[ROOMS], "rooms")
                await settled(app.services[SUPPORT], "support")
    closed = {t.customer: t for t in await app.services[SUPPORT].plugins["support"].engine.store.tickets("help")}
    assert closed[remote("rcust")].close_reason == "offline"
