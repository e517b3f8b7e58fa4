"""Support commands declared once: the registry, and one declaration served on chat and XEP-0050 (whisper)."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from plugins.support.commands import DECLARATIONS, REGISTRY
from plugins.support.declare import QUEUE, SESSION, Alias, Declaration, Registry, parse_chat

from .. import harness
from .kit import HELP, agent_presence, agent_ready, body_has, config, engine

CMD = "http://jabber.org/protocol/commands"


def test_every_chat_command_has_english_and_chinese_words_and_unique_nodes():
    for d in DECLARATIONS:
        words = [a.word for a in d.aliases if not a.bare]
        if words:
            assert any(w.isascii() for w in words) and any(not w.isascii() for w in words), d.name
    nodes = [d.node for d in DECLARATIONS if d.node]
    assert len(nodes) == len(set(nodes))
    assert REGISTRY.by_node("support-whisper").name == "whisper"
    assert REGISTRY.by_element("close").name == "close"
    assert REGISTRY.by_word(SESSION, "备注")[0].name == "note"
    assert REGISTRY.by_word(QUEUE, "tickets")[0] is REGISTRY.by_word(SESSION, "tickets")[0]
    assert REGISTRY.by_word(QUEUE, "close") is None  # a conversation command is not a queue command
    assert REGISTRY.by_word(SESSION, "accept") is None and REGISTRY.by_word(SESSION, "accept", bare=True)


def test_chat_arguments_fill_the_first_free_field_after_the_alias_preset():
    monitor, join = REGISTRY.by_word(SESSION, "join")
    assert REGISTRY.chat_values(monitor, join, "") == {"mode": "open"}
    transfer, alias = REGISTRY.by_word(SESSION, "transfer")
    assert REGISTRY.chat_values(transfer, alias, "sales") == {"to": "sales"}
    assert REGISTRY.missing(transfer, {}) == ["to"]
    assert parse_chat("/Transfer  sales ") == ("transfer", "sales") and parse_chat("hello") is None
    assert parse_chat("/") is None


def test_a_word_declared_twice_is_refused():
    async def nothing(call):
        return None

    one = Declaration("a", ("A", "甲"), (SESSION,), ("agent",), nothing, aliases=(Alias("x"),))
    two = Declaration("b", ("B", "乙"), (SESSION, QUEUE), ("agent",), nothing, aliases=(Alias("x"),))
    with pytest.raises(ValueError, match="declared twice"):
        Registry([one, two])


@pytest.mark.integration
async def test_whisper_reaches_the_agent_only_and_is_kept_in_the_history(component, prosody):
    app = await component(config())
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as agent, \
            harness.slix_client(port, "super") as sup:
        cin, ain, sin = harness.Inbox(cust), harness.Inbox(agent), harness.Inbox(sup)
        agent_presence(agent)
        await agent_ready(app, "agent1")
        cust.send_message(mto=HELP, mbody="hello", mtype="chat")
        session = (await ain.next(body_has("accept")))["from"].bare
        agent.send_message(mto=session, mbody="accept", mtype="chat")
        await cin.next(body_has("is now with you"))
        # Chat: the supervisor whispers; the agent reads it, the customer never does.
        sup.send_message(mto=session, mbody="/whisper offer the voucher", mtype="chat")
        whispered = await ain.next(body_has("[whisper from super] offer the voucher"))
        assert whispered["from"].bare == session
        await sin.next(body_has("Whispered to"))
        # XEP-0050: the same declaration as a form.
        form = await harness.run_command(sup, session, "support-whisper")
        assert [f.get("var") for f in form.iter("{jabber:x:data}field")] == ["text"]
        done = await harness.run_command(sup, session, "support-whisper", "complete", form.get("sessionid"),
                                         {"text": "and thank them"})
        assert done.get("status") == "completed"
        await ain.next(body_has("and thank them"))
        # An agent may not whisper (chat: said; XEP-0050: forbidden); a Chinese alias works like the English.
        agent.send_message(mto=session, mbody="/whisper hi", mtype="chat")
        await ain.next(body_has("You may not use /whisper here"))
        with pytest.raises(IqError) as err:
            await harness.run_command(agent, session, "support-whisper")
        assert err.value.condition == "forbidden"
        agent.send_message(mto=session, mbody="/备注 大客户", mtype="chat")
        await ain.next(body_has("Note saved"))
        await cin.quiet(body_has("voucher"), wait=0.3)
        await cin.quiet(body_has("thank them"), wait=0.1)
        t = next(iter(engine(app).tickets.values()))
        events = await engine(app).store.events(t.id)
        whispers = [(actor, data) for kind, _at, actor, data in events if kind == "whisper"]
        assert [(actor.split("@")[0], data["text"]) for actor, data in whispers] == [
            ("super", "offer the voucher"), ("super", "and thank them")]
        assert [n[2] for n in await engine(app).store.notes(t.id)] == ["大客户"]
        # The archive (what the customer may read back) holds no whisper.
        archive = app.services[engine(app).domain].hooks.service("archive")
        stored = [el for el, _ in await archive.history(session, maxstanzas=50, maxchars=None, since=None,
                                                         seconds=None)]
        assert not any("voucher" in (c.text or "") for el in stored for c in el)
