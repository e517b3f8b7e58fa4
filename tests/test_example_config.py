"""The example configuration documents every option of every shipped plugin."""

from __future__ import annotations

import dataclasses
import pkgutil
import re
import typing
from pathlib import Path

import pytest

import plugins as plugin_package
from component.config import parse
from component.plugin import plugin_class

EXAMPLE = Path(__file__).resolve().parent.parent / "switchboard.example.toml"
SHIPPED = sorted(m.name for m in pkgutil.iter_modules(plugin_package.__path__) if m.ispkg)


def option_patterns(cls: type) -> dict[str, str]:
    """Option name -> how it must appear: a key line, or a table header for nested tables."""
    patterns = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        args = typing.get_args(hints[f.name])
        if args and dataclasses.is_dataclass(args[0]):
            patterns[f.name] = rf"^#? ?\[\[[\w.]*\.{f.name}\]\]"
            patterns.update(option_patterns(args[0]))
        elif dataclasses.is_dataclass(hints[f.name]):
            patterns[f.name] = rf"^#? ?\[[\w.]*\.{f.name}\]"
            patterns.update(option_patterns(hints[f.name]))
        else:
            patterns[f.name] = rf"^#? ?{f.name} = "
    return patterns


@pytest.mark.parametrize("name", SHIPPED)
def test_every_plugin_option_is_documented_in_the_example(name):
    text = EXAMPLE.read_text(encoding="utf-8")
    cls = plugin_class(name)
    assert re.search(rf"^#? ?\[services\.plugins\.{name}\]", text, re.M), f"no section for plugin {name}"
    missing = [opt for opt, pattern in option_patterns(cls.Options).items() if not re.search(pattern, text, re.M)]
    assert not missing, f"plugin {name}: options not documented in {EXAMPLE.name}: {missing}"


def test_example_parses(monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_ROOMS_SECRET", "x")
    monkeypatch.setenv("SWITCHBOARD_SUPPORT_SECRET", "y")
    config = parse(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE), EXAMPLE.parent)
    assert config.services
