"""The status listener: ``/metrics`` (Prometheus) and ``/health`` for operators and orchestrators.

Off unless ``[status] listen`` names an address. A deliberately small HTTP/1.1
server on the event loop (GET only, one request per connection, no body read):
it must answer while the component works, and needs no web framework.

``/health`` is 200 when every service's stream is authenticated, the
database answers a trivial query within two seconds and (with balancing) the
session holding the process's slots is up; otherwise 503 with the reasons, one
per line (also as JSON with ``Accept: application/json``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST

from .metrics import Instruments

if TYPE_CHECKING:
    from .app import App

log = logging.getLogger("switchboard.status")

#: Seconds the database gets to answer a trivial query (a loaded SQLite opening a connection takes
#: a while; a load balancer's own check usually allows a few seconds).
DB_TIMEOUT = 2.0
READ_TIMEOUT = 5.0
MAX_REQUEST = 8192


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``; ValueError when it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"not host:port: {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class StatusServer:
    def __init__(self, app: "App", listen: str) -> None:
        self.app = app
        self.host, self.port = parse_address(listen)
        self.instruments = Instruments(app)
        self._server: asyncio.base_events.Server | None = None
        self._probe: asyncio.Future | None = None

    async def start(self) -> None:
        self.instruments.start()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # port 0: the one the system chose
        log.info("status listener ready", extra={"address": f"{self.host}:{self.port}"})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
        await self.instruments.stop()

    async def health(self) -> list[str]:
        """Why the component is not healthy (empty: it is)."""
        # A stand-by (no balancing slot) has no stream to wait for.
        problems = [f"{domain}: stream not connected" for domain, service in self.app.services.items()
                    if service.slots and not service.connected.is_set()]
        if self.app.claims is not None and not self.app.claims.up:
            problems.append("balancing: the database session holding this process's slots was lost; "
                            "claiming them again")
        if self.app.db is None:
            problems.append("database: not open")
            return problems
        # A stuck database must not hold the answer (a cancelled connect can take as long as the
        # lock it waits for), nor pile up probes: one probe at a time, left to finish on its own.
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self.app.db.ping())
        done, _ = await asyncio.wait({self._probe}, timeout=DB_TIMEOUT)
        if not done:
            problems.append(f"database: no answer within {DB_TIMEOUT:g} s")
        elif self._probe.exception() is not None:
            problems.append(f"database: {type(self._probe.exception()).__name__}")
        return problems

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            if len(head) > MAX_REQUEST:
                raise ValueError("request too large")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
            status, ctype, body = await self._route(method, target.split("?", 1)[0], headers)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError,
                ConnectionError):
            status, ctype, body = "400 Bad Request", "text/plain; charset=utf-8", b"bad request\n"
        except Exception:  # noqa: BLE001 - the listener must survive anything
            log.exception("status request failed")
            status, ctype, body = "500 Internal Server Error", "text/plain; charset=utf-8", b"error\n"
        try:
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                         f"Cache-Control: no-store\r\nConnection: close\r\n\r\n".encode("latin-1") + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str, headers: dict[str, str]) -> tuple[str, str, bytes]:
        if method != "GET":
            return "405 Method Not Allowed", "text/plain; charset=utf-8", b"GET only\n"
        if path == "/metrics":
            return "200 OK", CONTENT_TYPE_LATEST, self.app.metrics.render()
        if path == "/health":
            problems = await self.health()
            status = "200 OK" if not problems else "503 Service Unavailable"
            if "application/json" in headers.get("accept", ""):
                body = json.dumps({"healthy": not problems, "problems": problems}).encode()
                return status, "application/json", body
            text = "ok\n" if not problems else "".join(p + "\n" for p in problems)
            return status, "text/plain; charset=utf-8", text.encode()
        return "404 Not Found", "text/plain; charset=utf-8", b"/metrics or /health\n"
