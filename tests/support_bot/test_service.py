"""Knowledge bases and bot conversations on a real database: edits, imports, restarts, outcomes, LLM fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from component.storage import Database, Migrations
from plugins.support_bot import dialogue as dlg
from plugins.support_bot.dialogue import Policy
from plugins.support_bot.kb_import import Draft, parse
from plugins.support_bot.llm import LlmAnswerer, LlmOptions
from plugins.support_bot.plugin import SupportBotPlugin
from plugins.support_bot.service import BotEngine, KnowledgeBase, KnowledgeBaseError
from plugins.support_bot.store import BotStore

from .. import harness
from .fake_llm import FakeLlm
from .kbdata import read


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(harness.database_url(tmp_path))
    await database.migrate([Migrations("support_bot", SupportBotPlugin.migrations)])
    yield database
    await database.close()


@pytest.fixture
async def kb(db):
    knowledge = KnowledgeBase(BotStore(db), max_entries=30)
    await knowledge.load()
    return knowledge


async def import_samples(kb: KnowledgeBase, queue: str = "help") -> None:
    for name in ("kb_en.csv", "kb_zh.json"):
        await kb.import_(queue, parse(read(name)).drafts, "admin@localhost")


async def test_add_update_delete_are_stored_and_searchable(db, kb):
    entry = await kb.add("help", Draft("How do I export my data?", "Settings > Export."), "agent1@localhost")
    assert kb.search("help", "export data")[0].entry.id == entry.id
    assert kb.search("sales", "export data") == []   # knowledge bases are per queue
    updated = await kb.update(entry.id, Draft("How do I delete my account?", "Settings > Delete.", keywords=("close",)),
                              "agent1@localhost")
    assert updated.id == entry.id and kb.search("help", "delete account")[0].entry.answer == "Settings > Delete."
    with pytest.raises(KnowledgeBaseError):
        await kb.update(entry.id, Draft("q", "a"), "x", queue="sales")   # not an entry of that queue
    reloaded = KnowledgeBase(BotStore(db))
    await reloaded.load()
    assert [e.question for e in reloaded.entries("help")] == ["How do I delete my account?"]
    assert reloaded.entries("help")[0].keywords == ("close",)
    assert [e.id for e in await kb.delete([entry.id, "nope"], queues={"sales"})] == []
    assert [e.id for e in await kb.delete([entry.id, "nope"])] == [entry.id]
    assert kb.size("help") == 0 and await BotStore(db).entries() == []


async def test_import_merges_by_question_and_replace_starts_over(db, kb):
    await import_samples(kb)
    assert kb.size("help") == 18
    changed = Draft("How do I reset my password?", "Use the 'Forgot password' link on the sign-in page.")
    new = Draft("Do you ship to Norway?", "Yes, within 5 days.")
    summary = await kb.import_("help", [changed, new], "admin@localhost")
    assert (summary.added, summary.updated, summary.total) == (1, 1, 19)
    assert kb.search("help", "reset password")[0].entry.answer.startswith("Use the 'Forgot password'")
    summary = await kb.import_("help", [new], "admin@localhost", replace=True)
    assert (summary.added, summary.removed, summary.total) == (1, 19, 1)
    reloaded = KnowledgeBase(BotStore(db))
    await reloaded.load()
    assert [e.question for e in reloaded.entries("help")] == ["Do you ship to Norway?"]


async def test_limits_refuse_the_whole_import(kb):
    await import_samples(kb)   # 18 of 30
    too_many = [Draft(f"Question number {i}?", f"Answer {i}") for i in range(13)]
    with pytest.raises(KnowledgeBaseError):
        await kb.import_("help", too_many, "admin@localhost")
    assert kb.size("help") == 18   # nothing was applied


def engine_for(db, kb, **policy) -> BotEngine:
    return BotEngine(kb, BotStore(db), Policy(**policy))


async def test_a_conversation_is_recorded_and_resumes_after_a_restart(db, kb):
    await import_samples(kb)
    engine = engine_for(db, kb)
    conv = engine.new("t1", "help", "cust1@localhost", "en")
    reply = await engine.reply(conv, "I want to change my order's delivery address")
    assert isinstance(reply.step, dlg.Suggest) and reply.text.splitlines()[0].startswith("Hi, I am the automatic")
    assert "1. " in reply.text and "human" in reply.text
    # Restart: a new engine on the same database knows the conversation and its suggestions.
    again = engine_for(db, kb)
    await again.load()
    conv2 = await again.conversation("t1")
    assert conv2 is not None and conv2.unanswered == 1 and len(conv2.suggestions) >= 2
    reply = await again.reply(conv2, "1")
    assert isinstance(reply.step, dlg.Answer) and reply.step.source == "choice"
    assert not reply.text.startswith("Hi")   # introduced once only
    reply = await again.reply(conv2, "转人工")
    assert reply.handoff and reply.reason == "asked"
    stored = await BotStore(db).conversation("t1")
    assert stored.state == "handed_off" and stored.reason == "asked" and stored.turns == 3
    assert [t["role"] for t in stored.transcript] == ["customer", "bot"] * 3
    text = again.transcript_text(conv2, "zh")
    assert text.startswith("转人工前与智能助手的对话（原因：客户要求人工服务）")
    assert "客户: I want to change my order's delivery address" in text and "助手: " in text


async def test_texts_follow_the_customer_language(db, kb):
    await import_samples(kb)
    engine = engine_for(db, kb)
    zh = await engine.reply(engine.new("t-zh", "help", "c@x", "zh"), "退款什么时候到账")
    assert zh.text.startswith("您好，我是智能助手。") and "5到7个工作日" in zh.text and "人工" in zh.text
    en = await engine.reply(engine.new("t-en", "help", "c@x", "en"), "How long until I get my refund?")
    assert en.text.startswith("Hi, I am the automatic assistant.") and "5 to 7 business days" in en.text
    bye = await engine.reply(engine.new("t-no", "help", "c@x", "zh"), "你们卖自行车吗")
    assert bye.handoff and bye.reason == "low_confidence" and "转接人工" in bye.text


async def test_outcomes_count_what_reports_need(db, kb):
    await import_samples(kb)
    engine = engine_for(db, kb)
    resolved = engine.new("a", "help", "c1@x", "en")
    await engine.reply(resolved, "what does delivery cost")
    await engine.reply(resolved, "thanks!")
    asked = engine.new("b", "help", "c2@x", "en")
    await engine.reply(asked, "human")
    low = engine.new("c", "help", "c3@x", "en")
    await engine.reply(low, "Do you sell bicycles?")
    other = engine.new("d", "sales", "c4@x", "en")
    await engine.reply(other, "hello")
    counts = await engine.outcomes("help")
    assert counts["conversations"] == 3 and counts["resolved"] == 1 and counts["handed_off"] == 2
    assert counts["handoff_asked"] == 1 and counts["handoff_low_confidence"] == 1 and counts["answers"] == 1
    assert (await engine.outcomes())["conversations"] == 4


async def test_llm_answers_and_falls_back_to_the_knowledge_base_on_timeout(db, kb):
    await import_samples(kb)
    async with FakeLlm(text="About a week, usually 5 to 7 business days.") as server:
        options = LlmOptions(enabled=True, url=server.url, model="m", timeout=0.3)
        engine = BotEngine(kb, BotStore(db), Policy(llm=True), LlmAnswerer(options, environ={}))
        reply = await engine.reply(engine.new("l1", "help", "c@x", "en"), "How long until I get my refund?")
        assert isinstance(reply.step, dlg.Answer) and reply.step.source == "llm"
        assert "About a week" in reply.text
        server.mode = "slow"
        reply = await engine.reply(engine.new("l2", "help", "c@x", "en"), "How long until I get my refund?")
        assert isinstance(reply.step, dlg.Answer) and reply.step.source == "kb"
        assert "Refunds reach your account within 5 to 7 business days" in reply.text
        server.mode = "no_answer"
        reply = await engine.reply(engine.new("l3", "help", "c@x", "en"), "How long until I get my refund?")
        assert isinstance(reply.step, dlg.Suggest)
        assert len(server.requests) == 3


async def test_a_large_import_is_indexed_without_stalling_the_event_loop(db):
    import asyncio
    import gc
    import time

    from plugins.support_bot.bench_retrieval import synthetic_entries
    from plugins.support_bot.retrieval import Index

    entries = synthetic_entries(3000, seed=3)
    # What cutting these entries into terms costs when done in one go (the pause it would cause).
    # Measured in CPU time of the measuring thread, here and in the heartbeat: on a loaded
    # machine wall-clock gaps include the time the OS gave to other processes, which is not a stall.
    started = time.thread_time()
    [Index().analyse(e) for e in entries]
    analysis = time.thread_time() - started

    kb = KnowledgeBase(BotStore(db))
    drafts = [Draft(e.question, e.answer, e.alternatives, e.keywords, e.lang) for e in entries]
    gaps: list[float] = []

    async def heartbeat():
        last = time.thread_time()
        while True:
            await asyncio.sleep(0.002)
            now = time.thread_time()
            gaps.append(now - last)
            last = now

    # A full garbage collection after allocating this much pauses any Python
    # program; it is not what this test measures.
    gc.disable()
    try:
        beating = asyncio.ensure_future(heartbeat())
        await asyncio.sleep(0.01)   # the heartbeat runs before the import starts...
        summary = await kb.import_("help", drafts, "admin@localhost")
        await asyncio.sleep(0.01)   # ...and records the gap the import ended with
        beating.cancel()
    finally:
        gc.enable()
    assert summary.added == 3000 and kb.search("help", entries[42].question)[0].entry.question == entries[42].question
    # The analysis and the index build ran beside the loop: it never paused for
    # anything near the time the analysis alone takes.
    assert len(gaps) > 10
    assert max(gaps) < analysis / 2, (max(gaps), analysis)


async def test_shared_engines_read_each_turn_from_the_database(db, kb):
    """Processes sharing the domain: a queue's conversation is served where the queue is owned now, so
    nothing is kept from an earlier turn, and a ticket leaving the bot ends its stored conversation
    wherever that is heard."""
    await import_samples(kb)
    here, there = (BotEngine(kb, BotStore(db), Policy(), shared=True) for _ in range(2))
    conv = here.new("t1", "help", "cust1@localhost", "en")
    await here.reply(conv, "I want to change my order's delivery address")
    assert here.conversations == {}  # not kept: the queue may move to another process
    # The queue moved: the other process continues from the stored turn, then it moves back.
    moved = await there.conversation("t1")
    assert moved is not None and moved.unanswered == 1
    await there.reply(moved, "1")
    back = await here.conversation("t1")
    assert back is not None and back.turns == 2 and back.answered == 1
    # Queued by an agent's process: the stored conversation is ended there; a second end is a no-op.
    ended = await there.end("t1", "handed_off", "queued")
    assert ended is not None and (await BotStore(db).conversation("t1")).state == "handed_off"
    assert await here.end("t1", "ended") is None
    assert await BotStore(db).active_count() == 0
