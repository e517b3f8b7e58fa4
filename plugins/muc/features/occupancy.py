"""Entering and leaving rooms, presence updates, nick changes (XEP-0045 sections 7.1-7.7, 7.14).

Every presence an occupant sends is fanned out from one serialized template
per visibility (with or without the real JID); only ``to`` differs per
recipient, and everything for one event goes out in a single write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable
from xml.etree.ElementTree import Element

from slixmpp import JID

from component.errors import StanzaError

from .. import events, hooks
from ..room import Occupant, Room, Session
from ..stanza import (BANNED, CREATED, KICKED, LOGGING_ON, NEW_NICK, NICK_ASSIGNED, NS_MUC, NS_OCCUPANT_ID,
                      NS_USER, REAL_JID_PUBLIC, REMOVED_ERROR, SELF, Addressed, escape_attr, item_xml,
                      presence_xml, serialize_children)
from . import Feature, JoinRequest


# Hats (XEP-0317) come from the room only: a client cannot give itself one.
_SKIP_IN_PAYLOAD = frozenset((f"{{{NS_MUC}}}x", f"{{{NS_USER}}}x", f"{{{NS_OCCUPANT_ID}}}occupant-id",
                              "{urn:xmpp:hats:0}hats"))


def payload_of(xml: Element) -> str:
    """The presence children others see: everything but MUC's own elements and errors."""
    kept = [c for c in xml if c.tag not in _SKIP_IN_PAYLOAD and not c.tag.endswith("}error")]
    return serialize_children(kept) if kept else ""


@dataclass
class Change:
    """What a presence broadcast says about an occupant beyond its current state."""

    codes: tuple[str, ...] = ()          # for everyone
    self_codes: tuple[str, ...] = ()     # only for the occupant's own sessions (110 is added)
    unavailable: bool = False
    role: str | None = None              # overrides the occupant's role (e.g. none when leaving)
    affiliation: str | None = None
    new_nick: str = ""                   # 303
    actor: str = ""
    reason: str = ""
    extra_user: str = ""                 # more muc#user children (e.g. <destroy/>)
    payload: str | None = None           # overrides the presence payload
    broadcast: bool = True               # False: only the occupant's own sessions hear it
    exclude: set[str] = field(default_factory=set)  # sessions (real JIDs) that get nothing


