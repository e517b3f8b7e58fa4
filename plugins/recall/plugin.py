"""Wiring of the recall plugin: the engine, its public service, the audit command.

The recall service (``hooks.service("recall")``) works on any service with the
archive; rooms get retraction and moderation on top where the MUC plugin runs
(:mod:`plugins.recall.rooms`), as the support queue's 1:1 conversations use
the service without MUC.
"""

from __future__ import annotations

from dataclasses import dataclass

from component.config import ConfigError, doc
from component.plugin import Plugin
from component.storage import create_tables

from .commands import AuditCommand
from .engine import Recall
from .hooks import SERVICE
from .store import TABLES, RecallStore, enable_secure_delete


@dataclass
class RecallOptions:
    window_seconds: int = doc(
        "How long after sending a participant may retract their own message, in seconds "
        "(e.g. 120 as common IM apps do); 0 = no limit. Rooms may override it in their "
        "configuration; owners and admins are not limited, nor are moderators removing messages.", 0)
    wal_checkpoint: bool = doc(
        "After each removal (coalesced when several come together): on SQLite, checkpoint and truncate "
        "the write-ahead log so the removed text does not linger in the -wal file; on PostgreSQL, VACUUM "
        "the archive table so the old row versions holding it are pruned.", True)

    def __post_init__(self) -> None:
        if self.window_seconds < 0:
            raise ConfigError("<config>", "window_seconds", "must be 0 (no limit) or a positive number of seconds")


class RecallPlugin(Plugin):
    name = "recall"
    shares_domain = True  # see docs/scaling.md
    depends = ("mam",)
    optional_depends = ("muc",)
    Options = RecallOptions
    migrations = (create_tables(*TABLES),)

    async def setup(self) -> None:
        self.store = RecallStore(self.db)
        enable_secure_delete(self.db)
        self.recall = Recall(self.hooks, self.store, self.options.window_seconds,
                             await self.store.room_windows(), checkpoint=self.options.wal_checkpoint)
        self.hooks.provide(SERVICE, self.recall)
        self.rooms = None
        if self.hooks.service("muc", None) is not None:
            from .rooms import RoomRecall
            self.rooms = RoomRecall(self)
            self.rooms.setup()
        self.service.commands.register(AuditCommand(self.store))

    async def stop(self) -> None:
        await self.recall.flush()
