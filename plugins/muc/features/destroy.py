"""Destroying a room (XEP-0045 10.9): every occupant is told, with the reason and an
alternate venue; the room and its stored state are gone."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from component.errors import StanzaError

from .. import hooks
from ..events import DESTROY, Destruction
from ..room import Room
from ..stanza import NS_OWNER, escape_attr, escape_text
from .occupancy import Change
from . import Feature


class Destroy(Feature):
    def hook(self, events: Any) -> None:
        super().hook(events)
        events.on(DESTROY, self.on_request)

    async def on_request(self, request: Destruction) -> bool:
        await self.destroy(request.room, request.actor, request.reason, request.alternate, request.password)
        return True

    async def on_destroy(self, iq: Any, room: Room, request: Element) -> Any:
        if room.affiliation(iq["from"].bare) != "owner":
            raise StanzaError("forbidden", "only owners can destroy this room")
        reason = (request.findtext(f"{{{NS_OWNER}}}reason") or "").strip()
        await self.destroy(room, iq["from"].full, reason, request.get("jid") or "",
                           request.findtext(f"{{{NS_OWNER}}}password") or "")
        return iq.reply(clear=True)

    async def destroy(self, room: Room, actor: str, reason: str, alternate: str, password: str = "") -> None:
        inner = f"<reason>{escape_text(reason)}</reason>" if reason else ""
        if password:
            inner += f"<password>{escape_text(password)}</password>"
        venue = f' jid="{escape_attr(alternate)}"' if alternate else ""
        destroy = f"<destroy{venue}>{inner}</destroy>" if inner else f"<destroy{venue}/>"
        # Each occupant hears only of itself leaving (XEP-0045 example 201).
        for occupant in list(room.occupants.values()):
            self.host.broadcast_presence(room, occupant, Change(unavailable=True, role="none", affiliation="none",
                                                             payload="", extra_user=destroy, broadcast=False))
        room.occupants.clear()
        room.by_jid.clear()
        room.sessions_changed()
        self.host.rooms.remove(room.jid)
        await self.host.store.delete_room(room.jid)
        self.host.log.info("room destroyed", extra={"room": room.jid})
        await self.host.hooks.fire(hooks.ROOM_DESTROYED, hooks.RoomEvent(
            room.jid, actor=actor, reason=reason, config=self.host.config_dict(room)))
