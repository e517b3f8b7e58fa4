"""End to end with real clients and Prosody: the bot answers first, hands off with the transcript, closes."""

from __future__ import annotations

import pytest

from .. import harness
from ..support.kit import HELP, agent_presence, agent_ready, body_has, engine, jid, queue, until
from .fake_llm import FakeLlm
from .kit import DELAY, SPEAKER, bot_config, live, load_samples, plugin, support, ticket_for, zh_message

pytestmark = pytest.mark.integration



def live_has(*words: str):
    return live(body_has(*words))


def history_from(session: str):
    """The transcript an agent receives on accepting: delayed copies from the conversation JID."""
    return lambda m: m.xml.find(DELAY) is not None and m["from"].bare == session


async def test_bot_answers_an_english_and_a_chinese_question(component, prosody):
    app = await component(bot_config())
    await load_samples(app)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as en, harness.slix_client(port, "cust2") as zh, \
            harness.slix_client(port, "agent1") as agent:
        en_in, zh_in, agent_in = harness.Inbox(en), harness.Inbox(zh), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        en.send_message(mto=HELP, mbody="How long until I get my refund?", mtype="chat")
        answer = await en_in.next(live_has("Refunds reach your account within 5 to 7 business days"))
        assert answer["from"].bare == HELP
        assert answer["body"].startswith("Hi, I am the automatic assistant.")
        assert "Did this answer your question?" in answer["body"]
        zh_message(zh, HELP, "退款什么时候到账？")
        answer = await zh_in.next(live_has("5到7个工作日"))
        assert answer["from"].bare == HELP and answer["lang"] == "zh"
        assert answer["body"].startswith("您好，我是智能助手。") and "回复“人工”" in answer["body"]
        # Both stay with the bot: nobody was queued or offered.
        assert {t.customer: t.state for t in support(app).open_tickets()} == {jid("cust1"): "bot", jid("cust2"): "bot"}
        await agent_in.quiet(live_has("accept"), wait=0.3)
        await en_in.quiet(live_has("We will connect you"), wait=0.1)


async def test_zhuan_rengong_hands_off_and_the_agent_gets_the_transcript(component, prosody):
    app = await component(bot_config())
    await load_samples(app)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        zh_message(cust, HELP, "运费怎么算？")
        await cin.next(live_has("订单满50欧元免运费"))
        zh_message(cust, HELP, "转人工")
        await cin.next(live_has("正在为您转接人工客服"))
        await cin.next(live_has("我们会尽快为您接通客服人员"))   # support's own greeting: queued
        offer = await ain.next(live_has("accept"))
        session = offer["from"].bare
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        history = [await ain.next(history_from(session)) for _ in range(4)]
        assert [m["body"] for m in history] == [
            "运费怎么算？",
            "[智能助手] 您好，我是智能助手。\n订单满50欧元免运费，否则运费为4.90欧元。\n\n"
            "以上回答是否解决了您的问题？如未解决，回复“人工”即可转接人工客服。",
            "转人工",
            "[智能助手] 好的，正在为您转接人工客服，客服人员能看到我们之前的对话。"]
        roles = [m.xml.find(SPEAKER).get("role") if m.xml.find(SPEAKER) is not None else "customer"
                 for m in history]
        assert roles == ["customer", "bot", "customer", "bot"]
        await ain.next(live_has("You are now talking with", jid("cust1")))
        conversation = await plugin(app).engine.store.conversation(history_ticket(session))
        assert conversation.state == "handed_off" and conversation.reason == "asked"


def history_ticket(session: str) -> str:
    return session.split("@", 1)[0][len("t-"):]


