"""Rooms changed or spoken in by another process of this domain, applied where they are served.

With balancing (docs/scaling.md) a room's stanzas, hence its occupants, reach one process,
but the bare domain, where administrators' commands arrive, hashes to any. A process that
changes a room it does not serve writes the change and notifies (``ROOM_CHANNEL``, through
``component/peers.py``); the others reload the room. Where the room is served, the change
is then applied as if made there: a destruction tells the occupants, an affiliation or a
configuration that excludes present occupants removes them (301, 321, 322), occupants get
the status codes of a configuration change (104, 170-173).

A message from the room itself (an announcement) sent by a process without occupants in the
room is archived and hooked there, once; the stanza, already stamped, goes on
``MESSAGE_CHANNEL`` and the process that has the occupants only delivers it (no archive, no
hook), in the room's order.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from slixmpp import JID

from . import hooks
from .room import Room, RoomConfig
from .stanza import serialize
from .store import StoredRoom

if TYPE_CHECKING:
    from .plugin import MucPlugin

#: PostgreSQL NOTIFY channel: "this room changed in the database" (payload: the room's JID, then
#: the new configuration as JSON when it was made temporary, hence deleted).
ROOM_CHANNEL = "switchboard_muc_room"
#: "Deliver this room message to its occupants" (payload: room, history flag, time, stanza id, stanza).
MESSAGE_CHANNEL = "switchboard_muc_message"


class PeerRooms:
    def __init__(self, muc: "MucPlugin", peers: Any) -> None:
        self.muc = muc
        self.peers = peers

    async def listen(self) -> None:
        await self.peers.listen(ROOM_CHANNEL, self.reload_room)
        await self.peers.listen(MESSAGE_CHANNEL, self.on_message)

    async def changed(self, session: Any, room: str) -> None:
        await self.peers.notify(session, ROOM_CHANNEL, room)

    # -- changes ---------------------------------------------------------------------
    async def reload_room(self, payload: str) -> None:
        """Another process of this domain changed a room in the database: take the stored state.

        Its occupants, if any, are served here and stay; an unstored room without occupants goes.
        A persistent room with occupants here that is no longer stored was destroyed elsewhere (an
        administrator's command answered by another process), unless it was made temporary: its
        occupants are told here.
        """
        muc = self.muc
        jid, _, temporary = payload.partition(" ")
        if JID(jid).domain != muc.service.domain:
            return
        stored = await muc.store.load_rooms(jid)
        room = muc.rooms.get(jid)
        if stored and room is not None and room.occupants:
            await self._reload_served(room, stored[0])
        elif stored:
            muc.restore(stored[0])
        elif room is not None and not room.occupants:
            muc.rooms.remove(jid)
        elif room is not None and temporary:
            old, room.config = room.config, RoomConfig.from_dict(json.loads(temporary))
            await muc.config_form.announce(room, old, "")
        elif room is not None and room.config.persistent:
            await muc.host.destroy(room, f"{muc.service.domain}")
        muc.log.debug("room reloaded after a peer's change", extra={"room": jid, "stored": bool(stored)})

    async def _reload_served(self, room: Room, stored: StoredRoom) -> None:
        """A room served here, changed by another process: what excludes present occupants there
        (a ban, a membership taken away, members-only) removes and tells them here, as made here."""
        muc = self.muc
        old_affiliations, old_config = dict(room.affiliations), room.config
        muc.restore(stored)
        for jid in set(old_affiliations) | set(stored.affiliations):
            before = old_affiliations.get(jid, "none")
            after, nick, reason = stored.affiliations.get(jid, ("none", "", ""))
            if before != after and room.occupants_of(jid):
                room.set_affiliation(jid, before)
                await muc.host.set_affiliation(room, jid, after, "", reason, nick or None)
        if room.config != old_config:
            await muc.config_form.announce(room, old_config, "")

    # -- messages from the room ------------------------------------------------------------
    async def relay(self, room: Room, event: hooks.GroupchatMessage, remember: bool) -> None:
        """A message from the room, archived here: delivered by the process serving the room."""
        if room.occupants:
            return  # served here: already delivered
        payload = f"{room.jid} {int(remember)} {event.timestamp!r} {event.stanza_id} {serialize(event.stanza)}"
        async with self.muc.db.session() as session:
            await self.peers.notify(session, MESSAGE_CHANNEL, payload)

    async def on_message(self, payload: str) -> None:
        jid, remember, timestamp, stanza_id, xml = payload.split(" ", 4)
        room = self.muc.rooms.get(jid)
        if room is None or not room.occupants:
            return  # not served here
        await self.muc.messages.deliver(room, xml, stanza_id, float(timestamp), remember == "1")

