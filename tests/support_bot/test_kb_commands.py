"""Knowledge-base commands end to end (slixmpp's XEP-0050 client): who may run them, and what they do."""

from __future__ import annotations

import json

import pytest
from slixmpp.exceptions import IqError

from plugins.support_bot.kb_import import Draft

from .. import harness
from ..admin.client import Commands, fields, notes, options, rows
from ..support.kit import DOMAIN, jid, queue
from .kbdata import read
from .kit import bot_config, plugin

pytestmark = pytest.mark.integration

NODES = {"support-bot-kb-list", "support-bot-kb-add", "support-bot-kb-edit", "support-bot-kb-delete",
         "support-bot-kb-import", "support-bot-kb-export", "support-bot-kb-try"}


def two_queues() -> dict:
    return bot_config(queue(offer_timeout=10.0), queue("sales", agents=[jid("agent3")], supervisors=[]))


async def test_admin_imports_lists_tries_and_exports(component, prosody):
    app = await component(two_queues())
    async with harness.slix_client(prosody.ports.c2s, "admin", plugins=("xep_0050",)) as admin:
        cmds = Commands(admin, DOMAIN)
        assert NODES <= set(await cmds.nodes())
        # A broken file: the form comes back with the problems, nothing is imported.
        step = await cmds.execute("support-bot-kb-import")
        assert set(options(step, "queue")) == {"help", "sales"}
        step = await cmds.submit(step, {"queue": "help", "format": "auto", "mode": "merge",
                                        "data": "question,answer\nOnly a question,\n"})
        assert step["command"]["status"] == "executing"
        assert notes(step) == [("error", "1 problem(s), nothing imported: row 2: the answer is empty")]
        assert plugin(app).kb.size("help") == 0
        # The sample files: preview, then confirm.
        for name in ("kb_en.csv", "kb_zh.json"):
            step = await cmds.execute("support-bot-kb-import")
            step = await cmds.submit(step, {"queue": "help", "format": "auto", "mode": "merge", "data": read(name)})
            assert "9 entries read for help" in step["command"]["form"]["instructions"]
            step = await cmds.complete(step, {"confirm": True})
            assert step["command"]["status"] == "completed"
        assert notes(step) == [("info", "Imported into help: 9 added, 0 updated, 0 replaced; 18 entries now.")]
        assert plugin(app).kb.search("help", "退款什么时候到账")[0].entry.question == "退款多久到账？"
        # List with a filter.
        step = await cmds.run("support-bot-kb-list", {"queue": "help", "contains": "ＲＥＦＵＮＤ", "limit": "10"})
        found = rows(step)
        assert [r["question"] for r in found] == ["How long does a refund take?"]
        assert found[0]["keywords"] == "refund, money back"
        # What would the bot do?
        step = await cmds.run("support-bot-kb-try", {"queue": "help", "question": "when will I get my money back"})
        assert notes(step)[0][1].startswith("The bot would answer with entry ")
        assert rows(step)[0]["question"] == "How long does a refund take?"
        step = await cmds.run("support-bot-kb-try", {"queue": "help", "question": "转人工"})
        assert notes(step) == [("info", "The bot would hand off (asked).")]
        # Export, and import the export into another queue with replace.
        step = await cmds.run("support-bot-kb-export", {"queue": "help"})
        exported = "\n".join(fields(step)["data"])   # a text-multi value: one line per <value/>
        assert len(json.loads(exported)["entries"]) == 18
        step = await cmds.execute("support-bot-kb-import")
        step = await cmds.submit(step, {"queue": "sales", "format": "json", "mode": "replace", "data": exported})
        step = await cmds.complete(step, {"confirm": True})
        assert plugin(app).kb.size("sales") == 18 and plugin(app).kb.size("help") == 18


