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

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
