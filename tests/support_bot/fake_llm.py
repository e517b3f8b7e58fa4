"""A local HTTP server speaking the OpenAI chat-completions request/response shape, for the bot's tests.

``mode`` decides each answer: ``answer`` (the configured text), ``chunked``
(the same, chunked transfer encoding), ``no_answer``, ``slow`` (answers after
``delay`` seconds), ``error`` (HTTP 500), ``garbage`` (not JSON), ``hang_up``
(closes without answering). Every request is kept for inspection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeLlm:
    mode: str = "answer"
    text: str = "Refunds take 5 to 7 business days."
    delay: float = 5.0
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _server: asyncio.AbstractServer | None = None
    _pending: set[asyncio.Task] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> "FakeLlm":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._pending):
                task.cancel()
            await asyncio.gather(*self._pending, return_exceptions=True)
            await self._server.wait_closed()

    async def __aenter__(self) -> "FakeLlm":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._pending.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                self._pending.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, path, _version = (await reader.readline()).decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (line := (await reader.readline()).decode("latin-1")) not in ("\r\n", ""):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Request(method, path, headers, json.loads(raw.decode("utf-8"))))
        if self.mode == "hang_up":
            return
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "error":
            self._send(writer, 500, b'{"error": {"message": "overloaded"}}')
        elif self.mode == "garbage":
            self._send(writer, 200, b"<html>not json</html>")
        else:
            content = "NO_ANSWER" if self.mode == "no_answer" else self.text
            payload = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test-model",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}],
                       "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            if self.mode == "chunked":
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                middle = len(body) // 2
                chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:middle], body[middle:]))
                writer.write(head + chunks + b"0\r\n\r\n")
            else:
                self._send(writer, 200, body)
        await writer.drain()

    @staticmethod
    def _send(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
        reason = {200: "OK", 500: "Internal Server Error"}[status]
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1") + body)
