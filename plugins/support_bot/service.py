"""The bot's logic without stanzas: knowledge bases (store + indexes) and conversations.

:class:`KnowledgeBase` keeps one BM25 index per queue in memory, written
through to the database. :class:`BotEngine` runs a conversation per ticket:
it decides with :mod:`.dialogue`, asks the LLM when configured, words the
reply in the customer's language and records every turn, so a restarted
component resumes the conversation and reports can count the outcomes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from component.ids import new_id

from . import dialogue as dlg
from .analysis import normalize
from .dialogue import Conversation, Policy, Turn
from .kb_import import Draft
from .llm import LlmAnswerer
from .retrieval import Entry, Hit, Index
from .store import BotStore, SupportBotConversation
from .texts import text

log = logging.getLogger("switchboard.plugins.support_bot")


class KnowledgeBaseError(ValueError):
    """A knowledge-base change was refused (unknown entry, wrong queue, too many entries)."""


@dataclass
class ImportSummary:
    added: int = 0
    updated: int = 0
    removed: int = 0
    total: int = 0          #: entries of the queue afterwards


def _background_index() -> Index:
    return Index(auto_build=False)


class KnowledgeBase:
    """One index per queue, written through to the store.

    Cutting entries into terms and building an index's snapshot take about a
    second for 10,000 entries: both run in a worker thread, so the event loop
    (shared with every other service of the process) keeps serving; searches
    use the previous snapshot until the new one is installed. Edits are
    serialized by a lock.
    """

    def __init__(self, store: BotStore, max_entries: int = 100_000,
                 index_factory: Callable[[], Index] = _background_index, now: Callable[[], float] = time.time) -> None:
        self.store = store
        self.max_entries = max_entries
        self.index_factory = index_factory
        self.now = now
        self._indexes: dict[str, Index] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        async with self._lock:
            self._indexes.clear()
            by_queue: dict[str, list[Entry]] = {}
            for entry in await self.store.entries():
                by_queue.setdefault(entry.queue, []).append(entry)
            for queue, entries in by_queue.items():
                index = self.index(queue)
                index.put_analysed(await asyncio.to_thread(_analyse_all, index, entries))
                await self._refresh(index)
        log.info("knowledge bases loaded", extra={"queues": len(self._indexes),
                                                   "entries": sum(len(i) for i in self._indexes.values())})

    async def reload(self, queue: str) -> None:
        """Another process changed ``queue``'s entries ("*": any queue's): read them again."""
        if queue == "*":
            await self.load()
            return
        entries = await self.store.entries(queue)
        async with self._lock:
            index = self.index_factory()
            index.put_analysed(await asyncio.to_thread(_analyse_all, index, entries))
            await self._refresh(index)
            self._indexes[queue] = index
        log.info("knowledge base reloaded", extra={"queue": queue, "entries": len(index)})

    async def _refresh(self, index: Index) -> None:
        if index.dirty:
            index.install(await asyncio.to_thread(index.make_snapshot, index.contents()))

    def index(self, queue: str) -> Index:
        found = self._indexes.get(queue)
        if found is None:
            found = self._indexes[queue] = self.index_factory()
        return found

    def size(self, queue: str) -> int:
        found = self._indexes.get(queue)
        return len(found) if found else 0

    def search(self, queue: str, question: str, limit: int = 3) -> list[Hit]:
        found = self._indexes.get(queue)
        return found.search(question, limit=limit) if found else []

    def entries(self, queue: str) -> list[Entry]:
        found = self._indexes.get(queue)
        return sorted(found.entries(), key=lambda e: e.id) if found else []

    def get(self, entry_id: str) -> Entry | None:
        for index in self._indexes.values():
            entry = index.get(entry_id)
            if entry is not None:
                return entry
        return None

    @staticmethod
    def _entry(queue: str, draft: Draft, entry_id: str) -> Entry:
        return Entry(id=entry_id, queue=queue, question=draft.question, answer=draft.answer,
                     alternatives=draft.alternatives, keywords=draft.keywords, lang=draft.lang)

    async def add(self, queue: str, draft: Draft, author: str) -> Entry:
        async with self._lock:
            if self.size(queue) >= self.max_entries:
                raise KnowledgeBaseError(f"the knowledge base of {queue} is full ({self.max_entries} entries)")
            entry = self._entry(queue, draft, new_id())
            await self.store.save_entries([entry], author, self.now())
            index = self.index(queue)
            index.put(entry)
            await self._refresh(index)
            return entry

    async def update(self, entry_id: str, draft: Draft, author: str, queue: str | None = None) -> Entry:
        async with self._lock:
            old = self.get(entry_id)
            if old is None or (queue is not None and old.queue != queue):
                raise KnowledgeBaseError(f"no entry {entry_id}")
            entry = self._entry(old.queue, draft, entry_id)
            await self.store.save_entries([entry], author, self.now())
            index = self.index(old.queue)
            index.put(entry)
            await self._refresh(index)
            return entry

    async def delete(self, entry_ids: list[str], queues: set[str] | None = None) -> list[Entry]:
        """Delete entries (only of ``queues`` when given); returns the deleted ones."""
        async with self._lock:
            found = [e for e in (self.get(i) for i in entry_ids) if e is not None]
            if queues is not None:
                found = [e for e in found if e.queue in queues]
            await self.store.delete_entries([e.id for e in found])
            for e in found:
                self.index(e.queue).remove(e.id)
            for queue in {e.queue for e in found}:
                await self._refresh(self.index(queue))
            return found

    async def import_(self, queue: str, drafts: list[Draft], author: str, replace: bool = False) -> ImportSummary:
        """Merge (same id, or same question, updates) or replace a queue's knowledge base, all or nothing."""
        async with self._lock:
            index = self.index(queue)
            current = [] if replace else index.entries()
            taken = {entry_id for other in self._indexes.values() for entry_id in other._entries}
            # Ids are made here: new_id() keeps its ordering state for the event loop's thread.
            fresh = [new_id() for _ in drafts]
            summary, unique, analysed = await asyncio.to_thread(
                self._plan_import, index, queue, drafts, current, taken, fresh)
            if len(current) + summary.added > self.max_entries:
                raise KnowledgeBaseError(f"the knowledge base of {queue} would hold "
                                         f"{len(current) + summary.added} entries (at most {self.max_entries})")
            if replace:
                summary.removed = len(index)
            await self.store.save_entries(unique, author, self.now(), replace_queue=queue if replace else None)
            if replace:
                index.clear()
            index.put_analysed(analysed)
            await self._refresh(index)
            summary.total = len(index)
            return summary

    def _plan_import(self, index: Index, queue: str, drafts: list[Draft], current: list[Entry], taken: set[str],
                     fresh: list[str]) -> tuple[ImportSummary, list[Entry], list[Any]]:
        """Which drafts update which entries, and the new entries cut into terms (runs in a worker thread)."""
        summary = ImportSummary()
        known = {e.id for e in current}
        by_question = {normalize(e.question).strip(): e.id for e in current}
        planned: dict[str, Entry] = {}
        for draft in drafts:
            key = normalize(draft.question).strip()
            entry_id = draft.id if draft.id in known or draft.id in planned else by_question.get(key, "")
            if not entry_id:
                usable = draft.id and draft.id not in taken and len(draft.id) <= 32
                entry_id = draft.id if usable else fresh.pop()
                summary.added += 1
            elif entry_id not in planned:
                summary.updated += 1 if entry_id in known else 0
            planned[entry_id] = self._entry(queue, draft, entry_id)
            by_question[key] = entry_id
        # Several rows may name one entry (same question twice): the last one wins.
        unique = list(planned.values())
        return summary, unique, _analyse_all(index, unique)


