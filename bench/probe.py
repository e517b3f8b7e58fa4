"""The server's own delivery time while a benchmark loads it: the floor under any figure through it.

One extra client sends itself a headline every few milliseconds and times each one's return. Its
stanzas cross the server alone (nothing of the component's is queued ahead of them, nothing is
archived), so their delay is the server's: the time before it gets to a connection's input and
routes it. An offer from the component crosses the same server once, after the component's own
share, so no offer can be faster than this in the same second.
"""

from __future__ import annotations

import select
import threading
import time
from typing import Any

from .loadgen import PASSWORD
from .rawxmpp import RawClient
from .stats import percentile

INTERVAL_S = 0.01  # 100 stanzas a second: a sliver of what the storm asks of the server


class ServerProbe:
    """Runs in a thread of the benchmark's own process, from :meth:`start` to :meth:`stop`."""

    def __init__(self, c2s_port: int, user: str = "server-probe", password: str = PASSWORD,
                 register: bool = True) -> None:
        self.client = RawClient(c2s_port, user, password, resource="probe")
        self._register = register
        #: (when sent, delay in ms) of every headline that came back.
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.client.login(register=self._register, presence=False)
        self._thread = threading.Thread(target=self._run, name="server-probe", daemon=True)
        self._thread.start()

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.client.close()
        return self.samples

    def _run(self) -> None:
        sock = self.client.sock
        assert sock is not None
        sock.setblocking(False)
        sent: dict[bytes, float] = {}
        buf = b""
        n = 0
        next_at = time.monotonic()
        to = self.client.jid
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_at:
                probe_id = f"p{n}".encode()
                sent[probe_id] = now
                sock.sendall(f"<message to='{to}' type='headline' id='p{n}'/>".encode())
                n += 1
                next_at += INTERVAL_S
            readable, _, _ = select.select([sock], [], [], max(0.0, next_at - time.monotonic()))
            if not readable:
                continue
            chunk = sock.recv(65536)
            if not chunk:
                return
            arrived = time.monotonic()
            buf += chunk
            start = 0
            while (i := buf.find(b" id='p", start)) >= 0 and (j := buf.find(b"'", i + 5)) >= 0:
                sent_at = sent.pop(buf[i + 5:j], None)
                if sent_at is not None:
                    self.samples.append((sent_at, (arrived - sent_at) * 1000))
                start = j
            buf = buf[start:]


def during(samples: list[tuple[float, float]], begin: float, end: float) -> dict[str, Any]:
    """The probe's delays for headlines sent between ``begin`` and ``end`` (monotonic seconds)."""
    delays = sorted(delay for sent_at, delay in samples if begin <= sent_at <= end)
    if not delays:
        return {"samples": 0}
    return {"samples": len(delays), "p50_ms": percentile(delays, 50), "p99_ms": percentile(delays, 99),
            "max_ms": delays[-1]}
