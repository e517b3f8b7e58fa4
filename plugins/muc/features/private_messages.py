"""Private messages between occupants (XEP-0045 7.5), as the room's allowpm setting permits.

They are relayed, never archived: ``muc.message`` is not fired for them.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from component.errors import StanzaError

from ..room import Room, may_send_pm
from ..stanza import NS_USER, Addressed, serialize
from . import Feature


class PrivateMessages(Feature):
    async def on_message(self, room: Room, msg: Any, nick: str) -> Any:
        xml = msg.xml
        mtype = xml.get("type") or "normal"
        sender = room.by_jid.get(msg["from"].full)
        if sender is None:
            raise StanzaError("not-acceptable", "only occupants of this room can send private messages in it")
        if mtype == "groupchat":
            raise StanzaError("bad-request", "a private message cannot be of type groupchat")
        target = room.occupants.get(nick)
        if target is None or not target.sessions:
            raise StanzaError("item-not-found", "there is no occupant with that nickname in this room")
        if not may_send_pm(room, sender):
            raise StanzaError("not-allowed", "private messages are not allowed in this room")
        elem = self.host.occupant_message(room, sender, xml, mtype)
        if elem.find(f"{{{NS_USER}}}x") is None:
            # XEP-0045 7.5: tells the recipient's client this came through a room.
            elem.insert(len(elem) - 1, Element(f"{{{NS_USER}}}x"))
        data, count = Addressed(serialize(elem)).to_many(s.to_attr for s in target.sessions.values())
        self.host.send_raw(data, count)
        return True
