"""An aioxmpp client for the MUC tests: plaintext login on the loopback server, and its MUC client."""

from __future__ import annotations

import asyncio
from typing import Any

import aioxmpp
import aioxmpp.muc

from ..aioxmpp_client import client  # noqa: F401 - the tests' login helper


class Events:
    """Collects a room's signals as (name, args, kwargs), to await the next one of a kind."""

    SIGNALS = ("on_message", "on_join", "on_leave", "on_exit", "on_nick_changed", "on_topic_changed",
               "on_muc_role_changed", "on_muc_affiliation_changed", "on_muc_enter")

    def __init__(self, room: aioxmpp.muc.Room) -> None:
        self.items: list[tuple[str, tuple, dict]] = []
        self._changed = asyncio.Event()
        for name in self.SIGNALS:
            signal = getattr(room, name, None)
            if signal is not None:
                signal.connect(self._collector(name))

    def _collector(self, name: str):  # type: ignore[no-untyped-def]
        def collect(*args: Any, **kwargs: Any) -> None:
            self.items.append((name, args, kwargs))
            self._changed.set()
        return collect

    async def next(self, name: str, predicate: Any = lambda *a, **k: True, timeout: float = 10) -> tuple:
        async def find() -> tuple:
            while True:
                for i, (kind, args, kwargs) in enumerate(self.items):
                    if kind == name and predicate(*args, **kwargs):
                        del self.items[i]
                        return args, kwargs
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(find(), timeout)
