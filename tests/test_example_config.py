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


def option_names(cls: type) -> set[str]:
    names = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        names.add(f.name)
        args = typing.get_args(hints[f.name])
        if args and dataclasses.is_dataclass(args[0]):
            names |= option_names(args[0])
        if dataclasses.is_dataclass(hints[f.name]):
            names |= option_names(hints[f.name])
    return names


@pytest.mark.parametrize("name", SHIPPED)
def test_every_plugin_option_is_documented_in_the_example(name):
    text = EXAMPLE.read_text(encoding="utf-8")
    cls = plugin_class(name)
    assert re.search(rf"^#? ?\[services\.plugins\.{name}\]", text, re.M), f"no section for plugin {name}"
    missing = [opt for opt in option_names(cls.Options) if not re.search(rf"^#? ?{opt} = ", text, re.M)]
    assert not missing, f"plugin {name}: options not documented in {EXAMPLE.name}: {missing}"


def test_example_parses(monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_ROOMS_SECRET", "x")
    monkeypatch.setenv("SWITCHBOARD_SUPPORT_SECRET", "y")
    config = parse(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE), EXAMPLE.parent)
    assert config.services
