"""Options of the monitor and reports (validated strictly from TOML)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from component.config import ConfigError, doc


@dataclass
class ReportsOptions:
    timezone: str = doc("Time zone of report days and weeks and of monitor clocks (IANA name, e.g. "
                        "Asia/Shanghai).", "UTC")
    default_days: int = doc("Days a report covers when no start date is given (ending today).", 7)
    max_days: int = doc("The longest range, in days, a report command accepts.", 366)
    monitor_rows: int = doc("Rows shown per monitor section (chat) or table (command).", 50)
    service_level_seconds: float = doc("Today's service level on the live monitor feed: the share of customers "
                                       "answered within this many seconds of reaching the queue (over those "
                                       "answered or abandoned).", 60.0)
    feed_delay: float = doc("Seconds the live monitor feed waits after a change before publishing, so that a "
                            "burst of changes makes one notification.", 0.25)
    feed_check: float = doc("Seconds between the feed's checks for changes that no event announces (business "
                            "hours opening, say), while someone is subscribed.", 2.0)
    lang: Literal["en", "zh"] = doc("Language of monitor and report texts when a request carries no xml:lang.",
                                    "en")

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError("<config>", "timezone", f"unknown time zone {self.timezone!r}") from exc
        for key in ("default_days", "max_days", "monitor_rows"):
            if getattr(self, key) < 1:
                raise ConfigError("<config>", key, "must be at least 1")
        if self.service_level_seconds <= 0:
            raise ConfigError("<config>", "service_level_seconds", "must be positive")
        if not 0 <= self.feed_delay <= 2:
            raise ConfigError("<config>", "feed_delay", "must be between 0 and 2 seconds")
        if not 0.2 <= self.feed_check <= 60:
            raise ConfigError("<config>", "feed_check", "must be between 0.2 and 60 seconds")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
