"""How a configuration table becomes a typed dataclass, strictly, and how options are documented.

Every option is a dataclass field whose metadata carries its documentation (``doc``); a TOML
table is checked against the field's type annotation (``from_dict``): unknown keys, missing
required keys and wrong types are errors naming the file and the key path.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import field
from typing import Any, Literal


class ConfigError(Exception):
    """A configuration problem, located by file and key path."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {message}")


def doc(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field carrying its documentation."""
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(tp))
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a table"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def convert(tp: Any, value: Any, source: str, key: str) -> Any:
    """Check ``value`` against the type annotation ``tp``; return the typed value."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(arg, value, source, key)
            except ConfigError as exc:
                errors.append(exc.message)
        raise ConfigError(source, key, " or ".join(errors))
    if tp is Any:
        return value
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(source, key, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if origin is list:
        (item_type,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list):
            raise ConfigError(source, key, f"expected a list, got {value!r}")
        return [convert(item_type, item, source, f"{key}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        key_type, value_type = typing.get_args(tp) or (str, Any)
        if not isinstance(value, dict):
            raise ConfigError(source, key, f"expected a table, got {value!r}")
        return {k: convert(value_type, v, source, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, source, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, key, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(source, key, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(source, key, f"expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported option type {tp!r} at {key}")


def from_dict(cls: type, data: Any, source: str, key: str = "") -> Any:
    """Build dataclass ``cls`` from a TOML table, refusing unknown and missing keys."""
    if not isinstance(data, dict):
        raise ConfigError(source, key, f"expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{key}.{unknown[0]}" if key else unknown[0]
        raise ConfigError(source, where, f"unknown key (known: {', '.join(sorted(fields))})")
    values = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in data:
            values[name] = convert(hints[name], data[name], source, sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(source, sub, "required key is missing")
    return cls(**values)


def options_doc(cls: type) -> list[tuple[str, str, str]]:
    """(name, type, doc) for each documented option of a dataclass."""
    hints = typing.get_type_hints(cls)
    return [(f.name, _type_name(hints[f.name]), f.metadata.get("doc", ""))
            for f in dataclasses.fields(cls) if not f.metadata.get("internal")]


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_literal(v)}" for k, v in value.items()) + "}"
    return '""'


def _wrap_comment(text: str, indent: str = "") -> list[str]:
    import textwrap

    return [f"{indent}# {line}" for line in textwrap.wrap(text, 96)] or []


def render_options_toml(cls: type, table: str) -> list[str]:
    """Documented TOML for an options dataclass: every key with its default and doc.

    Lists of tables (e.g. support queues) are shown as one commented example entry.
    """
    hints = typing.get_type_hints(cls)
    simple: list[str] = [f"[{table}]"]
    nested: list[str] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        tp = hints[f.name]
        docline = f.metadata.get("doc", "")
        args = typing.get_args(tp)
        if typing.get_origin(tp) is list and args and dataclasses.is_dataclass(args[0]):
            nested.append("")
            nested += _wrap_comment(docline)
            inner = render_options_toml(args[0], f"{table}.{f.name}")
            nested.append(f"# [[{table}.{f.name}]]")
            nested += ["# " + line if line and not line.startswith("#") else line for line in inner[1:]]
            continue
        if dataclasses.is_dataclass(tp):
            nested.append("")
            nested += _wrap_comment(docline)
            nested += render_options_toml(tp, f"{table}.{f.name}")
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        simple += _wrap_comment(docline + (f" ({_type_name(tp)})" if typing.get_origin(tp) is Literal else ""))
        if default is None:
            simple.append(f"# {f.name} = ...  (required)")
        else:
            simple.append(f"{f.name} = {_toml_literal(default)}")
    return simple + nested
