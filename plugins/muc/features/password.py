"""Password-protected rooms (XEP-0045 7.2.6): not-authorized without the right password."""

from __future__ import annotations

from component.errors import StanzaError

from ..events import PASSWORD
from ..room import Room
from . import ConfigField, Feature, JoinRequest


class Password(Feature):
    join_priority = PASSWORD
    config_fields = (
        ConfigField("muc#roomconfig_passwordprotectedroom", "boolean", "Password required to enter",
                    "进入需要密码", "password_protected", 60),
        ConfigField("muc#roomconfig_roomsecret", "text-private", "Password", "密码", "password", 61),
    )

    def disco_features(self, room: Room) -> tuple[str, ...]:
        return ("muc_passwordprotected" if room.config.needs_password else "muc_unsecured",)

    def check_join(self, join: JoinRequest) -> None:
        config = join.room.config
        if config.needs_password and join.new_occupant and join.password != config.password:
            raise StanzaError("not-authorized", "a password is required to enter this room" if not join.password
                              else "the password is wrong")
