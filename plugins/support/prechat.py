"""The pre-chat form: what a queue asks before a customer reaches an agent (pure, no I/O).

A queue lists field names (``join_form``); ``name``, ``email``, ``order`` and ``phone`` come
with labels, questions and checks in English and Chinese, any other name is asked as it is.
The same fields are offered three ways: inside XEP-0142 ``join-queue`` (the IQ flow), as a
XEP-0004 form in a chat message, and as plain-text questions one at a time for clients
that do not render forms. Answers live in the ticket's ``form`` (a skipped optional field is
stored empty, so it is not asked again); the key ``message`` holds the first message.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from component.forms import Form, new_form
from component.texts import is_zh

from .stanza import PRECHAT_FORM

MAX_ANSWER = 200
RESERVED = ("message",)

#: field -> ((label en, label zh), (question en, question zh))
KNOWN: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "name": (("Name", "姓名"), ("May I have your name?", "请问怎么称呼您？")),
    "email": (("Email", "电子邮箱"), ("What is your email address?", "请留下您的电子邮箱地址。")),
    "order": (("Order number", "订单号"), ("What is your order number?", "请提供您的订单号。")),
    "phone": (("Phone", "电话"), ("What is your phone number?", "请留下您的电话号码。")),
}

SKIP_WORDS = frozenset({"skip", "-", "none", "n/a", "no", "跳过", "无", "没有", "不用"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,32}$")


def _zh(lang: str) -> bool:
    return is_zh(lang)


def label(var: str, lang: str) -> str:
    known = KNOWN.get(var)
    if known is None:
        return var
    return known[0][1] if _zh(lang) else known[0][0]


def question(var: str, lang: str, optional: bool) -> str:
    known = KNOWN.get(var)
    if known is None:
        asked = f"请填写：{var}" if _zh(lang) else f"Please give your {var}."
    else:
        asked = known[1][1] if _zh(lang) else known[1][0]
    if optional:
        asked += "（没有可回复“跳过”）" if _zh(lang) else " (reply “skip” if you have none)"
    return asked


def check(var: str, value: str) -> tuple[str, str | None]:
    """(cleaned value, None) or (value, error key in texts.TEXTS)."""
    value = " ".join(value.split())[:MAX_ANSWER]
    if var == "email" and value and not _EMAIL.match(value):
        return value, "prechat_bad_email"
    if var == "phone" and value and not _PHONE.match(value):
        return value, "prechat_bad_phone"
    return value, None


def missing(fields: Iterable[str], answers: Mapping[str, str]) -> list[str]:
    """The fields not answered yet (a skipped optional one counts as answered)."""
    return [f for f in fields if f not in answers]


def is_skip(text: str) -> bool:
    return text.strip().lower() in SKIP_WORDS


def answer(var: str, text: str, optional: bool) -> tuple[str | None, str | None]:
    """A plain-text answer to ``var``: (stored value or None, error key or None)."""
    text = text.strip()
    if is_skip(text):
        return ("", None) if optional else (None, "prechat_required")
    if not text:
        return None, "prechat_required"
    value, error = check(var, text)
    return (None, error) if error else (value, None)


def read_form(values: Mapping[str, list[str]], fields: Iterable[str], optional: Iterable[str],
              ) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A whole form submission: (accepted answers, [(field, error key)])."""
    optional = set(optional)
    accepted: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    for var in fields:
        raw = " ".join(v for v in values.get(var, []) if v).strip()
        if not raw:
            if var in optional:
                accepted[var] = ""
            else:
                errors.append((var, "prechat_required"))
            continue
        value, error = check(var, raw)
        if error:
            errors.append((var, error))
        else:
            accepted[var] = value
    return accepted, errors


def build_form(fields: Iterable[str], optional: Iterable[str], answers: Mapping[str, str], lang: str,
               title: str = "", instructions: str = "") -> Form:
    """The XEP-0004 form (type form) asking the fields, with what is known already filled in."""
    optional = set(optional)
    zh = _zh(lang)
    form = new_form(title or ("请先填写以下信息" if zh else "Before we connect you"),
                    instructions or ("填写后提交，或直接回复文字回答问题。" if zh
                                     else "Submit this form, or simply answer the questions in the chat."),
                    form_type_value=PRECHAT_FORM)
    for var in fields:
        form.add_field(var=var, ftype="text-single", label=label(var, lang), required=var not in optional,
                       value=answers.get(var) or None)
    return form


def summary(fields: Iterable[str], answers: Mapping[str, str], lang: str) -> str:
    """``Name: Alice · Email: a@b.c`` for the agent (empty answers left out)."""
    parts = [f"{label(var, lang)}: {answers[var]}" for var in fields if answers.get(var)]
    return " · ".join(parts)
