"""Service discovery of rooms (XEP-0045 6): the room's identity, features and muc#roominfo form;
public rooms as the service's items; a member's reserved nick (node x-roomuser-item)."""

from __future__ import annotations

from typing import Any

from component.errors import StanzaError
from component.forms import new_form

from .. import events, hooks
from ..room import Room
from ..stanza import NS_MUC, NS_OCCUPANT_ID, NS_ROOMINFO, NS_SID, NS_STABLE_ID
from . import Feature

#: Always true of our rooms.
CORE_FEATURES = (NS_MUC, NS_STABLE_ID, NS_SID, NS_OCCUPANT_ID)
RESERVED_NICK_NODE = "x-roomuser-item"


class Disco(Feature):
    def room_name(self, room: Room) -> str:
        return room.config.name or room.jid.partition("@")[0]

    def disco_features(self, room: Room) -> tuple[str, ...]:
        config = room.config
        return ("muc_persistent" if config.persistent else "muc_temporary",
                "muc_public" if config.public else "muc_hidden",
                "muc_nonanonymous" if config.non_anonymous else "muc_semianonymous")

    def roominfo(self, room: Room):  # type: ignore[no-untyped-def]
        return (("muc#roomconfig_roomname", "text-single", "Natural-language room name", self.room_name(room)),
                ("muc#roominfo_description", "text-single", "Description", room.config.description),
                ("muc#roominfo_occupants", "text-single", "Number of occupants", str(len(room.occupants))),
                ("muc#roominfo_lang", "text-single", "Language of discussion", room.config.lang))

    async def features_of(self, room: Room) -> list[str]:
        found = list(CORE_FEATURES)
        batches = [*await self.host.events.collect(events.DISCO_FEATURES, room),
                   *await self.host.hooks.collect(hooks.DISCO_FEATURES, room.jid)]
        for batch in batches:
            for var in batch:
                if var not in found:
                    found.append(var)
        return found

    async def roominfo_form(self, room: Room) -> Any:
        form = new_form(form_type="result", form_type_value=NS_ROOMINFO)
        for fields in await self.host.events.collect(events.ROOMINFO, room):
            for var, ftype, label, value in fields:
                form.add_field(var=var, ftype=ftype, label=label, value=value)
        return form

    def visible(self, room: Room, requester_bare: str) -> bool:
        # A locked room does not exist yet for anyone but its owners.
        return not room.locked or room.affiliation(requester_bare) == "owner"

    async def on_info(self, iq: Any) -> Any:
        to = iq["to"]
        if not to.user or to.resource:
            return None  # the domain (core) or an occupant (forwarded)
        room = self.host.rooms.get(to.bare)
        if room is None or not self.visible(room, iq["from"].bare):
            raise StanzaError("item-not-found", "there is no such room")
        reply = iq.reply()
        info = reply["disco_info"]
        node = iq["disco_info"]["node"]
        if node == RESERVED_NICK_NODE:
            info["node"] = node
            nick = room.reserved_nicks.get(iq["from"].bare)
            if nick:
                info.add_identity("conference", "text", name=nick)
            return reply
        if node:
            raise StanzaError("item-not-found", f"no such node: {node}")
        info.add_identity("conference", "text", name=self.room_name(room))
        for var in await self.features_of(room):
            info.add_feature(var)
        info.append(await self.roominfo_form(room))
        return reply

    async def on_items(self, iq: Any) -> Any:
        to = iq["to"]
        if not to.user or to.resource:
            return None
        room = self.host.rooms.get(to.bare)
        if room is None or not self.visible(room, iq["from"].bare):
            raise StanzaError("item-not-found", "there is no such room")
        if iq["disco_items"]["node"]:
            raise StanzaError("item-not-found", "no such node")
        # Occupants are not listed: in a semi-anonymous room that would only give away nicks to outsiders.
        return iq.reply()

    async def service_items(self, iq: Any) -> Any:
        """The public rooms, as the domain's disco#items (collected by the core)."""
        if iq["disco_items"]["node"]:
            return None
        return [(room.jid, None, self.room_name(room)) for room in self.host.rooms.public_rooms()]
