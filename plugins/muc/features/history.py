"""Discussion history sent on join (XEP-0045 section 7.2.14).

The archive answers ``muc.get_history`` when it runs; otherwise (or when it
passes) the room's in-memory history serves. Messages broadcast while the
archive was being asked are appended, so a joining client sees no gap.
"""

from __future__ import annotations

import time
from typing import Any
from xml.etree.ElementTree import Element

from .. import hooks
from ..events import JOIN_HISTORY
from ..room import Room
from ..stanza import NS_SID, parse_stamp, serialize, with_delay
from . import ConfigField, Feature


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return max(number, 0)


def limit(items: list[tuple[str, float]], maxstanzas: int | None, maxchars: int | None,
          cutoff: float | None) -> list[tuple[str, float]]:
    """Newest items within the limits, oldest first (maxchars counts the full XML, as the XEP says)."""
    kept: list[tuple[str, float]] = []
    chars = 0
    for xml, ts in reversed(items):
        if maxstanzas is not None and len(kept) >= maxstanzas:
            break
        if cutoff is not None and ts < cutoff:
            break
        if maxchars is not None:
            chars += len(xml)
            if chars > maxchars:
                break
        kept.append((xml, ts))
    kept.reverse()
    return kept


def _stanza_id(elem: Element, room: str) -> str:
    for child in elem.iter(f"{{{NS_SID}}}stanza-id"):
        if child.get("by") == room:
            return child.get("id", "")
    return ""


class History(Feature):
    config_fields = (
        ConfigField("muc#roomconfig_historylength", "text-single", "Maximum number of history messages returned",
                    "加入时返回的最多历史消息数", "history_length", 150),
    )

    def hook(self, events: Any) -> None:
        super().hook(events)
        events.on(JOIN_HISTORY, self.fetch)

    async def fetch(self, room: Room, requester: str, request: Element | None) -> list[str]:
        """The history for a joining session, serialized without ``to``, each with its delay."""
        maxstanzas = maxchars = seconds = None
        since = None
        if request is not None:
            maxstanzas = _int(request.get("maxstanzas"))
            maxchars = _int(request.get("maxchars"))
            seconds = _int(request.get("seconds"))
            if request.get("since"):
                since = parse_stamp(request.get("since", ""))
        default_max = min(room.config.history_length, self.host.options.max_history_fetch)
        if maxstanzas == 0 or maxchars == 0 or default_max == 0:
            return []
        if maxstanzas is not None:
            maxstanzas = min(maxstanzas, self.host.options.max_history_fetch)
        effective_max = maxstanzas if maxstanzas is not None else default_max
        cutoff = None
        if seconds is not None:
            cutoff = time.time() - seconds
        if since is not None:
            cutoff = since if cutoff is None else max(cutoff, since)
        started_at = room.history_seq
        items: list[tuple[str, float]] | None = None
        if self.host.hooks.has(hooks.GET_HISTORY):
            answer: Any = await self.host.hooks.fire(hooks.GET_HISTORY, hooks.HistoryRequest(
                room.jid, requester, maxchars, maxstanzas, seconds, since, default_max))
            if answer is not None:
                items = []
                seen = set()
                for item in answer:
                    elem = item.stanza
                    if "to" in elem.attrib:
                        elem = _without_to(elem)
                    seen.add(_stanza_id(elem, room.jid))
                    items.append((serialize(elem), item.timestamp))
                # Messages broadcast while the archive answered are not lost for this client.
                for entry in room.history:
                    if entry.seq > started_at and entry.stanza_id not in seen:
                        items.append((entry.xml, entry.timestamp))
        if items is None:
            items = [(entry.xml, entry.timestamp) for entry in room.history]
        chosen = limit(items, effective_max, maxchars, cutoff)
        return [with_delay(xml, ts, room.jid) for xml, ts in chosen]

    def roominfo(self, room: Room):  # type: ignore[no-untyped-def]
        return (("muc#maxhistoryfetch", "text-single", "Maximum number of history messages returned by room",
                 str(min(room.config.history_length, self.host.options.max_history_fetch))),)


def _without_to(elem: Element) -> Element:
    copy = Element(elem.tag, {k: v for k, v in elem.attrib.items() if k != "to"})
    copy.text = elem.text
    copy.extend(list(elem))
    return copy

