"""Visitor identity claims signed by the website (pure, no I/O).

The site computes ``HMAC-SHA256(key, canonical)`` in hex, where ``canonical`` is the claims it
sends (``name``, ``email``, ``order``, ``ts``), each as ``key=value``, sorted by key, joined by
``\\n`` (an absent or empty claim is left out). ``ts`` is the signing time in seconds since the
epoch; a signature older than the allowed age, or made without a key on our side, never verifies.
"""

from __future__ import annotations

import hashlib
import hmac

CLAIMS = ("email", "name", "order")
MAX_CLAIM = 200


def canonical(claims: dict[str, str]) -> bytes:
    return "\n".join(f"{k}={claims[k]}" for k in sorted(claims) if claims.get(k)).encode()


def sign(key: bytes, claims: dict[str, str]) -> str:
    return hmac.new(key, canonical(claims), hashlib.sha256).hexdigest()


def verify(key: bytes, claims: dict[str, str], signature: str, now: float, max_age: float) -> bool:
    """True only with a key, a fresh timestamp and a matching signature."""
    if not key or not signature:
        return False
    try:
        ts = float(claims.get("ts", ""))
    except ValueError:
        return False
    if not (now - max_age <= ts <= now + 300):  # a little clock skew allowed
        return False
    return hmac.compare_digest(sign(key, claims), signature.strip().lower())