async def test_an_agent_adds_edits_and_deletes_in_chinese(component, prosody):
    app = await component(two_queues())
    async with harness.slix_client(prosody.ports.c2s, "agent1", plugins=("xep_0050",)) as agent:
        cmds = Commands(agent, DOMAIN, lang="zh")
        names = await cmds.names()
        assert names["support-bot-kb-add"] == "知识库：添加条目"
        step = await cmds.execute("support-bot-kb-add")
        assert options(step, "queue") == ["help"] and fields(step)["queue"] == "help"
        step = await cmds.complete(step, {"queue": "help", "question": "可以开发票吗？", "answer": ["可以。", "在订单页下载。"],
                                          "alternatives": ["怎么开发票", "发票在哪里"], "keywords": "发票，收据",
                                          "lang": "zh"})
        (kind, note), = notes(step)
        assert kind == "info" and note.startswith("已在 help 添加条目 ")
        entry_id = note.split("条目 ")[1].rstrip("。")
        entry = plugin(app).kb.get(entry_id)
        assert entry.answer == "可以。\n在订单页下载。" and entry.alternatives == ("怎么开发票", "发票在哪里")
        assert entry.keywords == ("发票", "收据") and entry.lang == "zh"
        # Edit: the form comes back filled in.
        step = await cmds.execute("support-bot-kb-edit")
        step = await cmds.submit(step, {"entry": entry_id})
        assert fields(step)["question"] == "可以开发票吗？"
        step = await cmds.complete(step, {"question": "可以开发票吗？", "answer": "可以，在“我的订单”中下载。",
                                          "alternatives": [], "keywords": "发票", "lang": "any"})
        assert notes(step) == [("info", f"条目 {entry_id} 已更新。")]
        assert plugin(app).kb.get(entry_id).answer == "可以，在“我的订单”中下载。" and plugin(app).kb.get(entry_id).lang == ""
        # Delete needs the confirmation.
        step = await cmds.execute("support-bot-kb-delete")
        step = await cmds.complete(step, {"entries": [entry_id], "confirm": False})
        assert notes(step) == [("error", "请勾选“确认删除”。")]
        step = await cmds.complete(step, {"entries": [entry_id], "confirm": True})
        assert notes(step) == [("info", "已删除 1 个条目。")]
        assert plugin(app).kb.size("help") == 0


async def test_refusals(component, prosody):
    app = await component(two_queues())
    entry = await plugin(app).kb.add("help", Draft("How do I reset my password?", "Settings."), "admin@localhost")
    port = prosody.ports.c2s
    async with harness.slix_client(port, "bob", plugins=("xep_0050",)) as bob, \
            harness.slix_client(port, "agent3", plugins=("xep_0050",)) as agent3:
        # Not staff of any queue: nothing listed, execution forbidden.
        assert not NODES & set(await Commands(bob, DOMAIN).nodes())
        with pytest.raises(IqError) as refused:
            await Commands(bob, DOMAIN).execute("support-bot-kb-list")
        assert refused.value.iq["error"]["condition"] == "forbidden"
        assert refused.value.iq["error"]["type"] == "auth"
        # An agent of sales only: help is not offered, and help's entries do not exist for them.
        cmds = Commands(agent3, DOMAIN)
        step = await cmds.execute("support-bot-kb-list")
        assert options(step, "queue") == ["sales"]
        step = await cmds.complete(step, {"queue": "help", "limit": "5"})
        assert notes(step) == [("error", "Choose one of your queues.")]
        step = await cmds.execute("support-bot-kb-delete")
        step = await cmds.complete(step, {"entries": [entry.id], "confirm": True})
        assert notes(step) == [("error", f"There is no entry {entry.id!r} in your queues.")]
        step = await cmds.execute("support-bot-kb-edit")
        step = await cmds.submit(step, {"entry": entry.id})
        assert notes(step)[0][0] == "error"
        assert plugin(app).kb.get(entry.id) is not None   # untouched
        step = await cmds.execute("support-bot-kb-add")
        step = await cmds.complete(step, {"queue": "sales", "question": "", "answer": "x", "lang": "any"})
        assert notes(step)[0][0] == "error" and step["command"]["status"] == "executing"


async def test_export_is_bounded_and_can_be_filtered(component, prosody, monkeypatch):
    from plugins.support_bot import commands

    from .kit import load_samples

    app = await component(two_queues())
    await load_samples(app)
    monkeypatch.setattr(commands, "EXPORT_LIMIT", 1500)
    async with harness.slix_client(prosody.ports.c2s, "agent2", plugins=("xep_0050",)) as agent:
        cmds = Commands(agent, DOMAIN)
        step = await cmds.run("support-bot-kb-export", {"queue": "help"})
        assert step["command"]["status"] == "executing"
        (kind, note), = notes(step)
        assert kind == "error" and note.startswith("18 entries make ") and "export a part with 'Containing'" in note
        step = await cmds.complete(step, {"queue": "help", "contains": "退款"})
        assert step["command"]["status"] == "completed"
        exported = json.loads("\n".join(fields(step)["data"]))["entries"]
        assert exported and all("退款" in json.dumps(e, ensure_ascii=False) for e in exported)
