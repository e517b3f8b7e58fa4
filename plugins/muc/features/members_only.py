"""Members-only rooms (XEP-0045 7.2.7): non-members get registration-required; making a room
members-only removes the non-members present (status 322)."""

from __future__ import annotations

from component.errors import StanzaError

from ..room import Room, RoomConfig
from ..stanza import REMOVED_MEMBERS_ONLY
from ..events import MEMBERS_ONLY
from . import ConfigField, Feature, JoinRequest


class MembersOnly(Feature):
    join_priority = MEMBERS_ONLY
    config_fields = (
        ConfigField("muc#roomconfig_membersonly", "boolean", "Make room members-only", "仅限成员进入",
                    "members_only", 40),
    )

    def disco_features(self, room: Room) -> tuple[str, ...]:
        return ("muc_membersonly" if room.config.members_only else "muc_open",)

    def check_join(self, join: JoinRequest) -> None:
        if join.room.config.members_only and join.affiliation == "none":
            raise StanzaError("registration-required", "this room is for members only")

    async def config_changed(self, room: Room, old: RoomConfig, actor: str) -> None:
        if room.config.members_only and not old.members_only:
            for occupant in list(room.occupants.values()):
                if occupant.affiliation == "none":
                    await self.host.kick_for_affiliation(room, occupant, REMOVED_MEMBERS_ONLY)
