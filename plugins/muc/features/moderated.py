"""Moderated rooms (XEP-0045 8.3-8.6): visitors without voice; occupants without affiliation
enter as visitors."""

from __future__ import annotations

from ..room import Room
from ..stanza import NS_REQUEST
from . import ConfigField, Feature


class Moderated(Feature):
    config_fields = (
        ConfigField("muc#roomconfig_moderatedroom", "boolean", "Make room moderated", "设为受管理聊天室",
                    "moderated", 50),
    )

    def disco_features(self, room: Room) -> tuple[str, ...]:
        if room.config.moderated:
            return ("muc_moderated", NS_REQUEST)
        return ("muc_unmoderated",)
