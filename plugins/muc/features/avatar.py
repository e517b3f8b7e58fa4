"""Room avatars: vcard-temp on the room's JID, set by owners from their client (XEP-0054,
advertised as XEP-0486 says: the ``muc#roominfo_avatarhash`` field of the room's disco#info).

Anyone who may see the room reads the vCard; only owners set it (an empty vCard, or one
without PHOTO, removes the avatar). On a change the occupants get a presence from the
room's bare JID with the new hash (``vcard-temp:x:update``, XEP-0153), as Prosody's
mod_vcard_muc sends, so their clients fetch it again. The picture lives in the database
while the room exists; only its hash is kept in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from component.errors import StanzaError

from .. import hooks
from ..room import Room
from ..stanza import Addressed, escape_attr
from . import Feature

NS_VCARD = "vcard-temp"
NS_VCARD_UPDATE = "vcard-temp:x:update"
VCARD = f"{{{NS_VCARD}}}vCard"
#: Largest picture accepted, in bytes (vCards travel in one stanza; servers limit stanza size).
MAX_BYTES = 64 * 1024


class Avatar(Feature):
    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self.hashes: dict[str, str] = {}

    def hook(self, events: Any) -> None:
        super().hook(events)
        self.host.hooks.on(hooks.ROOM_DESTROYED, self.on_destroyed, owner="muc")
        self.host.hooks.on(hooks.ROOM_CREATED, self.on_destroyed, owner="muc")

    async def load(self) -> None:
        # Rows of rooms this process does not hold are left alone (another process may hold
        # them); one left by a temporary room that went away with its process is removed when
        # a room of that name is created again.
        self.hashes = {room: sha1 for room, sha1 in (await self.host.store.avatar_hashes()).items()
                       if self.host.rooms.get(room) is not None}

    def disco_features(self, room: Room) -> tuple[str, ...]:
        return (NS_VCARD,)

    def roominfo(self, room: Room):  # type: ignore[no-untyped-def]
        sha1 = self.hashes.get(room.jid)
        return (("muc#roominfo_avatarhash", "text-multi", "Avatar hash", [sha1]),) if sha1 else ()

    async def on_iq(self, iq: Any) -> Any:
        to = iq["to"]
        if not to.user or to.resource or to.domain != self.host.domain:
            return None  # occupants' vCards are forwarded to them
        room = self.host.rooms.get(to.bare)
        requester = iq["from"].bare
        if room is None or (room.locked and room.affiliation(requester) != "owner"):
            raise StanzaError("item-not-found", "there is no such room")
        if iq["type"] == "get":
            return await self.answer(iq, room)
        if room.affiliation(requester) != "owner":
            raise StanzaError("forbidden", "only owners can change the room's avatar")
        await self.set(room, iq.xml.find(VCARD))
        return iq.reply(clear=True)

    async def answer(self, iq: Any, room: Room) -> Any:
        reply = iq.reply(clear=True)
        vcard = Element(VCARD)
        stored = await self.host.store.avatar(room.jid) if room.jid in self.hashes else None
        if stored is not None:
            photo = SubElement(vcard, f"{{{NS_VCARD}}}PHOTO")
            SubElement(photo, f"{{{NS_VCARD}}}TYPE").text = stored[0]
            SubElement(photo, f"{{{NS_VCARD}}}BINVAL").text = base64.b64encode(stored[1]).decode()
        reply.xml.append(vcard)
        return reply

    async def set(self, room: Room, vcard: Element | None) -> None:
        photo = vcard.find(f"{{{NS_VCARD}}}PHOTO") if vcard is not None else None
        binval = photo.findtext(f"{{{NS_VCARD}}}BINVAL") if photo is not None else None
        if not binval or not binval.strip():
            if room.jid in self.hashes:
                await self.forget(room.jid)
                self.announce(room, "")
            return
        mime = (photo.findtext(f"{{{NS_VCARD}}}TYPE") or "").strip()  # type: ignore[union-attr]
        if not mime.startswith("image/"):
            raise StanzaError("not-acceptable", "the avatar needs a TYPE such as image/png")
        try:
            data = base64.b64decode("".join(binval.split()), validate=True)
        except (binascii.Error, ValueError):
            raise StanzaError("bad-request", "the avatar's BINVAL is not base64") from None
        if len(data) > MAX_BYTES:
            raise StanzaError("not-acceptable", f"the avatar is larger than {MAX_BYTES // 1024} KiB")
        sha1 = hashlib.sha1(data).hexdigest()  # noqa: S324 - XEP-0153 names the hash
        await self.host.store.save_avatar(room.jid, mime[:255], data, sha1)
        self.hashes[room.jid] = sha1
        self.host.log.info("room avatar set", extra={"room": room.jid, "bytes": len(data)})
        self.announce(room, sha1)

    def announce(self, room: Room, sha1: str) -> None:
        photo = f"<photo>{sha1}</photo>" if sha1 else "<photo/>"
        xml = f'<presence from="{escape_attr(room.jid)}"><x xmlns="{NS_VCARD_UPDATE}">{photo}</x></presence>'
        data, count = Addressed(xml).to_many(room.all_recipients())
        if count:
            self.host.send_raw(data, count)

    async def forget(self, room: str) -> None:
        self.hashes.pop(room, None)
        await self.host.store.delete_avatar(room)

    async def on_destroyed(self, event: Any) -> None:
        """Destroyed, or created anew: no picture of an earlier room of that name."""
        await self.forget(event.room)
