"""Groupchat messages: stamping, the ``muc.message`` hook, and the broadcast (XEP-0045 7.4, XEP-0359, XEP-0421).

Order of one message: stamp ``<stanza-id>`` and ``<occupant-id>`` -> fire
``muc.message`` (the archive stores it; a StanzaError refuses it, non-None
swallows it) -> serialize once -> write to every occupant in one burst ->
fire ``muc.broadcast``. Messages of one room leave in the order they came in
even when the hook awaits (the archive's group commit), through a per-room
chain of futures.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from xml.etree.ElementTree import Element

from component.errors import StanzaError
from component.ids import new_id

from .. import events, hooks
from ..room import Occupant, Room
from ..stanza import (NS_CLIENT, NS_OCCUPANT_ID, NS_SID, XML_LANG, Addressed, child, normalize_namespace,
                      serialize)
from . import Feature


_STANZA_ID = f"{{{NS_SID}}}stanza-id"
_ORIGIN_ID = f"{{{NS_SID}}}origin-id"
_OCCUPANT_ID = f"{{{NS_OCCUPANT_ID}}}occupant-id"
_MESSAGE = f"{{{NS_CLIENT}}}message"


class Messages(Feature):

    def occupant_message(self, room: Room, occupant: Occupant, xml: Element, mtype: str,
                         stanza_id: str = "") -> Element:
        """The message as the room sends it: from the occupant JID, ids stamped, forgeries removed."""
        attrs = {"from": f"{room.jid}/{occupant.nick}", "type": mtype}
        client_id = xml.get("id")
        if client_id:
            attrs["id"] = client_id  # muc#stable_id: the sender's id is reflected
        lang = xml.get(XML_LANG)
        if lang:
            attrs[XML_LANG] = lang
        elem = Element(_MESSAGE, attrs)
        for item in xml:
            tag = item.tag
            if tag == _OCCUPANT_ID:
                continue  # only the room says who an occupant is
            if tag == _STANZA_ID and item.get("by") == room.jid:
                continue  # a client cannot pose as the room's archive
            if tag.endswith("}error"):
                continue
            elem.append(item)
        normalize_namespace(elem)
        if stanza_id:
            elem.append(Element(_STANZA_ID, {"id": stanza_id, "by": room.jid}))
        elem.append(Element(_OCCUPANT_ID, {"id": occupant.occupant_id}))
        return elem

    async def on_groupchat(self, room: Room, msg: Any) -> Any:
        sender = msg["from"].full
        occupant = room.by_jid.get(sender)
        if occupant is None:
            raise StanzaError("not-acceptable", "only occupants can send messages to this room; join it first")
        if occupant.role not in ("participant", "moderator"):
            raise StanzaError("forbidden", "you do not have voice in this room")
        xml = msg.xml
        body = child(xml, "body")
        subject = child(xml, "subject")
        if subject is not None and body is None:
            await self.host.events.fire(events.SUBJECT_MESSAGE, room, occupant, xml)
            return True
        now = time.time()
        stanza_id = new_id(now)
        elem = self.occupant_message(room, occupant, xml, "groupchat", stanza_id)
        origin = xml.find(_ORIGIN_ID)
        event = hooks.GroupchatMessage(
            room=room.jid, stanza_id=stanza_id, nick=occupant.nick, real_jid=sender,
            occupant_id=occupant.occupant_id, stanza=elem, timestamp=now, archive=room.config.archiving,
            origin_id=origin.get("id", "") if origin is not None else "", client_id=xml.get("id") or "")
        await self.publish(room, event, remember=body is not None)
        return True

    async def from_room(self, room: Room, payload: list[Element],
                        archive: bool = True) -> tuple[hooks.GroupchatMessage | None, bool]:
        """A message from the room's bare JID (moderation notices and the like): the message when
        it was broadcast (else None), and whether it belongs in the history."""
        now = time.time()
        stanza_id = new_id(now)
        elem = Element(_MESSAGE, {"from": room.jid, "type": "groupchat", "id": stanza_id})
        elem.extend(payload)
        elem.append(Element(_STANZA_ID, {"id": stanza_id, "by": room.jid}))
        event = hooks.GroupchatMessage(room=room.jid, stanza_id=stanza_id, nick="", real_jid="", occupant_id="",
                                       stanza=elem, timestamp=now, archive=room.config.archiving and archive)
        remember = child(elem, "body") is not None
        sent = await self.publish(room, event, remember=remember)
        return (event if sent else None), remember

    async def publish(self, room: Room, event: hooks.GroupchatMessage | None, remember: bool,
                      elem: Element | None = None) -> bool:
        """Run the hook, then broadcast in arrival order; True when it was broadcast.

        ``event`` None: a message that is not archived (subject changes): only ordering applies.
        """
        previous, mine = self._queue(room)
        verdict: Any = None
        failure: BaseException | None = None
        try:
            try:
                if event is not None and self.host.hooks.has(hooks.MESSAGE):
                    verdict = await self.host.hooks.fire(hooks.MESSAGE, event)
            except BaseException as exc:  # noqa: BLE001 - re-raised after keeping the order
                failure = exc
            if previous is not None and not previous.done():
                await previous
            if failure is None and verdict is None and not room.destroyed:
                stanza = event.stanza if event is not None else elem
                assert stanza is not None
                self._send(room, serialize(stanza),
                           (event.stanza_id, event.timestamp) if remember and event is not None else None)
        finally:
            self._done(room, mine)
        if failure is not None:
            raise failure
        if verdict is not None or room.destroyed:
            return False
        if event is not None and self.host.hooks.has(hooks.BROADCAST):
            await self.host.hooks.fire(hooks.BROADCAST, event)
        return True

    async def deliver(self, room: Room, xml: str, stanza_id: str, timestamp: float, remember: bool) -> None:
        """A message another process stamped, archived and hooked (peers.py): only delivered here,
        in the room's order."""
        previous, mine = self._queue(room)
        try:
            if previous is not None and not previous.done():
                await previous
            if not room.destroyed:
                self._send(room, xml, (stanza_id, timestamp) if remember else None)
        finally:
            self._done(room, mine)

    @staticmethod
    def _queue(room: Room) -> tuple[Any, Any]:
        previous = room.tail
        mine = asyncio.get_running_loop().create_future()
        room.tail = mine
        return previous, mine

    @staticmethod
    def _done(room: Room, mine: Any) -> None:
        mine.set_result(None)
        if room.tail is mine:
            room.tail = None

    def _send(self, room: Room, xml: str, history: tuple[str, float] | None) -> None:
        """To every occupant; ``history``: (stanza id, time) when it is kept for joiners."""
        recipients = room.all_recipients()
        if recipients:
            data, count = Addressed(xml).to_many(recipients)
            self.host.send_raw(data, count)
        if history is not None:
            room.remember(history[0], xml, history[1])
