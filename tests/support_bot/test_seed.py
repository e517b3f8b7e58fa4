"""A queue's knowledge base seeded from a file at start (what ``make run`` does with the demo one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from component.config import ConfigError
from component.devserver import DEMO_KB

from .. import harness
from .kit import bot_config, live, plugin, zh_message
from .test_bot_flow import HELP

pytestmark = pytest.mark.integration


def live_has(*words: str):
    return live(lambda m: all(w in m["body"] for w in words))


async def test_the_demo_knowledge_base_answers_at_once_in_both_languages(component, prosody):
    app = await component(bot_config(seed_files={"help": str(DEMO_KB)}))
    assert plugin(app).kb.size("help") == 24
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as en, harness.slix_client(port, "cust2") as zh:
        en_in, zh_in = harness.Inbox(en), harness.Inbox(zh)
        zh_message(zh, HELP, "发票怎么开？")
        await zh_in.next(live_has("电子发票"))
        en.send_message(mto=HELP, mbody="what are your opening hours?", mtype="chat")
        await en_in.next(live_has("Monday to Friday"))


async def test_a_seed_never_overwrites_a_knowledge_base_and_a_missing_file_is_a_config_error(component, prosody,
                                                                                            tmp_path: Path):
    seed = tmp_path / "one.csv"
    seed.write_text("question,answer\nWho are you?,A test entry.\n", encoding="utf-8")
    app = await component(bot_config(seed_files={"help": str(seed)}))
    assert plugin(app).kb.size("help") == 1
    await app.stop()
    seed.write_text("question,answer\nA,B\nC,D\n", encoding="utf-8")
    again = await component(bot_config(seed_files={"help": str(seed)}))
    assert plugin(again).kb.size("help") == 1  # not empty any more: left as it was
    await again.stop()
    with pytest.raises(ConfigError, match="seed_files.help"):
        await component(bot_config(seed_files={"help": str(tmp_path / "missing.json")}))
