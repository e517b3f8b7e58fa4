"""Archive ids at time boundaries: ids are time-ordered (milliseconds first, Crockford base32),
so a time range of the archive is a range of ids."""

from __future__ import annotations

import math
import re

#: Crockford's base32, the alphabet of archive ids.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ARCHIVE_ID = re.compile(f"[{_ALPHABET}]{{26}}")
_MAX_MILLIS = (1 << 50) - 1


def id_at(millis: int) -> str:
    """The smallest archive id of a millisecond: ids of that instant or later sort at or after it."""
    millis = min(max(millis, 0), _MAX_MILLIS)
    chars = []
    for _ in range(10):
        chars.append(_ALPHABET[millis & 31])
        millis >>= 5
    return "".join(reversed(chars)) + "0" * 16


def _millis(timestamp: float) -> float:
    return round(timestamp * 1000, 3)  # absorbs binary noise of decimal stamps


def lower_id(start: float) -> str:
    """Ids of messages at or after ``start`` are >= this."""
    return id_at(math.ceil(_millis(start)))


def upper_id(end: float) -> str:
    """Ids of messages at or before ``end`` are < this."""
    return id_at(math.floor(_millis(end)) + 1)
