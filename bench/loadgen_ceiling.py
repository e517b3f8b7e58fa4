"""The load generator's own ceiling: one worker fed by a do-nothing source, no server at all.

A forked feeder writes pre-built groupchat deliveries (the size and shape a server sends:
from, to, id, stanza-id, occupant-id, the body marker) as fast as it can over socket pairs;
one `Worker` counts them with the same handler as a measured run. What the worker spends per
delivery (its CPU time over what it counted) is the generator's cost; 1e6 / that is how many
deliveries per second one worker process could absorb with a core of its own.

    python -m bench --only loadgen
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import socket
import time
from typing import Any

from .loadgen import Worker

SOCKETS = 20


def delivery(ci: int, seq: int) -> bytes:
    return (f"<message xml:lang='en' to='bench{ci}@localhost/b{ci}' from='fan20a@conference.localhost/n{seq % 20}'"
            f" type='groupchat' id='{seq}'><stanza-id xmlns='urn:xmpp:sid:0' by='fan20a@conference.localhost'"
            f" id='1733370000{seq:06d}'/><occupant-id xmlns='urn:xmpp:occupant-id:0' id='b2NjdXBhbnQ{seq % 20}'/>"
            f"<body>B 1.{seq % 20}.{seq}.{time.monotonic_ns()}</body></message>").encode()


class _Sock:
    """What `Worker._add` needs of a logged-in client."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""


def _feed(socks: list[socket.socket], seconds: float, per_write: int) -> None:
    chunks = [b"".join(delivery(ci, s) for s in range(per_write)) for ci in range(len(socks))]
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_WRITE, i)
    pending = [memoryview(c) for c in chunks]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(0.1):
            i = key.data
            try:
                n = key.fileobj.send(pending[i])
            except BlockingIOError:
                continue
            pending[i] = pending[i][n:]
            if not len(pending[i]):
                pending[i] = memoryview(chunks[i])
    # Closing would read as a server hanging up: stay until the measuring side ends us.
    time.sleep(120)


def measure(seconds: float = 3.0, exact: bool = False, per_write: int = 64) -> dict[str, Any]:
    worker = Worker(0, 0)
    feeders = []
    for _ in range(SOCKETS):
        a, b = socket.socketpair()
        worker._add(_Sock(a))  # noqa: SLF001 - the benchmark's own worker
        feeders.append(b)
    pid = os.fork()
    if pid == 0:  # the feeder
        try:
            for s in worker.clients:
                s.sock.close()
            _feed(feeders, seconds + 0.2, per_write)
        finally:
            os._exit(0)
    for s in feeders:
        s.close()
    try:
        start_at = time.monotonic() + 0.2
        before = resource.getrusage(resource.RUSAGE_SELF)
        result = worker.cmd_traffic([], start_at, seconds, 0.0, False, 0.2, 2.0, exact)
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        for c in worker.clients:
            c.sock.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    received = result["received"]
    return {"mode": "exact" if exact else "count", "stanzas_per_write": per_write,
            "deliveries_per_read": received / result["reads"] if result.get("reads") else None,
            "deliveries": received, "seconds": seconds,
            "deliveries_per_s": result["window"] / seconds, "cpu_s": cpu,
            "cpu_us_per_delivery": cpu / received * 1e6 if received else float("nan"),
            "stanza_bytes": len(delivery(0, 123456))}


def run(seconds: float = 3.0) -> dict[str, Any]:
    """Both handlers, fed in bulk; and the counting one fed one stanza per write (the worst case:
    a read per delivery, what a server sends at low rates)."""
    out = {"count": measure(seconds, exact=False), "exact": measure(seconds, exact=True),
           "count_one_per_write": measure(seconds, exact=False, per_write=1)}
    out["core_share_per_1000_per_s"] = out["count"]["cpu_us_per_delivery"] * 1000 / 1e6
    out["ceiling_deliveries_per_s_one_worker"] = 1e6 / out["count"]["cpu_us_per_delivery"]
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
