"""Time-ordered identifiers (ULID layout): 48-bit milliseconds + 80 random bits, Crockford base32.

Sorting ids as strings sorts them by creation time, so an archive keyed by them
pages with an index range scan. Within one process ids are strictly increasing
even when several are made in the same millisecond.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_last = (0, 0)


#: Every 10-bit value as its two characters.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
#: Shifts of the thirteen 10-bit chunks of a 130-bit number, most significant first.
_SHIFTS = range(120, -1, -10)


def _encode(millis: int, rand: int) -> str:
    """26 characters: 10 for the 48-bit time (50 bits), 16 for the 80 random bits, two at a time: an id
    is made for every stored message, ticket event and stanza, thousands a second."""
    value = (millis << 80) | rand
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def new_id(now: float | None = None) -> str:
    global _last
    millis = int((time.time() if now is None else now) * 1000)
    last_millis, last_random = _last
    if millis <= last_millis and now is None:
        millis, rand = last_millis, last_random + 1  # same millisecond: keep increasing
    elif millis == last_millis:
        rand = last_random + 1  # an explicit time in the same millisecond keeps increasing too
    else:
        rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for increments
    _last = (millis, rand)
    return _encode(millis, rand)


def timestamp_of(identifier: str) -> float:
    """Seconds since the epoch encoded in an id (raises ValueError if it is not one)."""
    if len(identifier) != 26:
        raise ValueError("not a time-ordered id")
    value = 0
    for ch in identifier[:10].upper():
        index = _ALPHABET.find(ch)
        if index < 0:
            raise ValueError("not a time-ordered id")
        value = value * 32 + index
    return value / 1000.0
