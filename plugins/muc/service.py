"""The rooms of one MUC service: creation policy, occupant ids, the public service (pure logic).

Nothing here sends stanzas or touches the database; the plugin wires it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol
from xml.etree.ElementTree import Element, fromstring

from component.errors import StanzaError

from .hooks import HistoryItem, OccupantView
from .room import Occupant, Room, RoomConfig

if TYPE_CHECKING:
    from .plugin import MucOptions


@dataclass
class Policy:
    creation: str = "anyone"      # anyone | local | admins
    local_domain: str = ""
    max_rooms_per_user: int = 0   # 0: no limit
    lock_new_rooms: bool = True


class Rooms:
    """Every room of the service, by bare JID."""

    def __init__(self, domain: str, options: "MucOptions", is_service_admin: Callable[[str], bool],
                 secret: str = "") -> None:
        self.domain = domain
        self.options = options
        self.is_service_admin = is_service_admin
        self.rooms: dict[str, Room] = {}
        self.secret = secret.encode()
        local = options.local_domain or (domain.split(".", 1)[1] if "." in domain else domain)
        self.policy = Policy(options.creation, local, options.max_rooms_per_user, options.lock_new_rooms)

    def get(self, jid: str) -> Room | None:
        return self.rooms.get(jid)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rooms.values())

    def __len__(self) -> int:
        return len(self.rooms)

    # -- creation -------------------------------------------------------------
    def default_config(self) -> RoomConfig:
        o = self.options
        archiving = o.default_archiving == "on" or (o.default_archiving == "persistent" and o.default_persistent)
        return RoomConfig(persistent=o.default_persistent, public=o.default_public,
                          members_only=o.default_members_only, moderated=o.default_moderated,
                          whois=o.default_whois, allow_pm=o.default_allow_pm, allow_invites=o.default_allow_invites,
                          change_subject=o.default_change_subject, max_users=o.default_max_users,
                          archiving=archiving, history_length=o.history_length)

    def check_may_create(self, creator_bare: str) -> None:
        if self.is_service_admin(creator_bare):
            return
        policy = self.policy
        if policy.creation == "admins":
            raise StanzaError("not-allowed", "only service administrators can create rooms here")
        if policy.creation == "local" and creator_bare.rpartition("@")[2] != policy.local_domain:
            raise StanzaError("not-allowed", f"only users of {policy.local_domain} can create rooms here")
        if policy.max_rooms_per_user:
            owned = sum(1 for room in self.rooms.values() if room.affiliations.get(creator_bare) == "owner")
            if owned >= policy.max_rooms_per_user:
                raise StanzaError("not-allowed", f"you already own {owned} rooms, the most allowed here")

    def new_room(self, jid: str, config: RoomConfig | None = None, locked: bool = False) -> Room:
        room = Room(jid, config or self.default_config(), locked=locked, is_service_admin=self.is_service_admin,
                    history_capacity=max(self.options.max_history_fetch, self.options.history_length))
        self.rooms[jid] = room
        return room

    def create(self, jid: str, creator_bare: str) -> Room:
        self.check_may_create(creator_bare)
        room = self.new_room(jid, locked=self.policy.lock_new_rooms)
        room.set_affiliation(creator_bare, "owner")
        return room

    def remove(self, jid: str) -> Room | None:
        room = self.rooms.pop(jid, None)
        if room is not None:
            room.destroyed = True
        return room

    def public_rooms(self) -> list[Room]:
        return sorted((r for r in self.rooms.values() if r.config.public and not r.locked), key=lambda r: r.jid)

    # -- identities ------------------------------------------------------------
    def occupant_id(self, room: str, bare_jid: str) -> str:
        """XEP-0421: stable per (room, real bare JID), unique, and reveals nothing about the JID."""
        digest = hmac.new(self.secret, f"{room}\0{bare_jid}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()


def view(room: Room, occupant: Occupant, session_jid: str | None = None) -> OccupantView:
    return OccupantView(room=room.jid, nick=occupant.nick,
                        real_jid=session_jid or occupant.primary.jid,
                        occupant_id=occupant.occupant_id, role=occupant.role, affiliation=occupant.affiliation)


class Operations(Protocol):
    """What the public service needs from the plugin for its administrative methods."""

    async def broadcast_from_room(self, room: str, payload: list[Element], archive: bool = True) -> str: ...
    async def create_room(self, room: str, owner: str, config: dict[str, Any], actor: str) -> None: ...
    async def configure_room(self, room: str, config: dict[str, Any], actor: str) -> None: ...
    async def destroy_room(self, room: str, reason: str, alternate: str, actor: str) -> None: ...
    async def set_affiliation(self, room: str, jid: str, affiliation: str, actor: str, reason: str) -> None: ...


class PublicMuc:
    """The ``hooks.service("muc")`` object other plugins use (see hooks.MucService)."""

    def __init__(self, rooms: Rooms, operations: Operations) -> None:
        self._rooms = rooms
        self._operations = operations

    def _room(self, room: str) -> Room | None:
        return self._rooms.get(room)

    def room_exists(self, room: str) -> bool:
        return self._rooms.get(room) is not None

    def rooms(self) -> Iterable[str]:
        return list(self._rooms.rooms)

    def room_config(self, room: str) -> dict[str, Any]:
        found = self._room(room)
        return config_fields(found.config) if found else {}

    def affiliation(self, room: str, bare_jid: str) -> str:
        found = self._room(room)
        return found.affiliation(bare_jid) if found else "none"

    def occupant(self, room: str, real_full_jid: str) -> OccupantView | None:
        found = self._room(room)
        if found is None:
            return None
        occupant = found.by_jid.get(str(real_full_jid))
        return view(found, occupant, str(real_full_jid)) if occupant else None

    def occupant_by_nick(self, room: str, nick: str) -> OccupantView | None:
        found = self._room(room)
        occupant = found.occupants.get(nick) if found else None
        return view(found, occupant) if found and occupant else None

    def occupants(self, room: str) -> list[OccupantView]:
        found = self._room(room)
        return [view(found, o) for o in found.occupants.values()] if found else []

    def occupant_id(self, room: str, real_bare_jid: str) -> str:
        return self._rooms.occupant_id(room, real_bare_jid)

    def can_read_history(self, room: str, bare_jid: str) -> bool:
        found = self._room(room)
        if found is None:
            return False
        affiliation = found.affiliation(bare_jid)
        if affiliation == "outcast":
            return False
        if found.config.members_only and affiliation == "none":
            return False
        return True

    def can_see_real_jids(self, room: str, bare_jid: str) -> bool:
        found = self._room(room)
        if found is None:
            return False
        if found.config.non_anonymous or found.affiliation(bare_jid) in ("owner", "admin"):
            return True
        return any(o.role == "moderator" for o in found.occupants_of(bare_jid))

    async def broadcast_from_room(self, room: str, payload: list[Element], archive: bool = True) -> str:
        return await self._operations.broadcast_from_room(str(room), payload, archive)

    def recent_message(self, room: str, stanza_id: str) -> HistoryItem | None:
        found = self._room(room)
        entry = found.find_history(stanza_id) if found else None
        if entry is None:
            return None
        return HistoryItem(stanza=fromstring(entry.xml), timestamp=entry.timestamp)

    def forget_message(self, room: str, stanza_id: str) -> bool:
        found = self._room(room)
        return found.forget_history(stanza_id) if found else False

    # -- administration (service administrators' tools; rights are the caller's business) --
    def affiliations(self, room: str) -> dict[str, str]:
        """Every affiliated bare JID of the room (owner/admin/member/outcast)."""
        found = self._room(room)
        return dict(found.affiliations) if found else {}

    def rooms_owned_by(self, bare_jid: str) -> list[str]:
        return sorted(r.jid for r in self._rooms if r.affiliations.get(str(bare_jid)) == "owner")

    async def create_room(self, room: str, owner: str | None = None, config: dict[str, Any] | None = None,
                          actor: str = "") -> None:
        """Create a room already configured (not locked); ``config`` by muc#roomconfig_* names.

        Raises StanzaError conflict when it exists, not-acceptable for an invalid value.
        """
        await self._operations.create_room(str(room), str(owner or actor), dict(config or {}), str(actor))

    async def configure_room(self, room: str, config: dict[str, Any], actor: str = "") -> None:
        """Change a room's configuration as its owner's form would (``config`` by muc#roomconfig_*
        names, only those given change): occupants told (104), non-members removed when it becomes
        members-only. Raises StanzaError not-acceptable for an invalid value."""
        await self._operations.configure_room(str(room), dict(config), str(actor))

    async def destroy_room(self, room: str, reason: str = "", alternate: str = "", actor: str = "") -> None:
        await self._operations.destroy_room(str(room), reason, str(alternate or ""), str(actor))

    async def set_affiliation(self, room: str, jid: str, affiliation: str, actor: str = "",
                              reason: str = "") -> None:
        """Change an affiliation as the service would (occupants updated, last owner kept: conflict)."""
        await self._operations.set_affiliation(str(room), str(jid), affiliation, str(actor), reason)


def config_fields(config: RoomConfig) -> dict[str, Any]:
    """The room configuration by ``muc#roomconfig_*`` names (what RoomEvent.config carries)."""
    return {
        "muc#roomconfig_roomname": config.name,
        "muc#roomconfig_roomdesc": config.description,
        "muc#roomconfig_lang": config.lang,
        "muc#roomconfig_persistentroom": config.persistent,
        "muc#roomconfig_publicroom": config.public,
        "muc#roomconfig_membersonly": config.members_only,
        "muc#roomconfig_moderatedroom": config.moderated,
        "muc#roomconfig_whois": config.whois,
        "muc#roomconfig_passwordprotectedroom": config.needs_password,
        "muc#roomconfig_changesubject": config.change_subject,
        "muc#roomconfig_allowinvites": config.allow_invites,
        "muc#roomconfig_allowpm": config.allow_pm,
        "muc#roomconfig_maxusers": config.max_users,
        "muc#roomconfig_presencebroadcast": list(config.presence_broadcast),
        "muc#roomconfig_getmemberlist": list(config.get_member_list),
        "muc#roomconfig_enablearchiving": config.archiving,
        "muc#roomconfig_historylength": config.history_length,
    }
