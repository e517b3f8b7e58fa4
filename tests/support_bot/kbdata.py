"""The sample knowledge bases of these tests (data/kb_en.csv, data/kb_zh.json) as entries."""

from __future__ import annotations

from pathlib import Path

from plugins.support_bot.kb_import import parse
from plugins.support_bot.retrieval import Entry, Index

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def sample_entries(queue: str = "help") -> list[Entry]:
    entries = []
    for name in ("kb_en.csv", "kb_zh.json"):
        parsed = parse(read(name))
        assert not parsed.errors, parsed.errors
        for i, d in enumerate(parsed.drafts):
            entries.append(Entry(id=f"{name.split('.')[0]}-{i}", queue=queue, question=d.question, answer=d.answer,
                                 alternatives=d.alternatives, keywords=d.keywords, lang=d.lang))
    return entries


def sample_index() -> Index:
    index = Index()
    index.put_many(sample_entries())
    return index


def by_question(index: Index, question: str) -> Entry:
    return next(e for e in index.entries() if e.question == question)
