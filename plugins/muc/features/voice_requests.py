"""Voice requests in moderated rooms (XEP-0045 7.13 and 8.6): a visitor asks, the moderators
get an approval form, a moderator's approval grants voice."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from component.errors import StanzaError
from component.forms import new_form

from ..events import ROOM_MESSAGE
from ..room import Room
from ..stanza import NS_DATA, NS_REQUEST, XML_LANG, Addressed, escape_text, serialize
from ..texts import label, text
from . import Feature

_X = f"{{{NS_DATA}}}x"


def _fields(form: Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for field in form.findall(f"{{{NS_DATA}}}field"):
        found[field.get("var", "")] = [v.text or "" for v in field.findall(f"{{{NS_DATA}}}value")]
    return found


def _first(fields: dict[str, list[str]], var: str) -> str:
    values = fields.get(var) or [""]
    return values[0].strip()


class VoiceRequests(Feature):
    def hook(self, events: Any) -> None:
        super().hook(events)
        events.on(ROOM_MESSAGE, self.handle)

    async def handle(self, room: Room, msg: Any) -> bool | None:
        return True if await self.on_room_message(room, msg) else None

    async def on_room_message(self, room: Room, msg: Any) -> bool:
        form = msg.xml.find(_X)
        if form is None:
            return False
        fields = _fields(form)
        if _first(fields, "FORM_TYPE") != NS_REQUEST:
            return False
        sender = room.by_jid.get(msg["from"].full)
        if sender is None:
            raise StanzaError("not-acceptable", "only occupants of this room can ask for voice in it")
        if "muc#request_allow" in fields:
            await self.decide(room, sender, fields)
            return True
        if _first(fields, "muc#role") not in ("", "participant"):
            raise StanzaError("not-acceptable", "only voice (role participant) can be requested")
        if sender.role != "visitor":
            return True  # already has voice: nothing to ask
        lang = msg.xml.get(XML_LANG) or msg["lang"]
        approval = new_form(title=text("voice_request_title", lang),
                            instructions=text("voice_request_instructions", lang), form_type_value=NS_REQUEST)
        approval.add_field(var="muc#role", ftype="list-single", label=label("Requested role", "申请的角色", lang),
                           value="participant")
        approval.add_field(var="muc#jid", ftype="jid-single", label=label("User ID", "用户 ID", lang),
                           value=sender.primary.jid)
        approval.add_field(var="muc#roomnick", ftype="text-single", label=label("Room Nickname", "昵称", lang),
                           value=sender.nick)
        approval.add_field(var="muc#request_allow", ftype="boolean", label=label("Grant voice?", "授予发言权？", lang),
                           value=False)
        body = escape_text(text("voice_request_body", lang, nick=sender.nick, room=room.jid))
        xml = (f'<message from="{room.jid_attr}"><body>{body}</body>{serialize(approval.xml)}</message>')
        moderators = [s.to_attr for o in room.occupants.values() if o.role == "moderator"
                      for s in o.sessions.values()]
        if moderators:
            data, count = Addressed(xml).to_many(moderators)
            self.host.send_raw(data, count)
        return True

    async def decide(self, room: Room, moderator: Any, fields: dict[str, list[str]]) -> None:
        if moderator.role != "moderator":
            raise StanzaError("forbidden", "only moderators can answer voice requests")
        if _first(fields, "muc#request_allow") not in ("1", "true"):
            return
        target = room.occupants.get(_first(fields, "muc#roomnick"))
        if target is None:
            raise StanzaError("item-not-found", "that occupant is no longer in the room")
        if target.role == "visitor":
            await self.host.set_role(room, target, "participant", moderator.nick)
