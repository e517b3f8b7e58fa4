"""Nickname registration (XEP-0045 7.10, jabber:iq:register on the room), as Prosody's register.lib.lua.

A user registers a nick and becomes a member (an admin or owner keeps their affiliation);
the nick is then reserved for them (others get conflict on join, and with
``enforce_reserved_nicks`` they always enter with it). Outcasts are refused; in a
members-only room only those already affiliated may register (no approval step here).
``<remove/>`` gives the membership up (admins and owners only lose the nick).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, SubElement

from slixmpp import JID
from slixmpp.jid import InvalidJID

from component.errors import StanzaError
from component.forms import Form, new_form, values as form_values

from ..room import Room
from ..stanza import NS_DATA
from ..texts import text
from . import Feature

NS_REGISTER = "jabber:iq:register"
NS_MUC_REGISTER = "http://jabber.org/protocol/muc#register"
NICK_FIELD = "muc#register_roomnick"
QUERY = f"{{{NS_REGISTER}}}query"


class Register(Feature):
    def disco_features(self, room: Room) -> tuple[str, ...]:
        return (NS_REGISTER,)

    async def on_iq(self, iq: Any) -> Any:
        to = iq["to"]
        if not to.user or to.resource or to.domain != self.host.domain:
            return None
        room = self.host.rooms.get(to.bare)
        if room is None or (room.locked and room.affiliation(iq["from"].bare) != "owner"):
            raise StanzaError("item-not-found", "there is no such room")
        bare = iq["from"].bare
        affiliation = room.affiliation(bare)
        if affiliation == "outcast":
            raise StanzaError("forbidden", "you are banned from this room")
        if room.config.members_only and affiliation == "none":
            raise StanzaError("registration-required", "only members may register a nickname in this room")
        query = iq.xml.find(QUERY)
        if iq["type"] == "get":
            return self.answer_get(iq, room, bare)
        if query is not None and query.find(f"{{{NS_REGISTER}}}remove") is not None:
            await self.unregister(room, bare)
            return iq.reply(clear=True)
        form = query.find(f"{{{NS_DATA}}}x") if query is not None else None
        if form is None:
            raise StanzaError("bad-request", "submit the registration form (muc#register)")
        submitted = form_values(Form(xml=form))
        if submitted.get("FORM_TYPE") != NS_MUC_REGISTER:
            raise StanzaError("bad-request", f"the form's FORM_TYPE must be {NS_MUC_REGISTER}")
        nick = self.valid_nick(room, str(submitted.get(NICK_FIELD) or ""))
        occupant = room.occupants.get(nick)
        if occupant is not None and occupant.bare_jid != bare:
            raise StanzaError("conflict", "that nickname is in use in this room by someone else")
        reserved_by = room.nick_reserved_by(nick)
        if reserved_by is not None and reserved_by != bare:
            raise StanzaError("conflict", "that nickname is reserved by another member of this room")
        if room.reserved_nicks.get(bare) != nick:
            stored = room.affiliations.get(bare, "none")
            await self.host.set_affiliation(room, bare, stored if stored != "none" else "member",
                                                 nick=nick, reason=room.affiliation_reasons.get(bare, ""),
                                                 tell_user=False)
            self.host.log.info("nick registered", extra={"room": room.jid, "jid": bare})
        return iq.reply(clear=True)

    def answer_get(self, iq: Any, room: Room, bare: str) -> Any:
        reply = iq.reply(clear=True)
        query = Element(QUERY)
        nick = room.reserved_nicks.get(bare)
        if nick:
            SubElement(query, f"{{{NS_REGISTER}}}registered")
            SubElement(query, f"{{{NS_REGISTER}}}username").text = nick
        else:
            lang = iq["lang"]
            form = new_form(title=text("register_title", lang, room=room.jid),
                            instructions=text("register_instructions", lang), form_type_value=NS_MUC_REGISTER)
            field = form.add_field(var=NICK_FIELD, ftype="text-single", label=text("register_nick", lang))
            field["required"] = True
            query.append(form.xml)
        reply.xml.append(query)
        return reply

    @staticmethod
    def valid_nick(room: Room, nick: str) -> str:
        if not nick.strip():
            raise StanzaError("not-acceptable", "a nickname is required")
        try:
            prepared = JID(f"{room.jid}/{nick}").resource
        except InvalidJID:
            raise StanzaError("jid-malformed", "that nickname cannot be used in a room address") from None
        return prepared

    async def unregister(self, room: Room, bare: str) -> None:
        stored = room.affiliations.get(bare, "none")
        if stored in ("none", "outcast"):
            return
        if stored == "member":
            await self.host.set_affiliation(room, bare, "none", tell_user=False)
        else:
            room.reserved_nicks.pop(bare, None)
            await self.host.set_affiliation(room, bare, stored, reason=room.affiliation_reasons.get(bare, ""),
                                                 tell_user=False)
