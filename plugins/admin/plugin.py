"""Wiring of the admin plugin: options, commands, the stanza-rate sampler, live reconfiguration."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from component.adhoc import RIGHTS
from component.config import doc
from component.plugin import Plugin

from . import cli, processes
from .commands import service_commands
from .hooks import RECONFIGURE, Reconfigure
from .service import RateMeter


@dataclass
class AdminOptions:
    session_ttl: float = doc("Seconds an unfinished command session lives after its last step "
                             "(for every command of this service).", 600.0)
    stats_interval: float = doc("Seconds between two samples of the stanza counters; "
                                "rates are computed over the last minute.", 10.0)
    room_commands: bool = doc("Offer the room commands when the muc plugin runs on this service.", True)
    export_max_inline: int = doc("Most messages a room export returns inside the command itself; "
                                 "larger archives: `switchboard rooms export`.", 500)
    export_max_inline_chars: int = doc("Most characters of export text inside the command (servers and "
                                       "clients limit stanza sizes).", 200_000)


class AdminPlugin(Plugin):
    name = "admin"
    shares_domain = True  # see docs/scaling.md
    optional_depends = ("muc", "mam")
    Options = AdminOptions
    command_line = cli.COMMANDS

    async def setup(self) -> None:
        self.meter = RateMeter()
        self._sampler: asyncio.Task | None = None
        self.service.commands.SESSION_TTL = self.options.session_ttl
        processes.register(self)  # the other processes serving this domain ask this one too
        for command in service_commands(self):
            self.service.commands.register(command)
        muc = self.hooks.service("muc", None)
        if self.options.room_commands and muc is not None:
            from .room_command import RoomRights
            from .rooms import room_commands

            self.rights = RoomRights(self.service)
            self.hooks.on(RIGHTS, self.rights.answer)
            for command in room_commands(self):
                self.service.commands.register(command)
        self.hooks.on(RECONFIGURE, self._reconfigure)
        self._sampler = asyncio.ensure_future(self._sample())

    async def stop(self) -> None:
        if self._sampler:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler

    async def _sample(self) -> None:
        app = self.service.app
        while True:
            total_in = sum(s.stanzas_in for s in app.services.values())
            total_out = sum(s.stanzas_out for s in app.services.values())
            self.meter.sample(time.monotonic(), total_in, total_out)
            await asyncio.sleep(self.options.stats_interval)

    async def _reconfigure(self, change: Reconfigure) -> Any:
        """Our own options all apply live (room_commands only decides what setup registered)."""
        if change.plugin != self.name:
            return None
        if change.options.room_commands != change.previous.room_commands:
            return None  # commands are registered at start: a restart applies it
        self.options = change.options
        self.service.commands.SESSION_TTL = self.options.session_ttl
        return True
