"""A rooms service with two persistent rooms and a few archived messages, for the room commands."""

from __future__ import annotations

from typing import Any

from .. import harness

DOMAIN = "rooms.localhost"
LOBBY = f"lobby@{DOMAIN}"
BOBS = f"bobs@{DOMAIN}"
MUC = {"lock_new_rooms": False, "default_persistent": True}
ROOM_NODES = {"rooms-list", "room-info", "room-stats", "room-create", "room-destroy", "room-affiliation",
              "room-announce", "room-purge", "room-export"}


def plugins(admin: dict | None = None) -> dict[str, dict]:
    return {"muc": dict(MUC), "mam": {}, "admin": admin or {}}


def muc_client(prosody: Any, user: str, resource: str = "test") -> Any:
    return harness.slix_client(prosody.ports.c2s, user, resource, plugins=("xep_0045", "xep_0050"))


async def say(client: Any, inbox: harness.Inbox, room: str, body: str) -> None:
    """Send a groupchat message and wait for the room's echo (it is archived by then)."""
    client.send_message(mto=room, mbody=body, mtype="groupchat")
    await inbox.next(lambda m: m["type"] == "groupchat" and m["body"] == body and m["from"].bare == room)


async def populate(prosody: Any) -> None:
    """alice owns lobby (3 messages by alice, 2 by bob); bob owns bobs (1 message)."""
    async with muc_client(prosody, "alice", "setup") as alice, muc_client(prosody, "bob", "setup") as bob:
        alice_in, bob_in = harness.Inbox(alice), harness.Inbox(bob)
        await alice.plugin["xep_0045"].join_muc_wait(LOBBY, "Alice", maxstanzas=0, timeout=10)
        await bob.plugin["xep_0045"].join_muc_wait(BOBS, "Bob", maxstanzas=0, timeout=10)
        # Instant rooms (XEP-0045 10.1.2): the owners accept the default, persistent configuration.
        for owner, room in ((alice, LOBBY), (bob, BOBS)):
            await owner.plugin["xep_0045"].set_room_config(room, owner.plugin["xep_0004"].make_form(ftype="submit"))
        await bob.plugin["xep_0045"].join_muc_wait(LOBBY, "Bob", maxstanzas=0, timeout=10)
        for i in range(3):
            await say(alice, alice_in, LOBBY, f"alice {i}")
        for i in range(2):
            await say(bob, bob_in, LOBBY, f"bob {i}")
        await say(bob, bob_in, BOBS, "bob alone")


async def start(component: Any, prosody: Any, admin: dict | None = None) -> Any:
    app = await component({DOMAIN: plugins(admin)})
    await populate(prosody)
    return app