async def test_low_confidence_hands_off_at_once_and_after_an_answer(component, prosody):
    app = await component(bot_config())
    await load_samples(app)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as first, harness.slix_client(port, "cust2") as later, \
            harness.slix_client(port, "agent1") as agent:
        fin, lin, ain = harness.Inbox(first), harness.Inbox(later), harness.Inbox(agent)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        # Nothing in the knowledge base comes close: straight to the queue, the bot says nothing.
        first.send_message(mto=HELP, mbody="Do you sell bicycles?", mtype="chat")
        greeting = await fin.next(live())
        assert "We will connect you" in greeting["body"]
        offer = await ain.next(live_has("accept", "Do you sell bicycles?"))
        ticket = history_ticket(offer["from"].bare)
        stored = await plugin(app).engine.store.conversation(ticket)
        assert stored.state == "handed_off" and stored.reason == "low_confidence" and stored.turns == 1
        # After an answer, an unrelated question hands off with an explanation.
        later.send_message(mto=HELP, mbody="reset password", mtype="chat")
        await lin.next(live_has("Reset password"))
        later.send_message(mto=HELP, mbody="Is the product waterproof?", mtype="chat")
        await lin.next(live_has("I could not find an answer to that, so I am passing you to a person"))
        await lin.next(live_has("We will connect you"))
        await until(lambda: (t := ticket_for(app, jid("cust2"))) is not None and t.state in ("queued", "offered"),
                    what="cust2 queued")


async def test_unsure_suggests_a_number_answers_and_thanks_closes(component, prosody):
    app = await component(bot_config())
    await load_samples(app)
    async with harness.slix_client(prosody.ports.c2s, "cust1") as cust:
        cin = harness.Inbox(cust)
        cust.send_message(mto=HELP, mbody="I want to change my order's delivery address", mtype="chat")
        suggestion = await cin.next(live_has("Did you mean one of these?"))
        lines = suggestion["body"].splitlines()
        assert lines[2].startswith("1. ") and lines[3].startswith("2. ")
        chosen = lines[3][3:]
        cust.send_message(mto=HELP, mbody="2", mtype="chat")
        entry = next(e for e in plugin(app).kb.entries("help") if e.question == chosen)
        await cin.next(live_has(entry.answer))
        ticket = ticket_for(app, jid("cust1"))
        cust.send_message(mto=HELP, mbody="thanks!", mtype="chat")
        await cin.next(live_has("Glad I could help"))
        await cin.next(live_has("This conversation is closed"))
        await until(lambda: ticket_for(app, jid("cust1")) is None, what="ticket closed")
        events = await support(app).events(ticket.id)
        assert [kind for kind, *_ in events] == ["created", "bot", "closed"]
        assert events[-1][3] == {"reason": "bot"}
        counts = await app.services["support.localhost"].hooks.service("support_bot").outcomes("help")
        assert counts["resolved"] == 1 and counts["answers"] == 1 and counts["handed_off"] == 0


async def test_llm_answers_grounded_and_times_out_to_the_knowledge_base(component, prosody):
    async with FakeLlm(text="Refunds usually take about a week (5 to 7 business days).") as server:
        app = await component(bot_config(llm={"enabled": True, "url": server.url, "model": "test-model",
                                              "timeout": 0.5, "api_key_env": "SWITCHBOARD_TEST_LLM_KEY"}))
        await load_samples(app)
        async with harness.slix_client(prosody.ports.c2s, "cust1") as cust:
            cin = harness.Inbox(cust)
            cust.send_message(mto=HELP, mbody="How long until I get my refund?", mtype="chat")
            await cin.next(live_has("Refunds usually take about a week"))
            assert "How long does a refund take?" in server.requests[0].body["messages"][0]["content"]
            server.mode = "slow"
            cust.send_message(mto=HELP, mbody="what does delivery cost", mtype="chat")
            answer = await cin.next(live_has("Shipping is free for orders over 50 EUR"))
            assert "Did this answer your question?" in answer["body"]
            assert len(server.requests) == 2
            assert ticket_for(app, jid("cust1")).state == "bot"


async def test_bot_conversation_survives_a_restart(component, prosody, tmp_path):
    app = await component(bot_config())
    await load_samples(app)
    async with harness.slix_client(prosody.ports.c2s, "cust1") as cust:
        cin = harness.Inbox(cust)
        cust.send_message(mto=HELP, mbody="I want to change my order's delivery address", mtype="chat")
        suggestion = await cin.next(live_has("Did you mean one of these?"))
        first_choice = suggestion["body"].splitlines()[2][3:]
        await app.stop()
        app = await component(bot_config())
        cust.send_message(mto=HELP, mbody="1", mtype="chat")
        entry = next(e for e in plugin(app).kb.entries("help") if e.question == first_choice)
        answer = await cin.next(live_has(entry.answer))
        assert not answer["body"].startswith("Hi")   # the same conversation: no second introduction
        assert engine(app).tickets and all(t.state == "bot" for t in engine(app).tickets.values())


