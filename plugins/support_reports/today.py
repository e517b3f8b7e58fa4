"""Today's figures of a queue for the live monitor, as last read from the recorded events.

The monitor's item shows them beside the live state (``feed.today_element``); reading them costs a
query over the day's conversations, so they are kept per queue and day and read again only when
the feed asks (pubsub.py: at most once a second per queue, in the background).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from .feed import service_level, today_element
from .metrics import queue_figures
from .service import today_range

if TYPE_CHECKING:
    from .plugin import ReportsPlugin


class TodayFigures:
    def __init__(self, plugin: "ReportsPlugin") -> None:
        self.plugin = plugin
        #: queue -> (day, when read (monotonic), figures)
        self._kept: dict[str, tuple[str, float, Element]] = {}

    async def get(self, queue: str) -> Element:
        """As last read, or read now on the queue's first use of the day."""
        kept = self._kept.get(queue)
        if kept and kept[0] == self.plugin.day_of(self.plugin.now()):
            return kept[2]
        return await self.read(queue)

    def age(self, queue: str) -> float | None:
        """Seconds since the figures were last read (None: never)."""
        kept = self._kept.get(queue)
        return time.monotonic() - kept[1] if kept else None

    async def read(self, queue: str) -> Element:
        options = self.plugin.options
        now = self.plugin.now()
        since, until = today_range(options.tz, now)
        convs = await self.plugin.reports.conversations(since, until, queue)
        within, settled = service_level(convs, options.service_level_seconds)
        day = self.plugin.day_of(now)
        element = today_element(Element("holder"), queue_figures(convs), within, settled,
                                options.service_level_seconds, day)
        self._kept[queue] = (day, time.monotonic(), element)
        return element