def _analyse_all(index: Index, entries: list[Entry]) -> list[Any]:
    return [index.analyse(entry) for entry in entries]


@dataclass
class BotReply:
    """What the bot does with one customer message."""

    step: dlg.Step
    text: str               #: to the customer ("" = say nothing)
    handoff: bool = False
    reason: str = ""
    resolved: bool = False
    hits: list[Hit] = field(default_factory=list)


def _row(conv: Conversation) -> SupportBotConversation:
    return SupportBotConversation(
        ticket=conv.ticket, queue=conv.queue, customer=conv.customer, lang=conv.lang, state=conv.state,
        reason=conv.reason, turns=conv.turns, answered=conv.answered, unanswered=conv.unanswered,
        suggestions=list(conv.suggestions), last_entry=conv.last_entry,
        transcript=[t.to_json() for t in conv.transcript], created_at=conv.created_at,
        updated_at=conv.updated_at or conv.created_at)


def _conversation(row: SupportBotConversation) -> Conversation:
    return Conversation(ticket=row.ticket, queue=row.queue, customer=row.customer, lang=row.lang,
                        created_at=row.created_at, state=row.state, reason=row.reason or "", turns=row.turns,
                        answered=row.answered, unanswered=row.unanswered, suggestions=list(row.suggestions or []),
                        last_entry=row.last_entry or "",
                        transcript=[Turn.from_json(t) for t in (row.transcript or [])], updated_at=row.updated_at)