async def test_queues_without_a_knowledge_base_are_not_answered_by_the_bot(component, prosody):
    app = await component(bot_config(queue(offer_timeout=10.0), queue("sales", agents=[jid("agent3")])))
    await load_samples(app, "help")
    async with harness.slix_client(prosody.ports.c2s, "cust1") as cust:
        cin = harness.Inbox(cust)
        cust.send_message(mto="sales@support.localhost", mbody="How long until I get my refund?", mtype="chat")
        first = await cin.next(live())
        assert "We will connect you" in first["body"]


async def test_options_reloaded_by_the_admin_apply_at_once(component, prosody):
    from dataclasses import replace

    from plugins.admin.hooks import RECONFIGURE, Reconfigure

    app = await component(bot_config())
    await load_samples(app)
    bot = plugin(app)
    stricter = replace(bot.options, answer_threshold=0.99, handoff_threshold=0.9)
    hooks = app.services["support.localhost"].hooks
    assert await hooks.fire(RECONFIGURE, Reconfigure("echo", object(), object())) is None   # not ours
    assert await hooks.fire(RECONFIGURE, Reconfigure("support_bot", stricter, bot.options)) is True
    async with harness.slix_client(prosody.ports.c2s, "cust1") as cust:
        cin = harness.Inbox(cust)
        # Answered with the default thresholds (see the first test); now below the hand-off threshold.
        cust.send_message(mto=HELP, mbody="How long until I get my refund?", mtype="chat")
        first = await cin.next(live())
        assert "We will connect you" in first["body"]


async def test_statistics_for_the_admin_plugin(component, prosody):
    from plugins.admin.hooks import STATS, StatsRequest

    app = await component(bot_config())
    await load_samples(app)
    async with harness.slix_client(prosody.ports.c2s, "cust1") as cust:
        cin = harness.Inbox(cust)
        cust.send_message(mto=HELP, mbody="reset password", mtype="chat")
        await cin.next(live_has("Reset password"))
        found = await app.services["support.localhost"].hooks.collect(STATS, StatsRequest("support.localhost", "zh"))
        stats = {s.var: s for batch in found if isinstance(batch, list) for s in batch}
        assert stats["knowledge_base_entries"].value == 18
        assert stats["bot_conversations"].value == 1 and stats["bot_conversations"].label_zh == "智能助手接待中"


async def test_a_failing_bot_still_hands_the_customer_to_a_person(component, prosody):
    app = await component(bot_config())
    await load_samples(app)
    bot = plugin(app)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as first, harness.slix_client(port, "cust2") as second:
        fin, sin = harness.Inbox(first), harness.Inbox(second)
        first.send_message(mto=HELP, mbody="reset password", mtype="chat")
        await fin.next(live_has("Reset password"))
        real_reply, real_first_step = bot.engine.reply, bot.engine.first_step

        async def broken_reply(*args, **kwargs):
            raise RuntimeError("deliberate failure")

        def broken_first_step(*args, **kwargs):
            raise RuntimeError("deliberate failure")

        bot.engine.reply, bot.engine.first_step = broken_reply, broken_first_step
        try:
            # Mid-conversation: the turn fails, the customer is queued (no error reaches them).
            first.send_message(mto=HELP, mbody="what does delivery cost", mtype="chat")
            await fin.next(live_has("We will connect you"))
            # First message: the bot cannot even start, the queue takes the customer.
            second.send_message(mto=HELP, mbody="what does delivery cost", mtype="chat")
            await sin.next(live_has("We will connect you"))
        finally:
            bot.engine.reply, bot.engine.first_step = real_reply, real_first_step
        await fin.quiet(lambda m: m["type"] == "error", wait=0.2)
        await sin.quiet(lambda m: m["type"] == "error", wait=0.1)
        stored = await bot.engine.store.conversation(ticket_for(app, jid("cust1")).id)
        assert stored.state == "handed_off" and stored.reason == "error"
