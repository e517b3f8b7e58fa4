"""Wiring of the MUC service: stanzas in -> room features -> stanzas and hooks out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from xml.etree.ElementTree import Element

from slixmpp import JID
from slixmpp.exceptions import XMPPError

from component.config import doc
from component.errors import StanzaError, means_gone
from component.plugin import Plugin
from component.storage import create_tables

from . import events, hooks
from .features import Feature
from .features.admin import Admin
from .features.avatar import VCARD, Avatar
from .features.banned import Banned
from .features.config_form import ConfigForm
from .features.destroy import Destroy
from .features.disco import Disco
from .features.hats import Hats
from .features.history import History
from .features.invites import Invites
from .features.private_messages import PrivateMessages
from .features.register import NS_REGISTER, Register
from .features.voice_requests import VoiceRequests
from .features.iq_forwarding import FORWARDED, IqForwarding
from .features.max_users import MaxUsers
from .features.members_only import MembersOnly
from .features.messages import Messages
from .features.moderated import Moderated
from .features.occupancy import Change, Occupancy
from .features.password import Password
from .features.self_ping import SelfPing
from .features.subject import Subject
from .host import RoomHost
from .peers import PeerRooms
from .room import Room, RoomConfig, check_affiliation_change
from .service import PublicMuc, Rooms, config_fields
from .stanza import (NS_ADMIN, NS_DATA, NS_MUC, NS_OWNER, NS_PING, NS_STANZAS, REMOVED_SHUTDOWN, child, escape_attr,
                     escape_text)
from .store import AVATAR_TABLES, HAT_TABLES, TABLES, MucStore, StoredRoom


@dataclass
class MucOptions:
    creation: Literal["anyone", "local", "admins"] = doc(
        "Who may create rooms: anyone, local (users of local_domain), admins (service administrators).", "anyone")
    local_domain: str = doc(
        "The server domain whose users are 'local'. Empty: the service domain without its first label "
        "(rooms.example.com -> example.com).", "")
    max_rooms_per_user: int = doc("How many rooms one user may own (0: no limit; administrators are exempt).", 0)
    lock_new_rooms: bool = doc(
        "New rooms stay locked (others cannot enter) until the owner configures them or accepts the "
        "default configuration (XEP-0045 10.1).", True)
    enforce_reserved_nicks: bool = doc(
        "A member whose affiliation carries a nick always enters with that nick (status 210), "
        "whatever nick the client asked for.", False)
    history_length: int = doc("Messages of history sent on join when the client does not say.", 20)
    max_history_fetch: int = doc("The most history messages a client may ask for on join.", 100)
    default_persistent: bool = doc("New rooms are persistent.", False)
    default_public: bool = doc("New rooms are listed in service discovery.", True)
    default_members_only: bool = doc("New rooms are members-only.", False)
    default_moderated: bool = doc("New rooms are moderated.", False)
    default_whois: Literal["moderators", "anyone"] = doc(
        "Who sees occupants' real JIDs in new rooms: moderators (semi-anonymous) or anyone.", "moderators")
    default_allow_pm: Literal["anyone", "participants", "moderators", "none"] = doc(
        "Who may send private messages in new rooms.", "anyone")
    default_allow_invites: bool = doc("Occupants of new rooms may invite others.", True)
    default_change_subject: bool = doc("Participants of new rooms may change the subject.", False)
    default_max_users: int = doc("Occupant limit of new rooms (0: no limit).", 0)
    default_archiving: Literal["persistent", "on", "off"] = doc(
        "Archiving of new rooms (muc#roomconfig_enablearchiving): always (on), for persistent rooms only, or "
        "never. On by default, as Prosody's mod_muc_mam: clients expect a room they join the usual way to give "
        "its history back after a reload (MAM); owners turn it off per room.", "on")


class MucPlugin(Plugin):
    name = "muc"
    shares_domain = True  # see docs/scaling.md
    Options = MucOptions
    identities = (("conference", "text", "Chatrooms"),)
    features = (NS_MUC,)
    migrations = (create_tables(*TABLES), create_tables(*AVATAR_TABLES), create_tables(*HAT_TABLES))

    async def setup(self) -> None:
        if self.service.config.name:
            self.identities = (("conference", "text", self.service.config.name),)
        # Other processes serving this domain reload a room we changed (component/peers.py).
        peers = getattr(self.service.app, "peers", None)
        self.peer_rooms = PeerRooms(self, peers) if peers is not None else None
        if self.peer_rooms is not None:
            self.store = MucStore(self.db, self.service.domain, changed=self.peer_rooms.changed)
            await self.peer_rooms.listen()
        else:
            self.store = MucStore(self.db, self.service.domain)
        secret = await self.store.secret()
        self.rooms = Rooms(self.service.domain, self.options, self.service.is_admin, secret)
        # Features see the narrow host, never this plugin; they hook the host's room events
        # (join checks run by their priority there, not by this list's order).
        self.host = host = RoomHost(self)
        self.occupancy = Occupancy(host)
        self.messages = Messages(host)
        self.disco = Disco(host)
        self.forwarding = IqForwarding(host)
        self.admin = Admin(host)
        self.config_form = ConfigForm(host)
        self.destroyer = Destroy(host)
        self.private = PrivateMessages(host)
        self.register = Register(host)
        self.avatar = Avatar(host)
        self.hats = Hats(host)
        self.room_features: list[Feature] = [
            self.occupancy, self.messages, self.disco, self.forwarding, self.admin, self.config_form,
            self.destroyer, self.private, self.register, self.avatar, self.hats,
            *(feature(host) for feature in (Banned, MembersOnly, Password, MaxUsers, Moderated, History, Subject,
                                            SelfPing, Invites, VoiceRequests)),
        ]
        for feature in self.room_features:
            feature.hook(host.events)
        await self.load_rooms()
        await self.avatar.load()
        await self.hats.load()
        for command in self.hats.commands():
            self.service.commands.register(command)
        service = self.service
        service.on_presence(self.on_presence)
        service.on_message(self.on_message)
        service.on_iq("{http://jabber.org/protocol/disco#info}query", self.disco.on_info, types=("get",),
                      priority=10)
        service.on_iq("{http://jabber.org/protocol/disco#items}query", self.disco.on_items, types=("get",),
                      priority=10)
        service.on_iq(f"{{{NS_PING}}}ping", self.on_ping, types=("get",), priority=10)
        service.on_iq(f"{{{NS_ADMIN}}}query", self.admin.on_admin, priority=10)
        service.on_iq(f"{{{NS_OWNER}}}query", self.on_owner, priority=10)
        service.on_iq(f"{{{NS_REGISTER}}}query", self.register.on_iq, priority=10)
        service.on_iq(VCARD, self.avatar.on_iq, priority=10)
        for tag in FORWARDED:
            service.on_iq(tag, self.forwarding.on_iq, priority=5)
        self.hooks.on("disco.items", self.service_items)
        self.hooks.provide(hooks.SERVICE, PublicMuc(self.rooms, self))
        domain = service.domain
        self.metrics.read("muc_rooms", "Rooms in memory.", ["domain"], lambda: [((domain,), len(self.rooms))])
        self.metrics.read("muc_occupants", "Occupants (nicks) in all rooms.", ["domain"],
                          lambda: [((domain,), sum(len(room.occupants) for room in self.rooms))])

    async def load_rooms(self) -> None:
        for stored in await self.store.load_rooms():
            self.restore(stored)
        self.log.info("rooms loaded", extra={"domain": self.service.domain, "rooms": len(self.rooms)})

    def restore(self, stored: StoredRoom) -> Room:
        """The room as stored: its configuration, subject and affiliations (occupants stay as they are)."""
        room = self.rooms.get(stored.jid)
        if room is None:
            room = self.rooms.new_room(stored.jid, RoomConfig.from_dict(stored.config))
        else:
            room.config = RoomConfig.from_dict(stored.config)
            room.affiliations.clear()
            room.affiliation_reasons.clear()
            room.reserved_nicks.clear()
        room.created = stored.created
        room.subject, room.subject_nick = stored.subject, stored.subject_nick
        room.subject_occupant_id, room.subject_time = stored.subject_occupant_id, stored.subject_time
        for jid, (affiliation, nick, reason) in stored.affiliations.items():
            room.set_affiliation(jid, affiliation, reason, nick or None)
        return room

    async def stop(self) -> None:
        """Tell every occupant the service goes away (332) so clients know to rejoin later."""
        if not self.service.connected.is_set():
            return
        for room in list(self.rooms):
            for occupant in list(room.occupants.values()):
                self.occupancy.fanout(room, occupant, Change(codes=(REMOVED_SHUTDOWN,), unavailable=True,
                                                             role="none", payload=""))
            room.occupants.clear()
            room.by_jid.clear()
            room.sessions_changed()

    # -- shared helpers --------------------------------------------------------------
    def config_dict(self, room: Room) -> dict[str, Any]:
        return config_fields(room.config)

    def stored(self, room: Room) -> StoredRoom:
        return StoredRoom(room.jid, room.config.to_dict(), room.subject, room.subject_nick,
                          room.subject_occupant_id, room.subject_time, room.created,
                          {jid: (affiliation, room.reserved_nicks.get(jid, ""), room.affiliation_reasons.get(jid, ""))
                           for jid, affiliation in room.affiliations.items()})

    async def room_emptied(self, room: Room) -> None:
        """A temporary (or never configured) room goes away with its last occupant."""
        if room.occupants or room.destroyed:
            return
        if room.config.persistent and not room.locked:
            return
        self.rooms.remove(room.jid)
        self.log.info("room removed", extra={"room": room.jid, "reason": "empty"})
        await self.hooks.fire(hooks.ROOM_DESTROYED, hooks.RoomEvent(room.jid, config=self.config_dict(room)))

    async def broadcast_from_room(self, room_jid: str, payload: list[Element], archive: bool = True) -> str:
        room = self.rooms.get(str(room_jid))
        if room is None:
            raise StanzaError("item-not-found", "there is no such room")
        event, remember = await self.messages.from_room(room, payload, archive)
        if event is None:
            return ""
        if self.peer_rooms is not None and self.peer_rooms.peers.active:
            await self.peer_rooms.relay(room, event, remember)  # its occupants may be in another process
        return event.stanza_id

    async def create_room(self, room_jid: str, owner: str, config: dict[str, Any], actor: str,
                          here: bool = False) -> None:
        """``here``: this process serves the room (a creation handed over by another process)."""
        room_jid = JID(room_jid).bare
        if JID(room_jid).domain != self.service.domain or not JID(room_jid).user:
            raise StanzaError("jid-malformed", f"{room_jid} is not a room address of {self.service.domain}")
        if self.rooms.get(room_jid) is not None:
            raise StanzaError("conflict", f"{room_jid} already exists")
        owner_bare = JID(owner).bare if owner else ""
        if not owner_bare:
            raise StanzaError("bad-request", "a new room needs an owner")
        room = self.rooms.new_room(room_jid)
        room.set_affiliation(owner_bare, "owner")
        try:
            new_config, lists = self.config_form.parse(room, config)
        except StanzaError:
            self.rooms.remove(room_jid)
            raise
        if not new_config.persistent and not here and self.peer_rooms is not None and self.peer_rooms.peers.active:
            # Only stored rooms reach the other processes: the one serving this room creates it.
            self.rooms.remove(room_jid)
            await self.peer_rooms.create_where_served(room_jid, owner_bare, config, actor)
            return
        room.config = new_config
        for affiliation, jids in lists.items():
            for jid in jids:
                room.set_affiliation(jid, affiliation)
        if new_config.persistent:
            await self.store.save_room(self.stored(room))
        self.log.info("room created", extra={"room": room_jid, "owner": owner_bare, "actor": actor})
        await self.hooks.fire(hooks.ROOM_CREATED, hooks.RoomEvent(room_jid, actor=actor,
                                                                  config=self.config_dict(room)))

    async def configure_room(self, room_jid: str, config: dict[str, Any], actor: str) -> None:
        room = self.rooms.get(JID(room_jid).bare)
        if room is None:
            raise StanzaError("item-not-found", "there is no such room")
        new_config, lists = self.config_form.parse(room, config)
        await self.config_form.apply(room, new_config, lists, actor)

    async def destroy_room(self, room_jid: str, reason: str, alternate: str, actor: str) -> None:
        room = self.rooms.get(JID(room_jid).bare)
        if room is None:
            raise StanzaError("item-not-found", "there is no such room")
        await self.host.destroy(room, actor, reason, alternate)

    async def set_affiliation(self, room_jid: str, jid: str, affiliation: str, actor: str, reason: str) -> None:
        room = self.rooms.get(JID(room_jid).bare)
        if room is None:
            raise StanzaError("item-not-found", "there is no such room")
        target = JID(jid).bare
        check_affiliation_change(room, "owner", target, affiliation)
        await self.host.set_affiliation(room, target, affiliation, "", reason)

    # -- routing ---------------------------------------------------------------------
    def _ours(self, to: JID) -> bool:
        return bool(to.user) and to.domain == self.service.domain

    async def on_presence(self, pres: Any) -> Any:
        to = pres["to"]
        if not self._ours(to):
            return None
        return await self.occupancy.on_presence(pres, to)

    async def on_message(self, msg: Any) -> Any:
        to = msg["to"]
        if not self._ours(to):
            return None
        mtype = msg.xml.get("type") or "normal"
        ask = self.peer_rooms.is_create(msg) if self.peer_rooms is not None and mtype == "normal" else None
        if ask is not None:
            await self.peer_rooms.on_create(to.bare, ask)
            return True
        room = self.rooms.get(to.bare)
        if mtype == "error":
            await self.on_error_message(room, msg)
            return True
        try:
            return await self.route_message(room, msg, to, mtype)
        except XMPPError as error:
            # Our own error reply: the core's drops the message id, which clients need to match it.
            self.send_message_error(msg, error)
            return True
        except Exception:  # noqa: BLE001 - a bug in a hook handler must not cost the sender its answer
            self.log.exception("message handling failed", extra={"room": to.bare})
            self.send_message_error(msg, StanzaError("internal-server-error", "the message failed on our side"))
            return True

    async def route_message(self, room: Room | None, msg: Any, to: JID, mtype: str) -> Any:
        if room is None:
            raise StanzaError("item-not-found", "there is no such room")
        if to.resource:
            return await self.private.on_message(room, msg, to.resource)
        if mtype == "groupchat":
            return await self.messages.on_groupchat(room, msg)
        if await self.host.events.fire(events.ROOM_MESSAGE, room, msg):
            return True
        raise StanzaError("bad-request", "messages to a room must be of type groupchat")

    def send_message_error(self, msg: Any, error: Any) -> None:
        xml = msg.xml
        attrs = f' id="{escape_attr(xml.get("id"))}"' if xml.get("id") else ""
        text = f'<text xmlns="{NS_STANZAS}">{escape_text(error.text)}</text>' if error.text else ""
        body = child(xml, "body")
        echoed = f"<body>{escape_text(body.text or '')}</body>" if body is not None else ""
        self.service.send_raw(
            f'<message from="{escape_attr(xml.get("to", ""))}" to="{escape_attr(xml.get("from", ""))}" '
            f'type="error"{attrs}>{echoed}<error type="{error.etype}" by="{escape_attr(msg["to"].bare)}">'
            f'<{error.condition} xmlns="{NS_STANZAS}"/>{text}</error></message>')

    async def on_error_message(self, room: Room | None, msg: Any) -> None:
        """A bounced message: drop the occupant whose client is unreachable (status 333)."""
        if room is None:
            return
        occupant = room.by_jid.get(msg["from"].full)
        if occupant is not None and means_gone(msg.xml):
            sender = msg["from"].full
            await self.occupancy.leave(room, occupant, sender, "",
                                       Change(codes=("307", "333"), exclude={sender}))

    async def on_owner(self, iq: Any) -> Any:
        to = iq["to"]
        if not self._ours(to) or to.resource:
            return None
        room = self.rooms.get(to.bare)
        if room is None:
            raise StanzaError("item-not-found", "there is no such room")
        query = iq.xml.find(f"{{{NS_OWNER}}}query")
        if iq["type"] == "get":
            return await self.config_form.get(iq, room)
        destroy = query.find(f"{{{NS_OWNER}}}destroy") if query is not None else None
        if destroy is not None:
            return await self.destroyer.on_destroy(iq, room, destroy)
        form = query.find(f"{{{NS_DATA}}}x") if query is not None else None
        if form is None:
            raise StanzaError("bad-request", "expected a configuration form or a destroy request")
        return await self.config_form.submit(iq, room, form)

    async def service_items(self, iq: Any) -> Any:
        """The public rooms as the domain's disco#items: those known here (every stored room), and
        the temporary ones the other processes of the domain serve."""
        items = await self.disco.service_items(iq)
        if items is None or self.peer_rooms is None:
            return items
        known = {jid for jid, _node, _name in items}
        elsewhere = [(jid, None, name) for jid, name in await self.peer_rooms.public_temporary_elsewhere()
                     if jid not in known]
        return sorted(items + elsewhere) if elsewhere else items

    async def on_ping(self, iq: Any) -> Any:
        to = iq["to"]
        if not self._ours(to):
            return None
        if to.resource:
            return await self.forwarding.on_iq(iq)
        room = self.rooms.get(to.bare)
        if room is None:
            raise StanzaError("item-not-found", "there is no such room")
        return iq.reply()

