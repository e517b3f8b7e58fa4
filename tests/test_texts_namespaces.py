"""The core's one zh/en text helper and one namespace table, and that plugins use them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from component import namespaces
from component.texts import Texts, is_zh, lang_code, pick

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("lang, expected", [
    ("zh", True), ("zh-CN", True), ("ZH-Hans", True), ("en", False), ("", False), (None, False), ("fr", False)])
def test_is_zh(lang: str | None, expected: bool) -> None:
    assert is_zh(lang) is expected


def test_texts_pick_format_and_refuse_bad_tables() -> None:
    texts = Texts({"hi": ("Hello {name}.", "你好 {name}。"), "plain": ("{literal}", "{literal}")})
    assert texts("hi", "zh-TW", name="Ann") == "你好 Ann。"
    assert texts("hi", "de", name="Ann") == "Hello Ann."
    assert texts("hi", None, name="Ann") == "Hello Ann."
    assert texts("plain") == "{literal}"  # no values: the template as it is
    assert "hi" in texts and len(texts) == 2 and texts["hi"][1] == "你好 {name}。"
    with pytest.raises(KeyError):
        texts("missing", "en")
    with pytest.raises(ValueError):
        Texts({"bad": ("only English",)})  # type: ignore[dict-item]
    assert pick("a", "甲", "zh") == "甲" and pick("a", "甲", "en") == "a"
    assert lang_code("zh-Hant") == "zh" and lang_code("fr") == "en" and lang_code(None, "zh") == "zh"


def test_every_plugin_text_table_is_complete() -> None:
    """Each plugin's table goes through the helper, so each entry is an (en, zh) pair that formats."""
    from plugins.muc import texts as muc
    from plugins.recall import service as recall
    from plugins.support import texts as support
    from plugins.support_bot import texts as bot
    from plugins.support_reports import texts as reports

    for table in (muc.text, support.text, bot.text, reports.text, recall.text, recall.notice):
        assert isinstance(table, Texts) and len(table) > 0
        for key, (en, zh) in table.items():
            assert en.strip() and zh.strip(), key
            names = set(re.findall(r"{(\w+)", en + zh))  # both are formatted with the same values
            values = {name: "x" for name in names}
            assert table(key, "en", **values) and table(key, "zh", **values), key


def _sources(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py"))


def test_language_rule_and_namespaces_are_declared_once() -> None:
    """No module but the core's helper decides what Chinese is; no plugin spells a namespace the table has."""
    uris = {v for k, v in vars(namespaces).items() if k.isupper() and isinstance(v, str)}
    offenders = []
    for path in _sources("plugins") + _sources("component"):
        if path.name in ("texts.py", "namespaces.py") and path.parent.name == "component":
            continue
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT)
        if re.search(r"def is_zh\b", source):
            offenders.append(f"{rel}: defines is_zh")
        if 'startswith("zh")' in source or "startswith('zh')" in source:
            offenders.append(f"{rel}: decides what Chinese is itself (use component.texts.is_zh)")
        for uri in re.findall(r'^\s*\w+\s*=\s*"([^"]+)"\s*$', source, re.M):
            if uri in uris:
                offenders.append(f"{rel}: declares {uri}")
    assert not offenders, "\n".join(offenders)
