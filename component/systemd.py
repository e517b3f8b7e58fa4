"""systemd's notification protocol (sd_notify), without libsystemd.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (a datagram socket; a
leading ``@`` means the abstract namespace). We send ``READY=1`` once every
service's stream is authenticated, ``STATUS=…`` when that changes, ``STOPPING=1``
on the way down and, when the unit sets ``WatchdogSec=``, ``WATCHDOG=1`` from a
timer on the event loop — so a loop stuck for longer than the watchdog gets the
process restarted. Without ``NOTIFY_SOCKET`` everything here does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

log = logging.getLogger("switchboard.systemd")


def notify(*fields: str) -> bool:
    """Send ``fields`` (``READY=1``, ``STATUS=…``) to systemd; False when not under systemd or it failed."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode("utf-8"))
        return True
    except OSError as exc:
        log.warning("systemd notification failed", extra={"error": type(exc).__name__})
        return False


def watchdog_interval() -> float | None:
    """Seconds between two ``WATCHDOG=1`` (half of ``WatchdogSec``), or None without a watchdog."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 / 2


async def keep_watchdog(interval: float) -> None:
    """Pet the watchdog for as long as the event loop turns."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