class Occupancy(Feature):

    # -- building and sending presence --------------------------------------
    def presence_for(self, room: Room, occupant: Occupant, change: Change, jid: str = "",
                     self_presence: bool = False) -> str:
        role = change.role or occupant.role
        affiliation = change.affiliation or occupant.affiliation
        codes = change.codes
        if self_presence:
            codes = (SELF, *change.self_codes, *codes)
        item = item_xml(affiliation, role, jid=jid, nick=change.new_nick, actor_nick=change.actor,
                        reason=change.reason)
        payload = occupant.primary.payload if change.payload is None and occupant.sessions else (change.payload or "")
        if not change.unavailable:
            payload += room.presence_extras.get(occupant.bare_jid, "")
        return presence_xml(f"{room.jid}/{occupant.nick}", payload, item, sorted(set(codes)), occupant.occupant_id,
                            change.unavailable, change.extra_user)

    def fanout(self, room: Room, occupant: Occupant, change: Change,
               own_sessions: Iterable[Session] | None = None, out: list[str] | None = None) -> int:
        """Tell the room about ``occupant``; returns the number of stanzas written (or appended to ``out``)."""
        parts: list[str] = []
        count = 0
        if change.broadcast:
            with_jid: list[str] = []
            without_jid: list[str] = []
            public = room.config.non_anonymous
            for other in room.occupants.values():
                if other is occupant:
                    continue
                target = with_jid if public or other.role == "moderator" else without_jid
                for session in other.sessions.values():
                    if session.jid not in change.exclude:
                        target.append(session.to_attr)
            real_jid = occupant.primary.jid if occupant.sessions else ""
            if with_jid:
                data, n = Addressed(self.presence_for(room, occupant, change, real_jid)).to_many(with_jid)
                parts.append(data)
                count += n
            if without_jid:
                data, n = Addressed(self.presence_for(room, occupant, change)).to_many(without_jid)
                parts.append(data)
                count += n
        sessions = occupant.sessions.values() if own_sessions is None else own_sessions
        for session in sessions:
            if session.jid in change.exclude:
                continue
            parts.append(Addressed(self.presence_for(room, occupant, change, session.jid, True)).to(session.to_attr))
            count += 1
        if out is not None:
            out.extend(parts)
        elif parts:
            self.host.send_raw("".join(parts), count)
        return count

    # -- routing ------------------------------------------------------------------
    async def on_presence(self, pres: Any, to: JID) -> Any:
        ptype = pres.xml.get("type")
        sender = pres["from"].full
        room = self.host.rooms.get(to.bare)
        occupant = room.by_jid.get(sender) if room else None
        if ptype is None:
            if not to.resource:
                raise StanzaError("jid-malformed", "a nickname is required: send your presence to room@service/nick")
            if room is None or occupant is None:
                await self.join(pres, to, sender, room)
            elif occupant.nick == to.resource:
                if pres.xml.find(f"{{{NS_MUC}}}x") is not None:
                    await self.rejoin(room, occupant, sender, pres)
                else:
                    self.update(room, occupant, occupant.sessions[sender], pres.xml)
            else:
                await self.change_nick(room, occupant, occupant.sessions[sender], to.resource, pres.xml)
            return True
        if ptype == "unavailable":
            if room is not None and occupant is not None:
                await self.leave(room, occupant, sender, payload_of(pres.xml))
            return True
        if ptype == "error":
            if room is not None and occupant is not None:
                # The occupant's server bounced a presence: the session is gone (XEP-0045 333).
                await self.leave(room, occupant, sender, "", Change(codes=(KICKED, REMOVED_ERROR), exclude={sender}))
            return True
        if ptype == "probe" and to.resource:
            self.answer_probe(room, occupant, to.resource, sender)
        return True  # subscriptions mean nothing to a room

    def answer_probe(self, room: Room | None, prober: Occupant | None, nick: str, sender: str) -> None:
        """An occupant asks for another occupant's current presence (as Prosody answers it)."""
        if room is None or prober is None:
            raise StanzaError("not-acceptable", "only occupants of this room may probe its occupants", etype="cancel")
        probed = room.occupants.get(nick)
        if probed is None or not probed.sessions:
            # Absent: a registered nick is said unavailable (with its member); any other, nothing.
            member = room.nick_reserved_by(nick)
            if member is None:
                return
            jid = member if room.can_see_jids(prober) else ""
            xml = presence_xml(f"{room.jid}/{nick}", "", item_xml(room.affiliation(member), "none", jid=jid),
                               [], "", True, "")
        else:
            jid = probed.primary.jid if room.can_see_jids(prober) else ""
            xml = self.presence_for(room, probed, Change(), jid, self_presence=probed is prober)
        self.host.send_raw(Addressed(xml).to(escape_attr(sender)), 1)

    # -- join -----------------------------------------------------------------------
    def hook(self, bus: Any) -> None:
        super().hook(bus)
        bus.on(events.PRE_JOIN, self.check_lock, priority=events.LOCK)
        bus.on(events.PRE_JOIN, self.check_nick, priority=events.NICK)

    async def run_join_checks(self, room: Room, nick: str, sender: str, bare: str,
                              password: str | None) -> JoinRequest:
        """Every PRE_JOIN handler in priority order; the first refusal raises."""
        join = JoinRequest(room, nick, sender, bare, room.affiliation(bare), password, nick not in room.occupants)
        await self.host.events.fire(events.PRE_JOIN, join)
        return join

    @staticmethod
    def check_lock(join: JoinRequest) -> None:
        if join.room.locked and join.affiliation != "owner":
            raise StanzaError("item-not-found", "this room is locked until its owner configures it")

    @staticmethod
    def check_nick(join: JoinRequest) -> None:
        existing = join.room.occupants.get(join.nick)
        if existing is not None and existing.bare_jid != join.bare_jid:
            raise StanzaError("conflict", "that nickname is already in use in this room")
        reserved_by = join.room.nick_reserved_by(join.nick)
        if reserved_by is not None and reserved_by != join.bare_jid:
            raise StanzaError("conflict", "that nickname is reserved by another member of this room")

    async def history_for(self, room: Room, sender: str, request: Element | None) -> list[str]:
        return await self.host.events.fire(events.JOIN_HISTORY, room, sender, request) or []

    async def join(self, pres: Any, to: JID, sender: str, room: Room | None) -> None:
        bare = JID(sender).bare
        nick = to.resource
        muc_x = pres.xml.find(f"{{{NS_MUC}}}x")
        password = history_request = None
        if muc_x is not None:
            password = muc_x.findtext(f"{{{NS_MUC}}}password")
            history_request = muc_x.find(f"{{{NS_MUC}}}history")
        created = assigned = False
        history: list[str] = []
        if room is not None and self.host.options.enforce_reserved_nicks:
            reserved = room.reserved_nicks.get(bare)
            if reserved and reserved != nick:
                nick, assigned = reserved, True  # XEP-0045 7.12: the registered nick, said with 210
        if room is None:
            room = self.host.rooms.create(to.bare, bare)
            created = True
            join = JoinRequest(room, nick, sender, bare, "owner", password, True)
        else:
            await self.run_join_checks(room, nick, sender, bare, password)
            history = await self.history_for(room, sender, history_request)
            if room.destroyed or self.host.rooms.get(room.jid) is not room:
                raise StanzaError("item-not-found", "this room no longer exists")
            if sender in room.by_jid:  # a duplicate join raced us: treat it as an update
                occupant = room.by_jid[sender]
                self.update(room, occupant, occupant.sessions[sender], pres.xml)
                return
            join = await self.run_join_checks(room, nick, sender, bare, password)
        # Handlers are synchronous: nothing runs between the checks, these and the entry.
        history += await self.host.events.collect(events.SESSION_EXTRAS, room)
        self.enter(room, join, payload_of(pres.xml), history, created, assigned=assigned)
        if created:
            if room.config.persistent and not room.locked:
                # Not locked for configuration: the defaults are the configuration, kept from now on.
                await self.host.store.save_room(self.host.stored(room))
            self.host.log.info("room created", extra={"room": room.jid, "owner": bare})
            await self.host.hooks.fire(hooks.ROOM_CREATED, hooks.RoomEvent(room.jid, actor=sender,
                                                                          config=self.host.config_dict(room)))
        if join.new_occupant:
            occupant = room.occupants.get(nick)
            if occupant is not None:
                await self.host.hooks.fire(hooks.OCCUPANT_JOINED, hooks.OccupantEvent(
                    room.jid, nick, sender, occupant.occupant_id, occupant.role, occupant.affiliation))

    async def rejoin(self, room: Room, occupant: Occupant, sender: str, pres: Any) -> None:
        """A joined session joins again (its client lost track): it gets the whole room state again."""
        muc_x = pres.xml.find(f"{{{NS_MUC}}}x")
        history = await self.history_for(room, sender, muc_x.find(f"{{{NS_MUC}}}history"))
        current = room.by_jid.get(sender)
        if current is not occupant or room.destroyed:
            return  # it left (or was removed) while the history was fetched
        history += await self.host.events.collect(events.SESSION_EXTRAS, room)
        join = JoinRequest(room, occupant.nick, sender, occupant.bare_jid, occupant.affiliation, None, False)
        self.enter(room, join, payload_of(pres.xml), history, False, existing=occupant.sessions[sender])

    def enter(self, room: Room, join: JoinRequest, payload: str, history: list[str], created: bool,
              existing: Session | None = None, assigned: bool = False) -> None:
        """Add the session and send everything a joining client expects, in order, in one write."""
        occupant = room.occupants.get(join.nick)
        if occupant is None:
            occupant = Occupant(join.nick, join.bare_jid, room.default_role(join.affiliation), join.affiliation,
                                self.host.rooms.occupant_id(room.jid, join.bare_jid))
            room.occupants[join.nick] = occupant
        if existing is None:
            session = Session(join.real_jid, escape_attr(join.real_jid), payload)
        else:
            session = existing
            session.payload = payload
            del occupant.sessions[session.jid]
        others_of_occupant = list(occupant.sessions.values())
        occupant.sessions[join.real_jid] = session
        room.by_jid[join.real_jid] = occupant
        room.sessions_changed()
        parts: list[str] = []
        count = 0
        # 1. the occupants already there, as the newcomer may see them
        sees_jids = room.can_see_jids(occupant)
        for other in room.occupants.values():
            if other is occupant or not other.sessions or not room.broadcasts_presence_of(other.role):
                continue
            xml = self.presence_for(room, other, Change(), other.primary.jid if sees_jids else "")
            parts.append(Addressed(xml).to(session.to_attr))
            count += 1
        # 2. the newcomer (or the occupant's updated presence) to everyone else
        count += self.fanout(room, occupant, Change(broadcast=room.broadcasts_presence_of(occupant.role)),
                             own_sessions=others_of_occupant, out=parts)
        # 3. self-presence last: it tells the client the join is complete
        codes = []
        if room.config.non_anonymous:
            codes.append(REAL_JID_PUBLIC)
        if created:
            codes.append(CREATED)
        if assigned:
            codes.append(NICK_ASSIGNED)
        if room.config.archiving:
            codes.append(LOGGING_ON)
        xml = self.presence_for(room, occupant, Change(self_codes=tuple(codes)), join.real_jid, True)
        parts.append(Addressed(xml).to(session.to_attr))
        count += 1
        # 4. history, then the subject (what SESSION_EXTRAS gave, after the history)
        for item in history:
            parts.append(Addressed(item).to(session.to_attr))
            count += 1
        self.host.send_raw("".join(parts), count)

    # -- updates ----------------------------------------------------------------------
    def update(self, room: Room, occupant: Occupant, session: Session, xml: Element) -> None:
        session.payload = payload_of(xml)
        # The most recently updated session is the one others see.
        del occupant.sessions[session.jid]
        occupant.sessions[session.jid] = session
        self.fanout(room, occupant, Change(broadcast=room.broadcasts_presence_of(occupant.role)))

    async def change_nick(self, room: Room, occupant: Occupant, session: Session, new_nick: str,
                          xml: Element) -> None:
        if new_nick in room.occupants:
            raise StanzaError("conflict", "that nickname is already in use in this room")
        reserved_by = room.nick_reserved_by(new_nick)
        if reserved_by is not None and reserved_by != occupant.bare_jid:
            raise StanzaError("conflict", "that nickname is reserved by another member of this room")
        payload = payload_of(xml)
        broadcast = room.broadcasts_presence_of(occupant.role)
        parts: list[str] = []
        count = 0
        if len(occupant.sessions) == 1:
            count += self.fanout(room, occupant, Change(codes=(NEW_NICK,), unavailable=True, new_nick=new_nick,
                                                        broadcast=broadcast), out=parts)
            del room.occupants[occupant.nick]
            old_nick = occupant.nick
            occupant.nick = new_nick
            room.occupants[new_nick] = occupant
            session.payload = payload
            count += self.fanout(room, occupant, Change(broadcast=broadcast), out=parts)
            self.host.send_raw("".join(parts), count)
            self.host.log.debug("nick changed", extra={"room": room.jid, "old": old_nick, "new": new_nick})
            return
        # One session of a multi-session occupant moves to a new nick; the others stay.
        change = Change(codes=(NEW_NICK,), unavailable=True, new_nick=new_nick, broadcast=False)
        count += self.fanout(room, occupant, change, own_sessions=[session], out=parts)
        del occupant.sessions[session.jid]
        count += self.fanout(room, occupant, Change(broadcast=broadcast), out=parts)
        moved = Occupant(new_nick, occupant.bare_jid, occupant.role, occupant.affiliation, occupant.occupant_id)
        session.payload = payload
        moved.sessions[session.jid] = session
        room.occupants[new_nick] = moved
        room.by_jid[session.jid] = moved
        room.sessions_changed()
        count += self.fanout(room, moved, Change(broadcast=broadcast), out=parts)
        self.host.send_raw("".join(parts), count)

    # -- leaving ----------------------------------------------------------------------
    async def leave(self, room: Room, occupant: Occupant, session_jid: str, payload: str,
                    change: Change | None = None) -> None:
        """One session leaves (or is dropped); the occupant leaves with its last session."""
        change = change or Change()
        if len(occupant.sessions) > 1:
            session = occupant.sessions[session_jid]
            if session_jid not in change.exclude:
                self.fanout(room, occupant, Change(unavailable=True, role="none", payload=payload, broadcast=False),
                            own_sessions=[session])
            del occupant.sessions[session_jid]
            room.by_jid.pop(session_jid, None)
            room.sessions_changed()
            self.fanout(room, occupant, Change(broadcast=room.broadcasts_presence_of(occupant.role)))
            return
        change.unavailable = True
        change.role = "none"
        change.payload = payload
        change.broadcast = change.broadcast and room.broadcasts_presence_of(occupant.role)
        await self.remove(room, occupant, change)

    async def remove(self, room: Room, occupant: Occupant, change: Change) -> None:
        """Take an occupant out of the room with all its sessions, telling everyone why."""
        change.unavailable = True
        if change.role is None:
            change.role = "none"
        if change.payload is None:
            change.payload = ""
        self.fanout(room, occupant, change)
        room.occupants.pop(occupant.nick, None)
        for jid in occupant.sessions:
            room.by_jid.pop(jid, None)
        real_jid = occupant.primary.jid if occupant.sessions else ""
        occupant.sessions.clear()
        room.sessions_changed()
        await self.host.hooks.fire(hooks.OCCUPANT_LEFT, hooks.OccupantEvent(
            room.jid, occupant.nick, real_jid, occupant.occupant_id, "none", occupant.affiliation))
        await self.host.room_emptied(room)

    async def kick_for_affiliation(self, room: Room, occupant: Occupant, code: str, actor: str = "",
                                   reason: str = "") -> None:
        await self.remove(room, occupant, Change(codes=(code,), actor=actor, reason=reason,
                                                 affiliation="outcast" if code == BANNED else None))
