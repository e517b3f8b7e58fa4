"""Canned replies: a queue's ready-made answers that agents send with ``/c <shortcut>`` (pure).

A reply has an English text and optionally a Chinese one (a customer writing in Chinese gets
it when it exists). Texts may name ``{name}`` (the customer's name from the pre-chat form,
else the local part of their JID), ``{agent}`` (the agent's local part), ``{ticket}`` and
``{queue}``; any other brace is left as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from component.texts import is_zh

MAX_TEXT = 4000
_SHORTCUT = re.compile(r"^[\w.-]{1,32}$")
_PLACEHOLDER = re.compile(r"\{(name|agent|ticket|queue)\}")


@dataclass
class Canned:
    queue: str
    shortcut: str
    text: str
    text_zh: str = ""
    updated_by: str = ""
    updated_at: float = 0.0

    def for_lang(self, lang: str) -> str:
        return self.text_zh if is_zh(lang) and self.text_zh else self.text


def normalise_shortcut(raw: str) -> str | None:
    shortcut = raw.strip().lstrip("/").casefold()
    return shortcut if _SHORTCUT.match(shortcut) else None


def render(text: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), text)
