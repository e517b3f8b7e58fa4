"""User-facing texts in English and Chinese, chosen by ``xml:lang``.

A plugin keeps its texts in one table of ``key: (english, chinese)`` templates
and reads them through :class:`Texts`; the language rule (anything starting
with ``zh`` is Chinese, everything else English) lives only here.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping


def is_zh(lang: str | None) -> bool:
    """True for ``zh``, ``zh-CN``, ``zh-Hans``…; False for None, empty and every other language."""
    return bool(lang) and str(lang).lower().startswith("zh")


def pick(english: str, chinese: str, lang: str | None) -> str:
    """One of two strings by language (labels built on the spot)."""
    return chinese if is_zh(lang) else english


def lang_code(lang: str | None, default: str = "en") -> str:
    """``zh`` or ``en`` for a stanza's xml:lang; ``default`` when it has none."""
    if not lang:
        return default
    return "zh" if is_zh(lang) else "en"


class Texts(Mapping[str, tuple[str, str]]):
    """A plugin's table of templates: ``texts(key, lang, **values)`` formats one."""

    def __init__(self, table: Mapping[str, tuple[str, str]]) -> None:
        for key, pair in table.items():
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise ValueError(f"text {key!r} must be an (english, chinese) pair")
        self._table = dict(table)

    def __call__(self, key: str, lang: str | None = None, **values: Any) -> str:
        template = pick(*self._table[key], lang)
        return template.format(**values) if values else template

    def __getitem__(self, key: str) -> tuple[str, str]:
        return self._table[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)
