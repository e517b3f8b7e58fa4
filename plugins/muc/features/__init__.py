"""Room features, one small module each (after Prosody's ``plugins/muc/*.lib.lua``).

A feature is a :class:`Feature` subclass built with the :class:`plugins.muc.host.RoomHost`
(never the plugin). It declares its configuration form fields and hooks the room
events it cares about (:mod:`plugins.muc.events`) in :meth:`Feature.hook`; the
overridable methods below are hooked for it when a subclass defines them. Features
never call each other: they fire events, and the host's request methods are events too.
A new feature is one file plus its tests, listed in ``plugin.FEATURES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

from ..events import (CONFIG_CHANGED, DISCO_FEATURES, PRE_JOIN, ROOMINFO, JoinRequest)

if TYPE_CHECKING:
    from component.hooks import HookBus

    from ..host import RoomHost
    from ..room import Room, RoomConfig

__all__ = ["ConfigField", "Feature", "JoinRequest"]


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


class Feature:
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()
    #: Where this feature's check_join runs among the PRE_JOIN handlers (see plugins.muc.events).
    join_priority: ClassVar[int] = 0

    def __init__(self, host: "RoomHost") -> None:
        self.host = host

    def hook(self, events: "HookBus") -> None:
        """Subscribe to room events; the base subscribes the methods a subclass overrides."""
        self.host.config_fields.extend(self.config_fields)
        overridden = {name for name in ("disco_features", "roominfo", "check_join", "config_changed")
                      if getattr(type(self), name) is not getattr(Feature, name)}
        if "disco_features" in overridden:
            events.on(DISCO_FEATURES, self.disco_features)
        if "roominfo" in overridden:
            events.on(ROOMINFO, self.roominfo)
        if "check_join" in overridden:
            events.on(PRE_JOIN, self.check_join, priority=self.join_priority)
        if "config_changed" in overridden:
            events.on(CONFIG_CHANGED, self.config_changed)

    def disco_features(self, room: "Room") -> Iterable[str]:
        return ()

    def roominfo(self, room: "Room") -> Iterable[tuple[str, str, str, Any]]:
        """(var, type, label, value) for the muc#roominfo form."""
        return ()

    def check_join(self, join: JoinRequest) -> None:
        """Raise a StanzaError to refuse the join."""

    async def config_changed(self, room: "Room", old: "RoomConfig", actor: str) -> None:
        """React after a new configuration was applied."""
