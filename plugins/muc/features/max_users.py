"""Room capacity (muc#roomconfig_maxusers, XEP-0045 7.2.10): service-unavailable when full.
Admins and owners may always enter."""

from __future__ import annotations

from component.errors import StanzaError

from ..events import CAPACITY
from . import ConfigField, Feature, JoinRequest

CHOICES = ("10", "20", "30", "50", "100", "none")


class MaxUsers(Feature):
    join_priority = CAPACITY
    config_fields = (
        ConfigField("muc#roomconfig_maxusers", "list-single", "Maximum number of occupants", "最多成员数",
                    "max_users", 100, tuple((c, c if c != "none" else "No limit", c if c != "none" else "不限")
                                            for c in CHOICES)),
    )

    def check_join(self, join: JoinRequest) -> None:
        limit = join.room.config.max_users
        if (limit and join.new_occupant and len(join.room.occupants) >= limit
                and join.affiliation not in ("owner", "admin")):
            raise StanzaError("service-unavailable", "this room is full")

    def roominfo(self, room):  # type: ignore[no-untyped-def]
        if room.config.max_users:
            return (("muc#roominfo_maxusers", "text-single", "Maximum number of occupants",
                     str(room.config.max_users)),)
        return ()
