"""A minimal asynchronous HTTP/1.1 client for JSON POST requests (asyncio streams, no dependency).

Enough for an OpenAI-compatible API: one request per connection
(``Connection: close``), Content-Length or chunked responses, a total time
limit and a size limit. DNS lookups run in the loop's executor and TLS is
asyncio's, so nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class HttpError(Exception):
    """The request failed: network, protocol, size or time limit (not an HTTP error status)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise HttpError(f"response is not JSON: {exc}") from exc


_default_tls: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The system's CA store, loaded once (reading it is blocking file I/O)."""
    global _default_tls
    if _default_tls is None:
        _default_tls = ssl.create_default_context()
    return _default_tls


async def post_json(url: str, payload: Any, headers: dict[str, str] | None = None, timeout: float = 10.0,
                    max_bytes: int = 1 << 20) -> Response:
    """POST ``payload`` as JSON to ``url``; the whole exchange is bounded by ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            return await _post(url, json.dumps(payload, ensure_ascii=False).encode("utf-8"), headers or {},
                               max_bytes)
    except TimeoutError as exc:
        raise HttpError(f"no complete answer within {timeout:g} s") from exc


async def _post(url: str, body: bytes, headers: dict[str, str], max_bytes: int) -> Response:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URL: {url!r}")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname and parts.port is None:
        host_header = f"[{parts.hostname}]"
    try:
        reader, writer = await asyncio.open_connection(
            parts.hostname, port, ssl=tls_context() if tls else None,
            server_hostname=parts.hostname if tls else None, limit=max_bytes)
    except (OSError, ssl.SSLError) as exc:
        raise HttpError(f"cannot connect to {parts.hostname}:{port}: {exc}") from exc
    try:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host_header}", "User-Agent: Switchboard",
                 "Content-Type: application/json", "Accept: application/json",
                 f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        return await _read_response(reader, max_bytes)
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        raise HttpError(f"HTTP exchange failed: {exc}") from exc
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader, max_bytes: int) -> Response:
    status_line = (await reader.readline()).decode("latin-1").strip()
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/1.") or not fields[1].isdigit():
        raise HttpError(f"not an HTTP/1.x response: {status_line[:80]!r}")
    status = int(fields[1])
    headers: dict[str, str] = {}
    while True:
        line = (await reader.readline()).decode("latin-1")
        if line in ("\r\n", "\n", ""):
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader, max_bytes)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > max_bytes:
            raise HttpError(f"response too large ({length} bytes)")
        body = await reader.readexactly(length)
    else:
        body = await reader.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise HttpError("response too large")
    return Response(status, headers, body)


async def _read_chunked(reader: asyncio.StreamReader, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = (await reader.readline()).decode("latin-1").strip()
        size = int(size_line.split(";", 1)[0], 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        total += size
        if total > max_bytes:
            raise HttpError("response too large")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)  # CRLF after each chunk