class BotEngine:
    def __init__(self, kb: KnowledgeBase, store: BotStore, policy: Policy, llm: LlmAnswerer | None = None,
                 answer_footer: bool = True, now: Callable[[], float] = time.time, shared: bool = False) -> None:
        self.kb = kb
        #: Several processes share the domain: a conversation lives with its queue's owner, and a
        #: queue may move between processes (a reconnection), so the stored row is read at each turn
        #: rather than kept here (a copy kept from before the queue went away would be stale).
        self.shared = shared
        self.store = store
        self.policy = policy
        self.llm = llm
        self.answer_footer = answer_footer
        self.now = now
        self.conversations: dict[str, Conversation] = {}   # active ones
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self) -> None:
        if self.shared:
            return  # read when their customer writes, by the process owning their queue then
        for row in await self.store.conversations():
            if row.state == "active":
                self.conversations[row.ticket] = _conversation(row)

    def lock(self, ticket: str) -> asyncio.Lock:
        found = self._locks.get(ticket)
        if found is None:
            found = self._locks[ticket] = asyncio.Lock()
        return found

    async def conversation(self, ticket: str) -> Conversation | None:
        found = self.conversations.get(ticket)
        if found is not None and not self.shared:
            return found
        row = await self.store.conversation(ticket)
        return _conversation(row) if row else None

    def new(self, ticket: str, queue: str, customer: str, lang: str) -> Conversation:
        return Conversation(ticket=ticket, queue=queue, customer=customer, lang=lang, created_at=self.now())

    def first_step(self, conv: Conversation, message: str) -> dlg.Step | dlg.AskLlm:
        """The decision for a conversation's first message (fast: no LLM call yet)."""
        return dlg.decide(conv, message, self.kb.index(conv.queue), self.policy)

    async def reply(self, conv: Conversation, message: str, step: dlg.Step | dlg.AskLlm | None = None,
                    silent: bool = False) -> BotReply:
        """Decide (asking the LLM when configured), word, record and save one turn (``silent``: say nothing)."""
        if step is None:
            step = dlg.decide(conv, message, self.kb.index(conv.queue), self.policy)
        hits: list[Hit] = []
        if isinstance(step, dlg.AskLlm):
            hits = step.hits
            step = await self._ask_llm(conv, message, step.hits)
        elif isinstance(step, dlg.Handoff):
            hits = step.hits
        first = not any(t.role == "bot" for t in conv.transcript)
        body = "" if silent else self.word(step, conv.lang, first)
        dlg.apply(conv, step, message, body, self.now())
        await self.save(conv)
        reply = BotReply(step, body, hits=hits)
        if isinstance(step, dlg.Handoff):
            reply.handoff, reply.reason = True, step.reason
        elif isinstance(step, dlg.Resolved):
            reply.resolved = True
        log.info("bot turn", extra={"ticket": conv.ticket, "queue": conv.queue, "kind": type(step).__name__.lower(),
                                    "reason": reply.reason, "turn": conv.turns})
        return reply

    async def _ask_llm(self, conv: Conversation, message: str, hits: list[Hit]) -> dlg.Step:
        assert self.llm is not None
        history = [(t.role, t.text) for t in conv.transcript[-4:] if t.text]
        result = await self.llm.answer(message, hits, conv.lang, conv.queue, history)
        return dlg.after_llm(conv, hits, self.policy, result.text, result.failed)

    def word(self, step: dlg.Step, lang: str, first: bool) -> str:
        """The bot's message for ``step`` in ``lang``."""
        intro = text("intro", lang) + "\n" if first else ""
        if isinstance(step, dlg.Answer):
            body = step.text or step.entry.answer
            if self.answer_footer:
                body += "\n\n" + text("answer_footer", lang)
            return intro + body
        if isinstance(step, dlg.Suggest):
            lines = [text("suggest", lang)]
            lines += [f"{i}. {hit.entry.question}" for i, hit in enumerate(step.hits, 1)]
            lines.append(text("suggest_footer", lang))
            return intro + "\n".join(lines)
        if isinstance(step, dlg.Rephrase):
            return text("rephrase", lang)
        if isinstance(step, dlg.Welcome):
            return intro + text("welcome", lang)
        if isinstance(step, dlg.Resolved):
            return text("resolved", lang)
        assert isinstance(step, dlg.Handoff)
        return text(f"handoff_{step.reason}", lang)

    async def save(self, conv: Conversation) -> None:
        conv.updated_at = self.now()
        await self.store.save_conversation(_row(conv))
        if conv.state == "active" and not self.shared:
            self.conversations[conv.ticket] = conv
        else:
            self.forget(conv.ticket)

    def forget(self, ticket: str) -> None:
        self.conversations.pop(ticket, None)
        lock = self._locks.get(ticket)
        if lock is not None and not lock.locked():
            self._locks.pop(ticket, None)

    async def end(self, ticket: str, state: str, reason: str = "") -> Conversation | None:
        """The ticket left the bot (queued by someone else, closed, abandoned)."""
        conv = self.conversations.get(ticket)
        if self.shared:
            # Begun by whichever process owned the queue then: the stored row says.
            conv = await self.conversation(ticket)
            if conv is None or conv.state != "active":
                return None
        if conv is None:
            return None
        conv.state = state
        if reason and not conv.reason:
            conv.reason = reason
        await self.save(conv)
        return conv

    def transcript_text(self, conv: Conversation, lang: str) -> str:
        """The conversation as plain text for an agent."""
        reason = text(f"reason_{conv.reason}", lang) if conv.reason in dlg.HANDOFF_REASONS else conv.reason
        lines = [text("transcript_title", lang, reason=reason)]
        for turn in conv.transcript:
            who = text("speaker_customer" if turn.role == "customer" else "speaker_bot", lang)
            stamp = time.strftime("%H:%M:%S", time.gmtime(turn.at))
            lines.append(f"[{stamp}] {who}: {turn.text}")
        return "\n".join(lines)

    async def outcomes(self, queue: str | None = None, since: float | None = None,
                       until: float | None = None) -> dict[str, int]:
        """Counts for reports: conversations, resolved by the bot, handed off (by reason), answers given."""
        counts = {"conversations": 0, "resolved": 0, "handed_off": 0, "active": 0, "ended": 0, "answers": 0}
        counts.update({f"handoff_{reason}": 0 for reason in dlg.HANDOFF_REASONS})
        for row in await self.store.conversations(queue, since, until):
            counts["conversations"] += 1
            counts[row.state] = counts.get(row.state, 0) + 1
            counts["answers"] += row.answered
            if row.state == "handed_off" and row.reason:
                counts[f"handoff_{row.reason}"] = counts.get(f"handoff_{row.reason}", 0) + 1
        return counts
