"""Tickets as agents see them: statuses, tags, priorities, searches, one-line listings (pure).

The engine's states are finer than a help desk's statuses; every state maps to one status:

=========  ====================================================================
status     engine states
=========  ====================================================================
open       new, bot, prechat (not with the people yet: the bot, the pre-chat form)
waiting    queued, offered (in the queue), offline (a message left out of hours)
active     active (an agent holds it)
pending    pending (the agent waits for the customer's reply)
resolved   resolved (closed; the customer writing again reopens it)
closed     closed (for good: the reopen window passed, or closed so by staff)
abandoned  abandoned (the customer left before an agent took it)
=========  ====================================================================
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Iterable

from component.texts import is_zh

from .model import Ticket

STATUSES = ("open", "waiting", "active", "pending", "resolved", "closed", "abandoned")
STATE_STATUS = {
    "new": "open", "bot": "open", "prechat": "open",
    "queued": "waiting", "offered": "waiting", "offline": "waiting",
    "active": "active", "pending": "pending", "resolved": "resolved", "closed": "closed",
    "abandoned": "abandoned",
}
STATUS_NAMES_ZH = {"open": "新建", "waiting": "等待中", "active": "处理中", "pending": "待客户回复",
                   "resolved": "已解决", "closed": "已关闭", "abandoned": "已放弃"}
_STATUS_OF_ZH = {zh: status for status, zh in STATUS_NAMES_ZH.items()}

PRIORITY_WORDS = {"low": -5, "normal": 0, "high": 5, "urgent": 10,
                  "低": -5, "普通": 0, "高": 5, "紧急": 10}
PRIORITY_RANGE = (-100, 100)
MAX_TAGS = 20
_TAG = re.compile(r"^[\w.-]{1,32}$")


def status_of(state: str) -> str:
    return STATE_STATUS.get(state, state)


def states_of(statuses: Iterable[str]) -> list[str]:
    wanted = set(statuses)
    return [state for state, status in STATE_STATUS.items() if status in wanted]


def status_name(status: str, lang: str) -> str:
    return STATUS_NAMES_ZH.get(status, status) if is_zh(lang) else status


def normalise_tag(raw: str) -> str | None:
    tag = raw.strip().lstrip("#").casefold()
    return tag if _TAG.match(tag) else None


def parse_tag_change(arg: str) -> tuple[list[str], list[str], list[str]]:
    """``"vip +billing -spam"`` -> (added, removed, invalid words)."""
    added: list[str] = []
    removed: list[str] = []
    invalid: list[str] = []
    for word in arg.replace(",", " ").split():
        target = removed if word.startswith("-") else added
        tag = normalise_tag(word[1:] if word[:1] in "+-" else word)
        if tag is None:
            invalid.append(word)
        elif tag not in target:
            target.append(tag)
    return added, removed, invalid


def apply_tags(tags: Iterable[str], added: Iterable[str], removed: Iterable[str]) -> list[str]:
    result = [t for t in tags if t not in set(removed)]
    for tag in added:
        if tag not in result:
            result.append(tag)
    return result[:MAX_TAGS]


def parse_priority(arg: str, urgent: int = 10) -> int | None:
    """``"high"``, ``"紧急"`` or a number within the range; None when not understood."""
    word = arg.strip().lower()
    if word in PRIORITY_WORDS:
        return urgent if PRIORITY_WORDS[word] == 10 else PRIORITY_WORDS[word]
    try:
        value = int(word)
    except ValueError:
        return None
    return value if PRIORITY_RANGE[0] <= value <= PRIORITY_RANGE[1] else None


@dataclass
class Search:
    """What a ticket search asks for; empty fields do not filter."""

    statuses: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    customer: str = ""
    agent: str = ""
    text: str = ""
    limit: int = 50

    @property
    def states(self) -> list[str]:
        return states_of(self.statuses)


def parse_search(arg: str) -> Search:
    """``/tickets pending #vip alice`` -> statuses, tags and free text."""
    search = Search(limit=20)
    words = []
    for word in arg.split():
        lowered = word.lower()
        tag = normalise_tag(word) if word.startswith("#") else None
        if lowered in STATUSES:
            search.statuses.append(lowered)
        elif lowered in _STATUS_OF_ZH:
            search.statuses.append(_STATUS_OF_ZH[lowered])
        elif tag:
            search.tags.append(tag)
        else:
            words.append(word)
    search.text = " ".join(words)
    return search


def age(seconds: float, lang: str) -> str:
    seconds = max(0, int(seconds))
    zh = is_zh(lang)
    if seconds < 3600:
        return f"{seconds // 60}{'分钟' if zh else ' min'}"
    if seconds < 86400 * 2:
        return f"{seconds // 3600}{'小时' if zh else ' h'}"
    return f"{seconds // 86400}{'天' if zh else ' d'}"


def line(t: Ticket, lang: str, now: float | None = None) -> str:
    """One ticket in a plain-text listing."""
    now = time.time() if now is None else now
    zh = is_zh(lang)
    parts = [t.id, status_name(status_of(t.state), lang), t.customer]
    if t.agent:
        parts.append(("客服 " if zh else "agent ") + t.agent.split("@", 1)[0])
    if t.priority:
        parts.append(("优先级 " if zh else "priority ") + str(t.priority))
    if t.tags:
        parts.append(" ".join("#" + tag for tag in t.tags))
    parts.append(age(now - t.created_at, lang))
    return " · ".join(parts)
