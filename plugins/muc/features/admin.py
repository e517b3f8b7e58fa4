"""Roles and affiliations (XEP-0045 8, 9, 10.3-10.5): muc#admin lists and edits, kick, ban,
voice, moderator, membership, with the rule that nobody acts above their own level and the last
owner stays."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from slixmpp import JID
from slixmpp.jid import InvalidJID

from component.errors import StanzaError

from ..events import SET_AFFILIATION, SET_ROLE, AffiliationChange, RoleChange
from ..room import (AFFILIATIONS, ROLES, Occupant, Room, check_affiliation_change, check_role_change,
                    may_get_member_list, role_after_affiliation)
from ..stanza import (AFFILIATION_CHANGED_ABSENT, BANNED, KICKED, NS_ADMIN, REMOVED_AFFILIATION, Addressed,
                      affiliation_notice_xml, escape_attr)
from .occupancy import Change
from . import Feature

_QUERY = f"{{{NS_ADMIN}}}query"
_ITEM = f"{{{NS_ADMIN}}}item"
_REASON = f"{{{NS_ADMIN}}}reason"


def _bare(value: str) -> str:
    try:
        jid = JID(value)
    except InvalidJID as exc:
        raise StanzaError("jid-malformed", f"not a valid JID: {value!r}") from exc
    if not jid.domain:
        raise StanzaError("jid-malformed", f"not a valid JID: {value!r}")
    return jid.bare


class Admin(Feature):
    def hook(self, events: Any) -> None:
        super().hook(events)
        events.on(SET_AFFILIATION, self.on_set_affiliation)
        events.on(SET_ROLE, self.on_set_role)

    async def on_set_affiliation(self, change: AffiliationChange) -> bool:
        await self.set_affiliation(change.room, change.jid, change.affiliation, change.actor_nick, change.reason,
                                   change.nick, change.tell_user)
        return True

    async def on_set_role(self, change: RoleChange) -> bool:
        await self.set_role(change.room, change.occupant, change.role, change.actor_nick, change.reason)
        return True

    # -- applying changes (also used by the config form and invitations) ------------
    async def set_affiliation(self, room: Room, bare_jid: str, affiliation: str, actor_nick: str = "",
                              reason: str = "", nick: str | None = None, tell_user: bool = True) -> None:
        before = (room.affiliations.get(bare_jid, "none"), room.affiliation_reasons.get(bare_jid, ""),
                  room.reserved_nicks.get(bare_jid))
        room.set_affiliation(bare_jid, affiliation, reason, nick)
        if room.config.persistent and not room.locked:
            # Stored before anyone is told: a ban the database did not take must not look done.
            try:
                await self.host.store.save_affiliation(room.jid, bare_jid, room.affiliations.get(bare_jid, "none"),
                                                      room.reserved_nicks.get(bare_jid, ""),
                                                      room.affiliation_reasons.get(bare_jid, ""))
            except BaseException:
                room.set_affiliation(bare_jid, "none")
                room.set_affiliation(bare_jid, *before)
                raise
        effective = room.affiliation(bare_jid)
        present = room.occupants_of(bare_jid)
        if not present and not room.locked and room.affiliations.get(bare_jid, "none") != before[0]:
            self.announce_absent(room, bare_jid, room.affiliations.get(bare_jid, "none"), reason, tell_user)
        for occupant in present:
            new_role = role_after_affiliation(room, occupant, effective)
            occupant.affiliation = effective
            if new_role == "none":
                code = BANNED if affiliation == "outcast" else REMOVED_AFFILIATION
                await self.host.remove_occupant(room, occupant, Change(codes=(code,), actor=actor_nick,
                                                                       reason=reason))
            else:
                occupant.role = new_role
                self.host.broadcast_presence(room, occupant, Change(actor=actor_nick, reason=reason))

    def announce_absent(self, room: Room, bare_jid: str, affiliation: str, reason: str, tell_user: bool) -> None:
        """The occupants who may see real JIDs learn an absent user's new affiliation (as Prosody
        does, XEP-0045 ex. 195); the user learns it out of the room with status 101."""
        removed = affiliation == "outcast" or (affiliation == "none" and room.config.members_only)
        codes = ((BANNED if affiliation == "outcast" else REMOVED_AFFILIATION),) if removed else ()
        viewers = [session.to_attr for occupant in room.occupants.values() if room.can_see_jids(occupant)
                   for session in occupant.sessions.values()]
        parts: list[str] = []
        if viewers:
            data, count = Addressed(affiliation_notice_xml(room.jid, bare_jid, affiliation, codes, reason)
                                    ).to_many(viewers)
            parts.append(data)
        if tell_user:
            notice = affiliation_notice_xml(room.jid, bare_jid, affiliation, (AFFILIATION_CHANGED_ABSENT,), reason)
            parts.append(Addressed(notice).to(escape_attr(bare_jid)))
        if parts:
            self.host.send_raw("".join(parts), len(viewers) + int(tell_user))

    async def set_role(self, room: Room, occupant: Occupant, role: str, actor_nick: str = "",
                       reason: str = "") -> None:
        if role == "none":
            await self.host.remove_occupant(room, occupant, Change(codes=(KICKED,), actor=actor_nick,
                                                                   reason=reason))
            return
        occupant.role = role
        self.host.broadcast_presence(room, occupant, Change(actor=actor_nick, reason=reason))

    # -- muc#admin ----------------------------------------------------------------------
    async def on_admin(self, iq: Any) -> Any:
        to = iq["to"]
        if not to.user or to.resource:
            return None
        room = self.host.rooms.get(to.bare)
        if room is None:
            raise StanzaError("item-not-found", "there is no such room")
        query = iq.xml.find(_QUERY)
        items = query.findall(_ITEM) if query is not None else []
        if not items:
            raise StanzaError("bad-request", "the query needs at least one item")
        actor = iq["from"]
        actor_occupant = room.by_jid.get(actor.full)
        actor_affiliation = room.affiliation(actor.bare)
        if iq["type"] == "get":
            return self.list(iq, room, items[0], actor_occupant, actor_affiliation)
        await self.edit(room, items, actor_occupant, actor_affiliation)
        return iq.reply(clear=True)

    def list(self, iq: Any, room: Room, request: Element, actor: Occupant | None, actor_affiliation: str) -> Any:
        reply = iq.reply(clear=True)
        query = Element(_QUERY)
        reply.xml.append(query)
        affiliation = request.get("affiliation")
        role = request.get("role")
        if affiliation:
            if affiliation not in AFFILIATIONS or affiliation == "none":
                raise StanzaError("bad-request", f"cannot list affiliation {affiliation!r}")
            if affiliation == "outcast":
                allowed = actor_affiliation in ("owner", "admin")
            else:
                allowed = may_get_member_list(room, actor, actor_affiliation)
            if not allowed:
                raise StanzaError("forbidden", "you are not allowed to see this list")
            for jid in room.with_affiliation(affiliation):
                attrs = {"affiliation": affiliation, "jid": jid}
                if room.reserved_nicks.get(jid):
                    attrs["nick"] = room.reserved_nicks[jid]
                item = Element(_ITEM, attrs)
                if room.affiliation_reasons.get(jid):
                    reason = Element(_REASON)
                    reason.text = room.affiliation_reasons[jid]
                    item.append(reason)
                query.append(item)
            return reply
        if role:
            if role not in ROLES or role == "none":
                raise StanzaError("bad-request", f"cannot list role {role!r}")
            if not ((actor is not None and actor.is_moderator) or actor_affiliation in ("owner", "admin")):
                raise StanzaError("forbidden", "only moderators can see role lists")
            sees = room.can_see_jids(actor) or actor_affiliation in ("owner", "admin")
            for occupant in room.occupants.values():
                if occupant.role != role:
                    continue
                attrs = {"nick": occupant.nick, "role": occupant.role, "affiliation": occupant.affiliation}
                if sees and occupant.sessions:
                    attrs["jid"] = occupant.primary.jid
                query.append(Element(_ITEM, attrs))
            return reply
        raise StanzaError("bad-request", "an item needs an affiliation or a role")

    async def edit(self, room: Room, items: list[Element], actor: Occupant | None, actor_affiliation: str) -> None:
        planned: list[tuple[str, Any, str, str, str | None]] = []
        owners_after = set(room.owners())
        for item in items:
            reason = (item.findtext(_REASON) or "").strip()
            role = item.get("role")
            affiliation = item.get("affiliation")
            nick = item.get("nick")
            if affiliation is not None:
                if item.get("jid"):
                    target_jid = _bare(item.get("jid", ""))
                elif nick:
                    occupant = room.occupants.get(nick)
                    if occupant is None:
                        raise StanzaError("item-not-found", f"nobody named {nick!r} is in the room")
                    target_jid = occupant.bare_jid
                    nick = None
                else:
                    raise StanzaError("bad-request", "an affiliation change needs a jid or a nick")
                check_affiliation_change(room, actor_affiliation, target_jid, affiliation)
                if affiliation == "owner":
                    owners_after.add(target_jid)
                else:
                    owners_after.discard(target_jid)
                planned.append(("affiliation", target_jid, affiliation, reason, nick))
            elif role is not None:
                if not nick:
                    raise StanzaError("bad-request", "a role change needs a nick")
                target = room.occupants.get(nick)
                if target is None:
                    raise StanzaError("item-not-found", f"nobody named {nick!r} is in the room")
                check_role_change(room, actor, actor_affiliation, target, role)
                planned.append(("role", target, role, reason, None))
            else:
                raise StanzaError("bad-request", "an item needs an affiliation or a role")
        if room.owners() and not owners_after:
            raise StanzaError("conflict", "the last owner cannot be removed; appoint another owner first")
        actor_nick = actor.nick if actor is not None else ""
        for kind, target, value, reason, nick in planned:
            if kind == "affiliation":
                await self.set_affiliation(room, target, value, actor_nick, reason, nick)
            elif target.nick in room.occupants and room.occupants[target.nick] is target:
                await self.set_role(room, target, value, actor_nick, reason)
