"""Mediated invitations and declines (XEP-0045 7.8.2, 7.8.3).

In a members-only room an invitation by someone allowed to invite also makes
the invitee a member, so the invitation can be accepted.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from slixmpp import JID
from slixmpp.jid import InvalidJID

from component.errors import StanzaError

from ..events import ROOM_MESSAGE
from ..room import Room, may_invite
from ..stanza import NS_USER, XML_LANG, escape_attr, escape_text
from ..texts import text
from . import Feature

_X = f"{{{NS_USER}}}x"
_INVITE = f"{{{NS_USER}}}invite"
_DECLINE = f"{{{NS_USER}}}decline"
_REASON = f"{{{NS_USER}}}reason"


def _target(element: Element) -> str:
    value = (element.get("to") or "").strip()
    if not value:
        raise StanzaError("bad-request", "an invitation or decline needs a 'to' address")
    try:
        jid = JID(value)
    except InvalidJID as exc:
        raise StanzaError("jid-malformed", f"not a valid JID: {value!r}") from exc
    if not jid.domain:
        raise StanzaError("jid-malformed", f"not a valid JID: {value!r}")
    return jid.full


class Invites(Feature):
    def hook(self, events: Any) -> None:
        super().hook(events)
        events.on(ROOM_MESSAGE, self.handle)

    async def handle(self, room: Room, msg: Any) -> bool | None:
        return True if await self.on_room_message(room, msg) else None

    async def on_room_message(self, room: Room, msg: Any) -> bool:
        x = msg.xml.find(_X)
        if x is None:
            return False
        invites = x.findall(_INVITE)
        declines = x.findall(_DECLINE)
        if not invites and not declines:
            return False
        lang = msg.xml.get(XML_LANG) or msg["lang"]
        for invite in invites:
            await self.invite(room, msg, invite, lang)
        for decline in declines:
            self.decline(room, msg, decline, lang)
        return True

    async def invite(self, room: Room, msg: Any, invite: Element, lang: str | None) -> None:
        inviter_jid = msg["from"]
        inviter = room.by_jid.get(inviter_jid.full)
        if inviter is None:
            raise StanzaError("not-acceptable", "only occupants of this room can invite others to it")
        if not may_invite(room, inviter):
            raise StanzaError("forbidden", "you are not allowed to invite others to this room")
        invitee = _target(invite)
        reason = (invite.findtext(_REASON) or "").strip()
        invitee_bare = JID(invitee).bare
        if room.affiliation(invitee_bare) == "outcast":
            raise StanzaError("forbidden", "that user is banned from this room")
        if room.config.members_only and room.affiliation(invitee_bare) == "none":
            await self.host.set_affiliation(room, invitee_bare, "member", inviter.nick)
        key = "invite_reason" if reason else "invite"
        body = text(key, lang, inviter=inviter_jid.bare, room=room.jid, reason=reason)
        password = ""
        if room.config.needs_password:
            body += text("invite_password", lang, password=room.config.password)
            password = f"<password>{escape_text(room.config.password)}</password>"
        inner = f"<reason>{escape_text(reason)}</reason>" if reason else ""
        inner += "<continue/>" if invite.find(f"{{{NS_USER}}}continue") is not None else ""
        invite_xml = (f'<invite from="{escape_attr(inviter_jid.full)}">{inner}</invite>' if inner
                      else f'<invite from="{escape_attr(inviter_jid.full)}"/>')
        msg_id = f' id="{escape_attr(msg.xml.get("id"))}"' if msg.xml.get("id") else ""
        self.host.send_raw(
            f'<message from="{room.jid_attr}" to="{escape_attr(invitee)}"{msg_id}>'
            f"<body>{escape_text(body)}</body>"
            f'<x xmlns="{NS_USER}">{invite_xml}{password}</x>'
            f'<x xmlns="jabber:x:conference" jid="{room.jid_attr}"/></message>')
        self.host.log.debug("invitation relayed", extra={"room": room.jid})

    def decline(self, room: Room, msg: Any, decline: Element, lang: str | None) -> None:
        inviter = _target(decline)
        reason = (decline.findtext(_REASON) or "").strip()
        decliner = msg["from"].bare
        body = text("decline", lang, decliner=decliner, room=room.jid)
        inner = f"<reason>{escape_text(reason)}</reason>" if reason else ""
        decline_xml = (f'<decline from="{escape_attr(decliner)}">{inner}</decline>' if inner
                       else f'<decline from="{escape_attr(decliner)}"/>')
        self.host.send_raw(
            f'<message from="{room.jid_attr}" to="{escape_attr(inviter)}">'
            f"<body>{escape_text(body)}</body>"
            f'<x xmlns="{NS_USER}">{decline_xml}</x></message>')
