"""IQs to occupant JIDs (XEP-0045 17.3): forwarded to the occupant's real JID, the answer routed back.

Only occupants may address other occupants (not-acceptable otherwise, as
XEP-0410 expects); an unknown nick is item-not-found. vCard requests go to
the occupant's bare JID, where the user's server keeps the vCard.
"""

from __future__ import annotations

from typing import Any

from slixmpp.exceptions import IqError, IqTimeout

from component.errors import StanzaError, fill_error

from .. import events
from ..stanza import NS_PING
from . import Feature

#: IQ payloads forwarded to occupants (anything else is service-unavailable by the core).
FORWARDED = (
    "{vcard-temp}vCard",
    "{jabber:iq:version}query",
    f"{{{NS_PING}}}ping",
    "{http://jabber.org/protocol/disco#info}query",
    "{http://jabber.org/protocol/disco#items}query",
    "{urn:xmpp:time}time",
    "{jabber:iq:last}query",
    "{urn:xmpp:bob}data",
    "{http://jabber.org/protocol/commands}command",
)
_VCARD = "{vcard-temp}vCard"


class IqForwarding(Feature):
    timeout = 30.0

    async def on_iq(self, iq: Any) -> Any:
        to = iq["to"]
        if not to.user or not to.resource:
            return None
        room = self.host.rooms.get(to.bare)
        if room is None:
            raise StanzaError("item-not-found", "there is no such room")
        sender = room.by_jid.get(iq["from"].full)
        if sender is None:
            # XEP-0410: a self-ping from a client that is not joined gets exactly this, by the room.
            reply = iq.reply(clear=True)
            fill_error(reply, StanzaError("not-acceptable", "you are not joined to this room", etype="cancel"))
            reply["error"]["by"] = room.jid
            return reply
        payload = [c for c in iq.xml if not c.tag.endswith("}error")]
        if payload and payload[0].tag == f"{{{NS_PING}}}ping":
            reply = await self.host.events.fire(events.SELF_PING, room, iq, to.resource)
            if reply is not None:
                return reply
        target = room.occupants.get(to.resource)
        if target is None or not target.sessions:
            raise StanzaError("item-not-found", "there is no occupant with that nickname in this room")
        real_jid = target.primary.jid
        if payload and payload[0].tag == _VCARD and iq["type"] == "get":
            real_jid = target.bare_jid
        forwarded = self.host.make_iq(f"{room.jid}/{sender.nick}", real_jid, iq["type"])
        for item in payload:
            forwarded.xml.append(item)
        try:
            answer = await self.host.request(forwarded, timeout=self.timeout)
        except IqError as exc:
            reply = iq.reply(clear=True)
            reply["type"] = "error"
            error = exc.iq.xml.find("{jabber:component:accept}error")
            if error is not None:
                reply.xml.append(error)
                return reply
            raise StanzaError("undefined-condition", "the occupant answered with an error") from exc
        except IqTimeout as exc:
            raise StanzaError("remote-server-timeout", "the occupant did not answer in time") from exc
        reply = iq.reply(clear=True)
        for item in answer.xml:
            reply.xml.append(item)
        return reply
