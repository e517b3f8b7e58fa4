"""SECURITY.md states the limits' defaults; they must be the code's (a stale security page misleads)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from component.config import LimitsConfig
from plugins.admin.plugin import AdminOptions
from plugins.mam.plugin import MamOptions
from plugins.mam.service import HARD_MAX_PAGE_SIZE
from plugins.muc.plugin import MucOptions
from plugins.recall.plugin import RecallOptions
from plugins.support.options import QueueOptions, SupportOptions
from plugins.support_bot.llm import LlmOptions
from plugins.support_bot.options import BotOptions
from plugins.support_reports.options import ReportsOptions
from plugins.support_web.options import SupportWebOptions

DOC = Path(__file__).resolve().parent.parent.parent / "SECURITY.md"
ROW = re.compile(r"^\| `([a-z_.\[\]]+)` \| `([^`]+)` \|", re.MULTILINE)
#: Longest prefix first: the key after it is a field of the dataclass.
OPTIONS = [
    ("services.limits.", LimitsConfig),
    ("plugins.support.queues[].", QueueOptions),
    ("plugins.support_bot.llm.", LlmOptions),
    ("plugins.support_bot.", BotOptions),
    ("plugins.support_reports.", ReportsOptions),
    ("plugins.support_web.", SupportWebOptions),
    ("plugins.support.", SupportOptions),
    ("plugins.muc.", MucOptions),
    ("plugins.mam.", MamOptions),
    ("plugins.recall.", RecallOptions),
    ("plugins.admin.", AdminOptions),
]


def default_of(key: str) -> object:
    for prefix, cls in OPTIONS:
        if key.startswith(prefix):
            fields = {f.name: f for f in dataclasses.fields(cls)}
            name = key[len(prefix):]
            assert name in fields, f"{key}: {cls.__name__} has no option {name!r}"
            return fields[name].default
    raise AssertionError(f"{key}: no options class for this key")


def test_documented_defaults_are_the_code_defaults():
    text = DOC.read_text(encoding="utf-8")
    rows = ROW.findall(text)
    assert len(rows) >= 20, "the limits table was not found"
    for key, value in rows:
        documented = tomllib.loads(f"v = {value}")["v"]
        assert documented == default_of(key), f"SECURITY.md says {key} = {value}, the code says {default_of(key)!r}"
    documented_keys = {key for key, _ in rows}
    # Every input limit, and every limit the issue names, is on the page.
    for field in dataclasses.fields(LimitsConfig):
        assert f"services.limits.{field.name}" in documented_keys
    for key in ("plugins.muc.max_rooms_per_user", "plugins.muc.default_max_users",
                "plugins.support.queues[].max_waiting", "plugins.mam.max_page_size"):
        assert key in documented_keys
    assert f"at most {HARD_MAX_PAGE_SIZE}" in text
