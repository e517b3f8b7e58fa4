"""Room features, one small module each (after Prosody's ``plugins/muc/*.lib.lua``).

A feature is a :class:`Feature` subclass: it may declare configuration form
fields, add disco features and ``muc#roominfo`` fields, veto a join, and react
to a configuration change. The plugin asks every feature in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

if TYPE_CHECKING:
    from ..plugin import MucPlugin
    from ..room import Room, RoomConfig


@dataclass(frozen=True)
class ConfigField:
    """One ``muc#roomconfig_*`` field backed by a RoomConfig attribute."""

    var: str
    ftype: str
    label: str
    label_zh: str
    attr: str
    order: int
    options: tuple[tuple[str, str, str], ...] = ()  # (value, label, label_zh)


@dataclass
class JoinRequest:
    room: "Room"
    nick: str
    real_jid: str
    bare_jid: str
    affiliation: str
    password: str | None
    new_occupant: bool  # False: another session of an existing occupant


class Feature:
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()

    def __init__(self, muc: "MucPlugin") -> None:
        self.muc = muc

    def disco_features(self, room: "Room") -> Iterable[str]:
        return ()

    def roominfo(self, room: "Room") -> Iterable[tuple[str, str, str, Any]]:
        """(var, type, label, value) for the muc#roominfo form."""
        return ()

    def check_join(self, join: JoinRequest) -> None:
        """Raise a StanzaError to refuse the join."""

    async def config_changed(self, room: "Room", old: "RoomConfig", actor: str) -> None:
        """React after a new configuration was applied."""
