"""Pacing what a service writes to the server, so that what somebody waits for overtakes notices.

The server handles a component's stanzas one after the other, in the order they were written. In a
storm the desk writes thousands of notices (places in the queue, transcripts, introductions, closing
notices); an offer written after them waits until the server has handled all of them, hundreds of
milliseconds on a busy server that also archives each one. So the service keeps the server's share
short:

- it learns how far the server has got by sending itself a marker through the server (a headline
  to its own domain comes back once everything written before it has been handled);
- while ``window`` stanzas or more are written and not yet known handled, stanzas sent as *bulk*
  wait here, in order; every other stanza is written at once. Markers are sent only while something
  waits, so a service that sends no bulk costs the server nothing more;
- a stanza never overtakes one between the same two addresses: writing a stanza first writes whatever
  waits from its sender to its addressee (bare JIDs), so each addressee still gets everything from
  each sender in the order it was sent (the order RFC 6120 section 10.1 promises). Stanzas from other
  senders may be overtaken: a desk's offer from a new conversation's address does not wait behind
  the transcript of the agent's previous conversation, which comes from that one's address.

A marker that does not come back within ``marker_timeout`` counts as handled: a server that drops
it slows nothing down for longer than that. When ``MARKERS_LOST_BEFORE_OFF`` are lost in a row and
none ever came back, the server evidently does not hand them back: pacing turns itself off for good
(logged), rather than let bulk stanzas out a window per timeout. A server that handed one back is
only slow, and stays paced. While the connection is down, bulk stanzas wait for the next
one rather than being dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Callable

from .ids import new_id

log = logging.getLogger("switchboard.pacing")

#: The resource of the markers' address (the service's own domain): nothing else is sent there.
MARKER_RESOURCE = "pacing"
#: Markers lost in a row after which the server is taken not to hand them back at all.
MARKERS_LOST_BEFORE_OFF = 3


def addressee(to: str | None) -> str | None:
    """A bare JID as the pacer keys it (None: unknown)."""
    return to.partition("/")[0].lower() if to else None


#: The key under which a stanza keeps its order: (addressee, sender), bare JIDs.
Pair = tuple[str, str]


class Pacer:
    def __init__(self, write: Callable[[str, int], None], send_marker: Callable[[str], None],
                 window: int, marker_timeout: float = 2.0) -> None:
        self._write_out = write
        self._send_marker = send_marker
        self.window = window
        self.marker_every = max(1, window // 4)
        self.marker_timeout = marker_timeout
        #: addressee -> sender -> serialized stanzas waiting, in order
        self._held: dict[str, dict[str, deque[str]]] = {}
        self._order: deque[Pair] = deque()  # the (addressee, sender) of each waiting stanza, in sending order
        self.waiting = 0
        #: Stanzas that had to wait (for metrics).
        self.delayed = 0
        #: Markers that did not come back in time.
        self.markers_lost = 0
        self._lost_in_a_row = 0
        self._ever_back = False
        #: Turned off for good: the server does not hand the markers back.
        self.off = False
        self._written = 0  # stanzas written on this connection
        self._handled = 0  # of which the server is known to have handled this many
        self._marked = 0  # ``_written`` when the last marker left
        self._markers: dict[str, tuple[int, asyncio.TimerHandle]] = {}
        self._online = False

    @property
    def outstanding(self) -> int:
        """Stanzas written and not yet known handled by the server."""
        return self._written - self._handled

    # -- sending -------------------------------------------------------------
    def urgent(self, data: str, to: str | None, count: int = 1, sender: str | None = None) -> None:
        """Write now, after whatever waits from ``sender`` to ``to``: from any sender when ``sender``
        is unknown, and everything waiting when ``to`` is (several stanzas in one write)."""
        if self.waiting:
            key = addressee(to) if count == 1 else None
            if key is None:
                self._write_waiting(len(self._order))
            else:
                self._write_held(key, addressee(sender))
                if not self.waiting:
                    self._order.clear()
        self._write(data, count)

    def bulk(self, data: str, to: str | None, sender: str | None = None) -> None:
        """Write now if the server keeps up, or once it has handled enough of what it was given."""
        key = (addressee(to) or "", addressee(sender) or "")
        if self.off or (self._online and not self.waiting and self.outstanding < self.window):
            self._write(data, 1)
            return
        self._held.setdefault(key[0], {}).setdefault(key[1], deque()).append(data)
        self._order.append(key)
        self.waiting += 1
        self.delayed += 1
        if self._online and not self._markers:
            self._mark()  # something must come back to let it go

    # -- the server's progress -------------------------------------------------
    def marker_back(self, marker_id: str) -> None:
        """A marker came back through the server (perhaps after its timeout: the server does hand
        them back, then)."""
        self._ever_back = True
        entry = self._markers.pop(marker_id, None)
        if entry is None:
            return
        mark, timer = entry
        timer.cancel()
        self._lost_in_a_row = 0
        self._handled = max(self._handled, mark)
        self._release()

    def _marker_lost(self, marker_id: str) -> None:
        entry = self._markers.pop(marker_id, None)
        if entry is None:
            return
        self.markers_lost += 1
        self._lost_in_a_row += 1
        self._handled = max(self._handled, entry[0])
        if self._lost_in_a_row >= MARKERS_LOST_BEFORE_OFF and not self._ever_back:
            log.error("the server does not hand back the pacing markers sent to our own domain; pacing is "
                      "off until restart (server.pacing_window = 0 turns it off from the start)",
                      extra={"lost": self._lost_in_a_row, "waiting": self.waiting})
            self.off = True
            self._forget_markers()
            self._write_waiting(len(self._order))
            return
        log.warning("a pacing marker did not come back through the server in time; counted as handled",
                    extra={"timeout_s": self.marker_timeout, "waiting": self.waiting})
        self._release()

    def connection_lost(self) -> None:
        """What waits here is written once a connection is up again."""
        self._online = False
        self._restart()

    def connected(self) -> None:
        """A new connection: the server has nothing of ours to handle yet."""
        self._restart()
        self._online = True
        self._release()

    def _restart(self) -> None:
        self._forget_markers()
        self._written = self._handled = self._marked = 0

    def _forget_markers(self) -> None:
        for _mark, timer in self._markers.values():
            timer.cancel()
        self._markers.clear()

    # -- inside ----------------------------------------------------------------------
    def _write(self, data: str, count: int) -> None:
        self._write_out(data, count)
        self._written += count
        # Markers only while something waits: a service that sends no bulk (rooms) sends none, and
        # after a quiet spell the first bulk stanza waits for one round trip at most.
        if self._online and self.waiting and self._written - self._marked >= self.marker_every:
            self._mark()

    def _mark(self) -> None:
        if self.off:
            return
        marker_id = f"pace-{new_id().lower()}"
        timer = asyncio.get_running_loop().call_later(self.marker_timeout, self._marker_lost, marker_id)
        self._markers[marker_id] = (self._written, timer)
        self._marked = self._written
        self._send_marker(marker_id)

    def _release(self) -> None:
        if not self._online:
            return
        room = self.window - self.outstanding
        if room > 0 and self.waiting:
            self._write_waiting(room)
        if self.waiting and not self._markers:
            self._mark()

    def _write_held(self, to: str, sender: str | None) -> None:
        """Write what waits for ``to`` from ``sender`` (from every sender: None), and what waits for it
        from an unknown sender: it might be the same one."""
        senders = self._held.get(to)
        if not senders:
            return
        for key in list(senders) if sender is None else ("", sender):
            for held in senders.pop(key, ()):
                self.waiting -= 1
                self._write(held, 1)
        if not senders:
            del self._held[to]

    def _write_waiting(self, limit: int) -> None:
        """Write up to ``limit`` waiting stanzas, oldest first."""
        written = 0
        while self._order and written < limit:
            to, sender = self._order.popleft()
            senders = self._held.get(to)
            queue = senders.get(sender) if senders else None
            if not queue:
                continue  # written already, ahead of a stanza between the same two addresses
            data = queue.popleft()
            if not queue:
                del senders[sender]
                if not senders:
                    del self._held[to]
            self.waiting -= 1
            written += 1
            self._write(data, 1)
        if not self.waiting:
            self._order.clear()
