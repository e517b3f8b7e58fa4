"""The room commands, in the order they are listed (see room_command.py for what they share)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from component.adhoc import Command

from .room_archive import RoomExportCommand, RoomPurgeCommand
from .room_changes import RoomAffiliationCommand, RoomAnnounceCommand, RoomCreateCommand, RoomDestroyCommand
from .room_views import RoomInfoCommand, RoomsListCommand, RoomStatsCommand

if TYPE_CHECKING:
    from .plugin import AdminPlugin


def room_commands(plugin: "AdminPlugin") -> list[Command]:
    return [RoomsListCommand(plugin), RoomInfoCommand(plugin), RoomStatsCommand(plugin), RoomCreateCommand(plugin),
            RoomDestroyCommand(plugin), RoomAffiliationCommand(plugin), RoomAnnounceCommand(plugin),
            RoomPurgeCommand(plugin), RoomExportCommand(plugin)]
