"""Wiring of the bot first line: support's hooks in -> the bot engine -> support's public service out.

The support plugin asks ``support.before_queue`` when a customer writes to a
queue for the first time and ``support.bot_message`` for each message while
the ticket is with the bot. The bot answers through ``support.say`` (so every
turn is in the conversation's archive, which the agent receives on accepting),
hands off with ``support.enqueue`` and closes resolved tickets with
``support.close``. If anything in the bot fails, the customer goes to the
queue: a broken bot must never stand between a customer and a person.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from slixmpp import JID

from component.config import ConfigError
from component.errors import StanzaError
from component.plugin import Plugin
from component.storage import create_tables
from component.texts import pick
from plugins.support import hooks as support_hooks

from . import cli
from . import dialogue as dlg
from . import hooks as events
from . import kb_import
from .commands import ALL as COMMANDS
from .dialogue import Conversation, Policy
from .llm import LlmAnswerer
from .options import BotOptions
from .retrieval import Hit
from .service import BotEngine, KnowledgeBase
from .store import TABLES, BotStore

log = logging.getLogger("switchboard.plugins.support_bot")

#: How long the first reply waits for support to record the ticket as the bot's,
#: so the ticket's events stay in order (bot, then queued on a quick hand-off).
FIRST_REPLY_WAIT = 2.0
#: What a knowledge-base change is announced on (payload: the queue, "*" for any).
KB_CHANNEL = "switchboard_support_bot_kb"


def policy_of(options: BotOptions) -> Policy:
    return Policy(answer_threshold=options.answer_threshold, handoff_threshold=options.handoff_threshold,
                  max_unanswered=options.max_unanswered, max_turns=options.max_turns, suggestions=options.suggestions,
                  handoff_phrases=tuple(options.handoff_phrases), handoff_words=tuple(options.handoff_words),
                  llm=options.llm.enabled, llm_min_confidence=options.llm.min_confidence)


class Staff:
    """Who may manage a queue's knowledge base: global admins, the queue's agents and supervisors."""

    def __init__(self, plugin: "SupportBotPlugin") -> None:
        self.plugin = plugin

    def _check(self, name: str, queue: str, bare: str) -> bool:
        support = self.plugin.support
        method = getattr(support, name, None) or getattr(support.engine, name)
        return bool(method(queue, bare))

    def queues(self, requester: JID | str) -> list[str]:
        all_queues = list(self.plugin.support.queues())
        if self.plugin.service.is_admin(requester):
            return all_queues
        bare = JID(requester).bare
        return [q for q in all_queues if self._check("is_agent", q, bare) or self._check("is_supervisor", q, bare)]


class SupportBotService:
    """The public service (``hooks.service("support_bot")``)."""

    def __init__(self, plugin: "SupportBotPlugin") -> None:
        self._plugin = plugin
        self.kb = plugin.kb

    def search(self, queue: str, question: str, limit: int = 3) -> list[Hit]:
        return self.kb.search(queue, question, limit)

    def entries(self, queue: str) -> list[Any]:
        return self.kb.entries(queue)

    async def conversation(self, ticket_id: str) -> Conversation | None:
        return await self._plugin.engine.conversation(ticket_id)

    async def transcript(self, ticket_id: str, lang: str = "en") -> str:
        conv = await self._plugin.engine.conversation(ticket_id)
        return self._plugin.engine.transcript_text(conv, lang) if conv else ""

    async def outcomes(self, queue: str | None = None, since: float | None = None,
                       until: float | None = None) -> dict[str, int]:
        return await self._plugin.engine.outcomes(queue, since, until)


class SupportBotPlugin(Plugin):
    name = "support_bot"
    depends = ("support",)
    #: The bot answers in the process owning the customer's queue (support's hooks fire there); its
    #: conversations are read from the database at each turn; knowledge-base edits are announced to
    #: every process (KB_CHANNEL). docs/scaling.md.
    shares_domain = True
    Options = BotOptions
    command_line = cli.COMMANDS
    migrations = (create_tables(*TABLES),)

    async def setup(self) -> None:
        options: BotOptions = self.options
        self.support = self.hooks.service(support_hooks.SERVICE)
        # A shell's `kb import`, or another process's edit, reaches this one (component/peers.py).
        peers = getattr(self.service.app, "peers", None)
        if peers is not None:
            self.store = BotStore(self.db, changed=lambda session, queue: peers.notify(session, KB_CHANNEL, queue))
        else:
            self.store = BotStore(self.db)
        self.kb = KnowledgeBase(self.store, options.max_entries)
        await self.kb.load()
        if peers is not None:
            await peers.listen(KB_CHANNEL, self.kb.reload)
        await self._seed(options.seed_files)
        self.engine = BotEngine(self.kb, self.store, policy_of(options),
                                LlmAnswerer(options.llm) if options.llm.enabled else None, options.answer_footer,
                                shared=self.service.app.config.balancing.shared)
        await self.engine.load()
        self.staff = Staff(self)
        self._started: dict[str, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        self.hooks.on(support_hooks.BEFORE_QUEUE, self.before_queue)
        self.hooks.on(support_hooks.BOT_MESSAGE, self.bot_message)
        self.hooks.on(support_hooks.TICKET_EVENT, self.ticket_event)
        self.hooks.on("admin.stats", self.stats)
        self.hooks.on("admin.reconfigure", self.reconfigure)
        self.hooks.provide(events.SERVICE, SupportBotService(self))
        for command in COMMANDS:
            self.service.commands.register(command(self))
        self._measure()

    def _measure(self) -> None:
        """Bot answers against hand-offs, for dashboards (labels: queue, and a source or reason)."""
        domain = self.service.domain
        answers = self.metrics.counter("support_bot_answers", "Customer questions the bot answered, by source "
                                       "(kb, llm, choice).", ["domain", "queue", "source"])
        handoffs = self.metrics.counter("support_bot_handoffs", "Customers the bot handed to the queue, by reason.",
                                        ["domain", "queue", "reason"])
        self.hooks.on(events.ANSWERED, lambda e: answers.labels(domain, e.queue, e.source).inc())
        self.hooks.on(events.HANDOFF, lambda e: handoffs.labels(domain, e.queue, e.reason).inc())

    async def _seed(self, files: dict[str, str]) -> None:
        """Import each queue's seed file when its knowledge base is empty (a later edit is never undone)."""
        for queue, name in files.items():
            path = Path(name)
            if not path.is_absolute():
                path = self.service.app.config.base_dir / path
            if not path.is_file():  # a wrong path is a mistake even when nothing needs seeding today
                raise ConfigError("<config>", f"seed_files.{queue}", f"no such file: {path}")
            if self.kb.size(queue):
                continue
            try:
                parsed = kb_import.parse(path.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError) as error:
                raise ConfigError("<config>", f"seed_files.{queue}", f"cannot read {path}: {error}") from error
            if parsed.errors:
                raise ConfigError("<config>", f"seed_files.{queue}", f"{path}: {parsed.errors[0]}")
            await self.kb.import_(queue, parsed.drafts, "seed")
            self.log.info("knowledge base seeded", extra={"queue": queue, "file": path.name,
                                                          "entries": len(parsed.drafts)})

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- which queues ------------------------------------------------------------------
    def serves(self, queue: str) -> bool:
        """The bot answers a queue it is configured for (all by default) once it has a knowledge base."""
        if self.options.queues and queue not in self.options.queues:
            return False
        return self.kb.size(queue) > 0

    def bot_name(self, lang: str) -> str:
        return pick(self.options.name_en, self.options.name_zh, lang)

    # -- support's hooks ------------------------------------------------------------------
    async def before_queue(self, event: support_hooks.BeforeQueue) -> Any:
        body = (event.body or "").strip()
        if not body or not self.serves(event.queue):
            return None  # joined by IQ (asked for the queue itself), or no knowledge base
        conv = self.engine.new(event.ticket_id, event.queue, JID(event.customer).bare, event.lang or "en")
        try:
            step = self.engine.first_step(conv, body)
            if isinstance(step, dlg.Handoff):
                # Nothing to say first: support greets and queues the customer itself.
                await self.engine.reply(conv, body, step, silent=True)
                await self._announce_handoff(conv, step.reason)
                return support_hooks.HANDED_OFF
        except Exception:  # noqa: BLE001 - without the bot, the customer simply queues
            log.exception("bot failed on a first message; queueing the customer",
                          extra={"ticket": conv.ticket, "queue": conv.queue})
            return None
        lock = self.engine.lock(conv.ticket)
        await lock.acquire()  # released by the first reply; later messages wait for it
        self.engine.conversations[conv.ticket] = conv
        self._started[conv.ticket] = asyncio.get_running_loop().create_future()
        self._spawn(self._first_reply(conv, body, step, lock))
        return True

    async def _first_reply(self, conv: Conversation, body: str, step: Any, lock: asyncio.Lock) -> None:
        try:
            started = self._started.get(conv.ticket)
            if started is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(started), FIRST_REPLY_WAIT)
                except asyncio.TimeoutError:
                    log.warning("ticket not recorded as the bot's in time; answering anyway",
                                extra={"ticket": conv.ticket})
            await self._respond(conv, body, step)
        finally:
            self._started.pop(conv.ticket, None)
            lock.release()

    async def bot_message(self, event: support_hooks.CustomerMessage) -> Any:
        body = (event.body or "").strip()
        async with self.engine.lock(event.ticket_id):
            conv = await self.engine.conversation(event.ticket_id)
            if conv is None:
                if not self.serves(event.queue):
                    return None
                # A ticket left with the bot while this plugin had no record of it: start over.
                conv = self.engine.new(event.ticket_id, event.queue, JID(event.customer).bare, event.lang or "en")
            elif conv.state == "resolved":
                conv.state = "active"  # they thanked the bot, then asked something else
            elif conv.state != "active":
                return None
            await self._respond(conv, body)
        return True

    async def _respond(self, conv: Conversation, body: str, step: Any = None) -> None:
        """One turn: decide, say, then hand off or close; any failure hands off."""
        try:
            reply = await self.engine.reply(conv, body, step)
            if reply.text:
                await self.support.say(conv.ticket, reply.text, role="bot", name=self.bot_name(conv.lang))
        except StanzaError as error:
            if error.condition == "item-not-found":  # the customer left meanwhile
                await self.engine.end(conv.ticket, "ended")
                return
            await self._fail(conv, error)
            return
        except Exception as error:  # noqa: BLE001 - the customer must still reach a person
            await self._fail(conv, error)
            return
        if reply.handoff:
            await self._announce_handoff(conv, reply.reason)
            await self._enqueue(conv)
        elif reply.resolved and self.options.close_when_resolved:
            try:
                await self.support.close(conv.ticket, "", "bot")
            except StanzaError as error:
                log.info("could not close a resolved ticket", extra={"ticket": conv.ticket,
                                                                     "condition": error.condition})
        elif isinstance(reply.step, dlg.Answer):
            await self.hooks.collect(events.ANSWERED, events.BotAnswered(
                conv.ticket, conv.queue, reply.step.entry.id, reply.step.confidence, reply.step.source))

    async def _fail(self, conv: Conversation, error: BaseException) -> None:
        log.error("bot turn failed; handing the customer to the queue", exc_info=error,
                  extra={"ticket": conv.ticket, "queue": conv.queue})
        conv.state, conv.reason = "handed_off", conv.reason or "error"
        try:
            await self.engine.save(conv)
        except Exception:  # noqa: BLE001 - the hand-off matters more than the record
            log.exception("could not record the failed bot turn", extra={"ticket": conv.ticket})
        await self._announce_handoff(conv, "error")
        await self._enqueue(conv)

    async def _enqueue(self, conv: Conversation) -> None:
        try:
            await self.support.enqueue(conv.ticket)
        except StanzaError as error:
            # Already queued, or gone: either way it is no longer the bot's.
            log.info("hand-off not needed", extra={"ticket": conv.ticket, "condition": error.condition})

    async def _announce_handoff(self, conv: Conversation, reason: str) -> None:
        try:
            await self.hooks.collect(events.HANDOFF, events.BotHandoff(
                conv.ticket, conv.queue, conv.customer, reason, conv.turns, [t.to_json() for t in conv.transcript],
                self.engine.transcript_text(conv, conv.lang)))
        except Exception:  # noqa: BLE001 - a listener's bug must not keep the customer from the queue
            log.exception("a hand-off listener failed", extra={"ticket": conv.ticket})

    async def ticket_event(self, event: support_hooks.TicketEvent) -> None:
        if event.kind == "bot":
            started = self._started.get(event.ticket_id)
            if started is not None and not started.done():
                started.set_result(True)
        elif event.kind == "queued":
            await self.engine.end(event.ticket_id, "handed_off", "queued")
        elif event.kind in ("abandoned", "closed"):
            await self.engine.end(event.ticket_id, "ended")

    async def reconfigure(self, event: Any) -> Any:
        """A configuration reload changed our options: every one of them applies at once."""
        if getattr(event, "plugin", "") != self.name:
            return None
        options: BotOptions = event.options
        self.options = options
        self.kb.max_entries = options.max_entries
        self.engine.policy = policy_of(options)
        self.engine.llm = LlmAnswerer(options.llm) if options.llm.enabled else None
        self.engine.answer_footer = options.answer_footer
        log.info("options applied", extra={"answer_threshold": options.answer_threshold,
                                           "handoff_threshold": options.handoff_threshold,
                                           "llm": options.llm.enabled})
        return True

    async def stats(self, _request: Any) -> Any:
        from plugins.admin.hooks import Stat  # the admin plugin's contract (dataclasses only)

        # Where processes share the domain, each holds only its own queues' conversations: count the stored ones.
        held = await self.engine.store.active_count() if self.engine.shared else len(self.engine.conversations)
        return [Stat("bot_conversations", held, "Customers with the bot", "智能助手接待中"),
                Stat("knowledge_base_entries", sum(self.kb.size(q) for q in self.support.queues()),
                     "Knowledge-base entries", "知识库条目")]

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
