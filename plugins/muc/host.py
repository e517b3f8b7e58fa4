"""What a room feature may ask of the rooms and of the service: the narrow host features receive.

Features see this, never the plugin: the rooms, the options, the store, logging, the
two buses (room events inside MUC, the service's hooks for other plugins), writing
stanzas, and the room core's operations (presence broadcast, removing an occupant,
stamping and publishing messages), as Prosody's features see ``room`` methods.
What one feature needs of another goes through an event (:mod:`.events`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from component.hooks import HookBus

from . import events
from .room import Occupant, Room, Session

if TYPE_CHECKING:
    from .features import ConfigField
    from .features.occupancy import Change
    from .plugin import MucPlugin
    from .store import StoredRoom


class RoomHost:
    def __init__(self, muc: "MucPlugin") -> None:
        self._muc = muc
        self.events = HookBus()
        self.hooks = muc.hooks
        self.options = muc.options
        self.log = muc.log
        self.config_fields: list["ConfigField"] = []

    # -- the service ---------------------------------------------------------------
    @property
    def domain(self) -> str:
        return self._muc.service.domain

    @property
    def rooms(self) -> Any:
        return self._muc.rooms

    @property
    def store(self) -> Any:
        return self._muc.store

    def send_raw(self, data: str, count: int = 1) -> None:
        self._muc.service.send_raw(data, count)

    def make_iq(self, ifrom: str, ito: str, itype: str) -> Any:
        return self._muc.service.make_iq(ifrom, ito, itype)

    async def request(self, iq: Any, timeout: float) -> Any:
        return await self._muc.service.request(iq, timeout=timeout)

    def config_dict(self, room: Room) -> dict[str, Any]:
        return self._muc.config_dict(room)

    def stored(self, room: Room) -> "StoredRoom":
        return self._muc.stored(room)

    async def room_emptied(self, room: Room) -> None:
        await self._muc.room_emptied(room)

    # -- the room core -------------------------------------------------------------
    def broadcast_presence(self, room: Room, occupant: Occupant, change: "Change",
                           own_sessions: list[Session] | None = None) -> int:
        return self._muc.occupancy.fanout(room, occupant, change, own_sessions=own_sessions)

    async def remove_occupant(self, room: Room, occupant: Occupant, change: "Change") -> None:
        await self._muc.occupancy.remove(room, occupant, change)

    async def kick_for_affiliation(self, room: Room, occupant: Occupant, code: str) -> None:
        await self._muc.occupancy.kick_for_affiliation(room, occupant, code)

    def occupant_message(self, room: Room, occupant: Occupant, xml: Element, mtype: str) -> Element:
        return self._muc.messages.occupant_message(room, occupant, xml, mtype)

    async def publish_unarchived(self, room: Room, elem: Element) -> None:
        """Broadcast in the room's message order, with no hook and no history (subject changes)."""
        await self._muc.messages.publish(room, None, remember=False, elem=elem)

    # -- requests to other features, as events ------------------------------------------
    async def set_affiliation(self, room: Room, jid: str, affiliation: str, actor_nick: str = "", reason: str = "",
                              nick: str | None = None, tell_user: bool = True) -> None:
        await self.events.fire(events.SET_AFFILIATION, events.AffiliationChange(
            room, jid, affiliation, actor_nick, reason, nick, tell_user))

    async def set_role(self, room: Room, occupant: Occupant, role: str, actor_nick: str = "",
                       reason: str = "") -> None:
        await self.events.fire(events.SET_ROLE, events.RoleChange(room, occupant, role, actor_nick, reason))

    async def destroy(self, room: Room, actor: str, reason: str = "", alternate: str = "",
                      password: str = "") -> None:
        await self.events.fire(events.DESTROY, events.Destruction(room, actor, reason, alternate, password))
