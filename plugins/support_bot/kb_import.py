"""Knowledge-base files: CSV and JSON in, JSON out.

CSV: a header row, then one entry per row. Columns (English or Chinese names,
any order; only question and answer are required):

    id | question 问题 | answer 答案 | alternatives 相似问题 | keywords 关键词 | lang 语言

``alternatives`` are separated by ``|`` or new lines, ``keywords`` by commas
(``,`` or ``，``), ``|`` or semicolons. The delimiter (comma, semicolon, tab)
is detected; a UTF-8 byte-order mark is accepted.

JSON: a list of objects with the same keys (``alternatives`` and ``keywords``
as lists or strings), or ``{"entries": [...]}``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from component.texts import is_zh

MAX_QUESTION = 1000
MAX_ANSWER = 8000
LANGS = ("", "en", "zh")

COLUMNS = {
    "id": "id", "编号": "id",
    "question": "question", "q": "question", "问题": "question", "标准问题": "question",
    "answer": "answer", "a": "answer", "答案": "answer", "回答": "answer",
    "alternatives": "alternatives", "alternative questions": "alternatives", "variants": "alternatives",
    "相似问题": "alternatives", "相似问法": "alternatives",
    "keywords": "keywords", "tags": "keywords", "关键词": "keywords", "标签": "keywords",
    "lang": "lang", "language": "lang", "语言": "lang",
}

_KEYWORD_SPLIT = re.compile(r"[,，;；|、]")
_ALTERNATIVE_SPLIT = re.compile(r"\||\r?\n")


@dataclass
class Draft:
    """An entry read from a file, before it gets an id and a queue."""

    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    lang: str = ""
    id: str = ""


@dataclass
class Parsed:
    drafts: list[Draft] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)   #: "row 3: the answer is empty"


def _split(value: Any, pattern: re.Pattern[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else pattern.split(str(value))
    seen: list[str] = []
    for item in items:
        text = str(item).strip()
        if text and text not in seen:
            seen.append(text)
    return tuple(seen)


def _lang(value: Any) -> str:
    text = str(value or "").strip().lower()
    if is_zh(text) or text in ("中文", "chinese", "cn"):
        return "zh"
    if text.startswith("en") or text in ("英文", "english"):
        return "en"
    if text in ("", "any", "*", "all"):
        return ""
    raise ValueError(f"unknown language {value!r} (en, zh or empty)")


def draft_from(record: dict[str, Any]) -> Draft:
    """One entry from a dict of (possibly Chinese or differently named) columns; ValueError if unusable."""
    data: dict[str, Any] = {}
    for key, value in record.items():
        name = COLUMNS.get(str(key).strip().lower().lstrip("\ufeff"))
        if name and value not in (None, ""):
            data[name] = value
    question = str(data.get("question", "")).strip()
    answer = str(data.get("answer", "")).strip()
    if not question:
        raise ValueError("the question is empty")
    if not answer:
        raise ValueError("the answer is empty")
    if len(question) > MAX_QUESTION:
        raise ValueError(f"the question is longer than {MAX_QUESTION} characters")
    if len(answer) > MAX_ANSWER:
        raise ValueError(f"the answer is longer than {MAX_ANSWER} characters")
    return Draft(question=question, answer=answer,
                 alternatives=tuple(a for a in _split(data.get("alternatives"), _ALTERNATIVE_SPLIT) if a != question),
                 keywords=_split(data.get("keywords"), _KEYWORD_SPLIT), lang=_lang(data.get("lang")),
                 id=str(data.get("id", "")).strip())


def parse_csv(text: str) -> Parsed:
    text = text.lstrip("\ufeff")
    result = Parsed()
    if not text.strip():
        result.errors.append("the file is empty")
        return result
    # The header row tells the delimiter; quoting stays the spreadsheet default ("" inside quotes).
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    known = {COLUMNS.get((name or "").strip().lower()) for name in reader.fieldnames or ()}
    if not {"question", "answer"} <= known:
        result.errors.append("the header row needs at least the columns question and answer (问题, 答案)")
        return result
    try:
        for number, row in enumerate(reader, start=2):
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue
            try:
                result.drafts.append(draft_from({k: v for k, v in row.items() if k is not None}))
            except ValueError as exc:
                result.errors.append(f"row {number}: {exc}")
    except csv.Error as exc:
        result.errors.append(f"not valid CSV: {exc}")
    return result


def parse_json(text: str) -> Parsed:
    result = Parsed()
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except ValueError as exc:
        result.errors.append(f"not valid JSON: {exc}")
        return result
    if isinstance(data, dict):
        data = data.get("entries")
    if not isinstance(data, list):
        result.errors.append('expected a list of entries, or {"entries": [...]}')
        return result
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            result.errors.append(f"entry {number}: not an object")
            continue
        try:
            result.drafts.append(draft_from(item))
        except ValueError as exc:
            result.errors.append(f"entry {number}: {exc}")
    return result


def parse(text: str, fmt: str = "auto") -> Parsed:
    """Parse a knowledge-base file; ``fmt`` is csv, json or auto (JSON when it starts like JSON)."""
    if fmt == "auto":
        fmt = "json" if text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{") else "csv"
    return parse_json(text) if fmt == "json" else parse_csv(text)


def to_json(entries: list[Any]) -> str:
    """Entries as the JSON this module reads back."""
    return json.dumps({"entries": [
        {"id": e.id, "question": e.question, "answer": e.answer, "alternatives": list(e.alternatives),
         "keywords": list(e.keywords), "lang": e.lang} for e in entries]}, ensure_ascii=False, indent=1)


CSV_COLUMNS = ("id", "question", "answer", "alternatives", "keywords", "lang")


def to_csv(entries: list[Any]) -> str:
    """Entries as CSV this module reads back: alternatives one per line inside their cell
    (a ``|`` may be part of a question), keywords separated by commas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow([e.id, e.question, e.answer, "\n".join(e.alternatives), ", ".join(e.keywords), e.lang])
    return out.getvalue()
