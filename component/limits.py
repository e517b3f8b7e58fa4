"""Per-service input limits checked before any plugin sees a stanza.

Flood control is a token bucket per sender (bare JID) for messages; size limits
bound the body and the element nesting depth. A refused stanza gets
``policy-violation`` (too big, too deep) or ``resource-constraint`` (too fast),
as RFC 6120 8.3.3 describes them, and never reaches a plugin.
"""

from __future__ import annotations

import time
from typing import Any
from xml.etree.ElementTree import Element

from .config import LimitsConfig
from .errors import StanzaError


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class Limiter:
    def __init__(self, config: LimitsConfig) -> None:
        self.config = config
        self._buckets: dict[str, _Bucket] = {}
        self._last_sweep = time.monotonic()

    def check_shape(self, xml: Element) -> None:
        config = self.config
        count = 0
        stack = [(xml, 0)]
        while stack:
            element, depth = stack.pop()
            if depth > config.max_depth:
                raise StanzaError("policy-violation", f"elements nested deeper than {config.max_depth} levels")
            for child in element:
                count += 1
                if count > config.max_children:
                    raise StanzaError("policy-violation", f"more than {config.max_children} elements")
                stack.append((child, depth + 1))

    def check_message(self, sender: str, body: str | None) -> None:
        config = self.config
        if config.max_body_chars and body and len(body) > config.max_body_chars:
            raise StanzaError("policy-violation", f"message body longer than {config.max_body_chars} characters")
        if config.message_rate <= 0:
            return
        now = time.monotonic()
        bucket = self._buckets.get(sender)
        if bucket is None:
            bucket = self._buckets[sender] = _Bucket(float(config.message_burst), now)
        else:
            bucket.tokens = min(config.message_burst, bucket.tokens + (now - bucket.stamp) * config.message_rate)
            bucket.stamp = now
        if bucket.tokens < 1:
            raise StanzaError("resource-constraint", "you are sending messages too fast; slow down")
        bucket.tokens -= 1
        if now - self._last_sweep > 60:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        # Full buckets carry no information: forget them so memory stays bounded.
        full_after = self.config.message_burst / self.config.message_rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.stamp < full_after}
        self._last_sweep = now

    def stats(self) -> dict[str, Any]:
        return {"tracked_senders": len(self._buckets)}
