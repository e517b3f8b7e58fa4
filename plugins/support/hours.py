"""Business hours and holidays of a queue, in the queue's time zone (pure, no I/O).

Opening hours are lines such as ``"mon-fri 09:00-18:00"``, ``"sat 10:00-12:00 13:00-16:00"``,
``"daily 08:00-20:00"`` or ``"fri 22:00-02:00"`` (a range past midnight ends on the next day).
Holidays are local dates ``"2025-10-01"`` or ranges ``"2025-10-01..2025-10-07"``; a holiday
closes the whole date. No hours at all means always open (holidays still close).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from component.texts import is_zh

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_NAMES_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_ALL_DAYS = ("daily", "everyday", "all", "*")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
#: How far ahead the next opening is looked for (a year of holidays at most).
_HORIZON_DAYS = 400


class HoursError(ValueError):
    """An opening-hours line, a holiday or a time zone that cannot be understood."""


@dataclass(frozen=True)
class Span:
    day: int        #: 0 = Monday
    start: int      #: minutes after local midnight
    end: int        #: minutes after local midnight, at most 1440


@dataclass(frozen=True)
class Rule:
    days: tuple[int, ...]
    ranges: tuple[tuple[int, int], ...]   #: (start, end) minutes; end <= start means past midnight


def _days(spec: str) -> tuple[int, ...]:
    spec = spec.lower()
    if spec in _ALL_DAYS:
        return tuple(range(7))
    found: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise HoursError(f"unknown day {part!r} (use mon, tue, wed, thu, fri, sat, sun, ranges like mon-fri, "
                             f"or daily)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        found.extend(d for d in span if d not in found)
    return tuple(found)


def _minutes(hours: str, minutes: str, line: str) -> int:
    h, m = int(hours), int(minutes)
    if h > 24 or m > 59 or (h == 24 and m):
        raise HoursError(f"invalid time in {line!r}")
    return h * 60 + m


def parse_rule(line: str) -> Rule:
    tokens = [t for t in line.replace(",", " , ").split() if t != ","]
    # Days come first ("mon-fri", "mon,wed", "mon, wed"), then the time ranges.
    first_range = next((i for i, t in enumerate(tokens) if t[:1].isdigit()), len(tokens))
    if first_range == 0 or first_range == len(tokens):
        raise HoursError(f"opening hours {line!r}: expected days then ranges, e.g. 'mon-fri 09:00-18:00'")
    days = _days(",".join(tokens[:first_range]))
    ranges = []
    for part in tokens[first_range:]:
        match = _RANGE.match(part)
        if not match:
            raise HoursError(f"opening hours {line!r}: {part!r} is not a range like 09:00-18:00")
        start = _minutes(match[1], match[2], line)
        end = _minutes(match[3], match[4], line)
        if start == end or start == 1440:
            raise HoursError(f"opening hours {line!r}: empty range {part!r}")
        ranges.append((start, end))
    return Rule(days, tuple(ranges))


def parse_holiday(spec: str) -> tuple[date, date]:
    first, _, last = spec.strip().partition("..")
    try:
        a = date.fromisoformat(first.strip())
        b = date.fromisoformat(last.strip()) if last else a
    except ValueError as exc:
        raise HoursError(f"holiday {spec!r}: expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD") from exc
    if b < a:
        raise HoursError(f"holiday {spec!r}: the range ends before it starts")
    return a, b


class Calendar:
    def __init__(self, hours: list[str] | tuple[str, ...] = (), holidays: list[str] | tuple[str, ...] = (),
                 timezone: str = "UTC") -> None:
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise HoursError(f"unknown time zone {timezone!r} (use an IANA name such as Asia/Shanghai)") from exc
        self.timezone = timezone
        self.rules = [parse_rule(line) for line in hours]
        self.holidays = [parse_holiday(h) for h in holidays]
        self.spans: dict[int, list[Span]] = {d: [] for d in range(7)}
        for rule in self.rules:
            for day in rule.days:
                for start, end in rule.ranges:
                    if end > start:
                        self.spans[day].append(Span(day, start, end))
                    else:  # past midnight: the rest of this day and the start of the next
                        self.spans[day].append(Span(day, start, 1440))
                        if end:
                            self.spans[(day + 1) % 7].append(Span((day + 1) % 7, 0, end))
        for spans in self.spans.values():
            spans.sort(key=lambda s: s.start)

    @property
    def always_open(self) -> bool:
        return not self.rules and not self.holidays

    def is_holiday(self, day: date) -> bool:
        return any(a <= day <= b for a, b in self.holidays)

    def is_open(self, ts: float) -> bool:
        if self.always_open:
            return True
        local = datetime.fromtimestamp(ts, self.zone)
        if self.is_holiday(local.date()):
            return False
        if not self.rules:
            return True
        minute = local.hour * 60 + local.minute
        return any(s.start <= minute < s.end for s in self.spans[local.weekday()])

    def next_open(self, ts: float) -> float | None:
        """When the queue opens next (``ts`` itself when open now); None if never within a year."""
        if self.is_open(ts):
            return ts
        local = datetime.fromtimestamp(ts, self.zone)
        for offset in range(_HORIZON_DAYS):
            day = local.date() + timedelta(days=offset)
            if self.is_holiday(day):
                continue
            starts = [0] if not self.rules else [s.start for s in self.spans[day.weekday()]]
            for start in starts:
                moment = datetime.combine(day, time(start // 60, start % 60), self.zone).timestamp()
                if moment > ts and self.is_open(moment):
                    return moment
        return None

    def local_time(self, ts: float, lang: str) -> str:
        local = datetime.fromtimestamp(ts, self.zone)
        names = DAY_NAMES_ZH if is_zh(lang) else DAY_NAMES_EN
        return f"{names[local.weekday()]} {local:%Y-%m-%d %H:%M}"

    def describe(self, lang: str) -> str:
        """The opening hours as one line, e.g. ``Mon–Fri 09:00–18:00; Sat 10:00–14:00 (Asia/Shanghai)``."""
        zh = is_zh(lang)
        names = DAY_NAMES_ZH if zh else DAY_NAMES_EN
        if not self.rules:
            return ("全天" if zh else "all day") + f" ({self.timezone})"
        parts = []
        for rule in self.rules:
            days = rule.days
            contiguous = len(days) > 2 and all(days[i + 1] == (days[i] + 1) % 7 for i in range(len(days) - 1))
            if len(days) == 7:
                label = "每天" if zh else "Daily"
            elif contiguous:
                label = f"{names[days[0]]}{'至' if zh else '–'}{names[days[-1]]}"
            else:
                label = ("、" if zh else ", ").join(names[d] for d in days)
            ranges = " ".join(f"{s // 60:02d}:{s % 60:02d}–{e // 60:02d}:{e % 60:02d}" for s, e in rule.ranges)
            parts.append(f"{label} {ranges}")
        return ("；" if zh else "; ").join(parts) + f" ({self.timezone})"
