"""A question one process asks the other processes serving the same domain, and their answers.

With balancing (docs/scaling.md) what a room's or a queue's occupants are lives only in the
process its stanzas reach, and every process runs with its own counters, configuration file
and log level. A request answered by one process about all of them (an administrator's room
list, the service statistics, a reload) asks the others and gathers what they say:

- **Who is asked**: the processes that hold slots of the domain, read from PostgreSQL's
  ``pg_locks`` (the advisory locks of ``balancing.py``). A lock lives exactly as long as its
  process's database session, so the list is never stale and needs no heartbeat or lease; a
  stand-by holds no slot and is not asked.
- **How**: ``NOTIFY switchboard_request`` carries the question (JSON) to every listener; each
  process that holds slots of the domain runs the handler registered for it and answers on
  ``switchboard_answer_<asker>``, the asker's own channel. A process is named by the backend id
  of the database session that holds its locks (``pg_backend_pid()``), which is what
  ``pg_locks`` shows. Long answers take ``core_changes`` as every notification does (peers.py).
- **How long**: the asker waits at most ``timeout`` seconds, then answers with what arrived and
  names the processes that did not answer (``Gathered.late``). Nothing waits on a process that is
  down or slow for longer than that, so an IQ is never left hanging.

The asker answers for itself by calling its own handler, so a caller sees every process the
same way. Without balancing there are no others: the answer is this process's alone, at once.

Rights are checked by the process that received the request, before asking; a handler that
acts for someone (a reload) gets the requester in the question and may check again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from .peers import Peers
from .texts import pick

log = logging.getLogger("switchboard.peers")

REQUEST_CHANNEL = "switchboard_request"
ANSWER_CHANNEL = "switchboard_answer_"
#: Seconds the asker waits for the others (an ad-hoc command must answer well within a client's
#: IQ timeout, usually 30 s or more).
TIMEOUT = 2.0

Handler = Callable[[Any], Awaitable[Any]]
#: The processes holding slots of a domain: {process id: [slots]} (claims.SlotClaims.holders).
Holders = Callable[[str], Awaitable[dict[int, list[int]]]]


@dataclass(frozen=True)
class Process:
    id: int                 #: the backend id of its claims session in PostgreSQL (0 without balancing)
    slots: tuple[int, ...]  #: the slots of the domain it holds
    here: bool = False      #: the process asking

    def label(self, lang: str = "en") -> str:
        slots = ", ".join(map(str, self.slots))
        return pick(f"process {self.id} (slots {slots})", f"进程 {self.id}（槽位 {slots}）", lang)


@dataclass
class Answer:
    process: Process
    body: Any = None
    error: str = ""         #: the handler failed or refused (then ``body`` is None)


@dataclass
class Gathered:
    answers: list[Answer] = field(default_factory=list)   #: this process's first, then by slot
    late: list[Process] = field(default_factory=list)     #: asked, no answer within the timeout

    @property
    def processes(self) -> list[Process]:
        return sorted([a.process for a in self.answers] + self.late, key=lambda p: p.slots)

    @property
    def several(self) -> bool:
        """More than one process was asked: the answer is about several processes."""
        return len(self.answers) + len(self.late) > 1


class _Waiting:
    def __init__(self, expected: dict[int, Process]) -> None:
        self.expected = expected
        self.answers: dict[int, Answer] = {}
        self.done = asyncio.Event()
        if not expected:
            self.done.set()

    def add(self, process_id: int, body: Any, error: str) -> None:
        process = self.expected.get(process_id)
        if process is None or process_id in self.answers:
            return
        self.answers[process_id] = Answer(process, body, error)
        if len(self.answers) == len(self.expected):
            self.done.set()


class PeerRequests:
    def __init__(self, peers: Peers | None, process_id: int | None, holders: Holders | None,
                 slots: list[int]) -> None:
        #: Active only with balancing on PostgreSQL (claims held, notifications listened to).
        self.active = peers is not None and peers.active and process_id is not None and holders is not None
        self.peers = peers
        self.process_id = process_id or 0
        self._holders = holders
        self.slots = tuple(slots)
        self.timeout = TIMEOUT
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._waiting: dict[str, _Waiting] = {}

    async def start(self) -> None:
        if self.active:
            assert self.peers is not None
            # A question or an answer lost while a listener reconnects is not read back later:
            # the asker has reported the process as late by then (peers.py).
            await self.peers.listen(REQUEST_CHANNEL, self._on_request, replay=False)
            await self.peers.listen(f"{ANSWER_CHANNEL}{self.process_id}", self._on_answer, replay=False)

    async def renamed(self, process_id: int) -> None:
        """This process's claims session was opened again: its name (the backend id) changed, and the
        others answer on the new one's channel."""
        if not self.active or process_id == self.process_id:
            return
        assert self.peers is not None
        self.process_id = process_id
        await self.peers.listen(f"{ANSWER_CHANNEL}{process_id}", self._on_answer, replay=False)

    def answer(self, domain: str, kind: str, handler: Handler) -> None:
        """Answer questions ``kind`` about ``domain`` with ``await handler(body)`` (a JSON value)."""
        self._handlers[(domain, kind)] = handler

    def here(self) -> Process:
        return Process(self.process_id, self.slots, here=True)

    async def processes(self, domain: str) -> list[Process]:
        """Every process serving ``domain`` now, this one included, by slot."""
        if not self.active:
            return [self.here()]
        assert self._holders is not None
        found = await self._holders(domain)
        found.setdefault(self.process_id, list(self.slots))
        return sorted((Process(pid, tuple(sorted(slots)), here=pid == self.process_id)
                       for pid, slots in found.items()), key=lambda p: p.slots)

    async def ask(self, domain: str, kind: str, body: Any = None, *, only: int | None = None,
                  timeout: float | None = None) -> Gathered:
        """Ask every process serving ``domain`` (or the one ``only`` names), this one included.

        Returns within about ``timeout`` seconds whatever happens to the others. A process
        ``only`` names that does not serve the domain raises ``LookupError``.
        """
        wait = self.timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        try:
            everyone = await asyncio.wait_for(self.processes(domain), wait)
        except asyncio.TimeoutError:  # the database is slow: answer for this process alone
            log.warning("listing the processes timed out", extra={"domain": domain})
            everyone = [self.here()]
        if only is not None:
            everyone = [p for p in everyone if p.id == only]
            if not everyone:
                raise LookupError(only)
        others = {p.id: p for p in everyone if not p.here}
        request = os.urandom(8).hex()
        waiting = _Waiting(others)
        if others:
            self._waiting[request] = waiting
        try:
            if others:
                question = {"id": request, "from": self.process_id, "domain": domain, "kind": kind,
                            "to": sorted(others), "body": body}
                try:
                    await asyncio.wait_for(self._send(REQUEST_CHANNEL, question), max(0.0, deadline - loop.time()))
                except Exception:  # noqa: BLE001 - the others are then simply not heard from
                    log.warning("asking the other processes failed", exc_info=True, extra={"kind": kind})
            # This process answers while the others do; the wait for them ends at the deadline.
            mine = [await self._run_here(domain, kind, body)] if any(p.here for p in everyone) else []
            try:
                await asyncio.wait_for(waiting.done.wait(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                pass
        finally:
            self._waiting.pop(request, None)
        late = [p for pid, p in others.items() if pid not in waiting.answers]
        if late:
            log.warning("processes did not answer in time", extra={
                "kind": kind, "domain": domain, "late": ",".join(str(p.id) for p in late)})
        answers = mine + sorted(waiting.answers.values(), key=lambda a: a.process.slots)
        return Gathered(answers, late)

    async def _run_here(self, domain: str, kind: str, body: Any) -> Answer:
        here = self.here()
        result, error = await self._run(domain, kind, body)
        # Through JSON like the others' answers, so the caller sees the same types from everyone.
        return Answer(here, json.loads(json.dumps(result)) if not error else None, error)

    async def _run(self, domain: str, kind: str, body: Any) -> tuple[Any, str]:
        handler = self._handlers.get((domain, kind))
        if handler is None:
            return None, "unknown-request"
        try:
            return await handler(body), ""
        except PermissionError as refused:
            return None, f"forbidden: {refused}"
        except Exception as exc:  # noqa: BLE001 - an answer, never a crash of the process asked
            log.exception("answering another process failed", extra={"kind": kind, "domain": domain})
            return None, f"internal-server-error: {type(exc).__name__}"

    async def _send(self, channel: str, message: dict[str, Any]) -> None:
        assert self.peers is not None
        async with self.peers.engine.begin() as connection:
            await self.peers.notify(connection, channel, json.dumps(message, ensure_ascii=False), durable=False)

    async def _on_request(self, payload: str) -> None:
        question = json.loads(payload)
        if self.process_id not in question.get("to", ()):
            return
        result, error = await self._run(question["domain"], question["kind"], question.get("body"))
        answer = {"id": question["id"], "from": self.process_id, "body": result, "error": error}
        await self._send(f"{ANSWER_CHANNEL}{question['from']}", answer)

    async def _on_answer(self, payload: str) -> None:
        answer = json.loads(payload)
        waiting = self._waiting.get(answer.get("id", ""))
        if waiting is not None:  # else too late: the asker has answered already
            waiting.add(answer["from"], answer.get("body"), answer.get("error") or "")
