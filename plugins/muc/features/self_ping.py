"""XEP-0410 self-ping, answered by the room itself (self-ping optimization).

A ping to one's own occupant JID: result when the pinging session is joined
with that nick; not-acceptable when it is not joined at all; a ping to a nick
that is gone (the occupant changed it) is item-not-found, and a ping to
another occupant is forwarded like any IQ (see iq_forwarding).
"""

from __future__ import annotations

from typing import Any

from ..events import SELF_PING
from ..room import Room
from ..stanza import NS_SELF_PING
from . import Feature


class SelfPing(Feature):
    def hook(self, events: Any) -> None:
        super().hook(events)
        events.on(SELF_PING, self.answer)

    def disco_features(self, room: Room) -> tuple[str, ...]:
        return (NS_SELF_PING,)

    def answer(self, room: Room, iq: Any, nick: str) -> Any:
        """The reply to a ping from an occupant to its own nick, or None when it is not a self-ping."""
        occupant = room.by_jid.get(iq["from"].full)
        if occupant is not None and occupant.nick == nick:
            return iq.reply()
        return None
