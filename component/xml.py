"""Compact XML for the wire: stanzas serialized once, without whitespace or redundant xmlns.

The hot paths (room broadcast, archive pages) build their output as strings;
these helpers are the one place that knows how to escape and serialize for them.
"""

from __future__ import annotations

import re
from typing import Iterable
from xml.etree.ElementTree import Element

from . import namespaces as xmlns

NS_CLIENT = xmlns.CLIENT
NS_XML = xmlns.XML
#: Namespaces a stanza may carry depending on the stream it came from; on the
#: wire towards clients they are all jabber:client.
STREAM_NAMESPACES = frozenset(("", NS_CLIENT, xmlns.COMPONENT, xmlns.SERVER))

_TEXT_SPECIAL = re.compile(r"[&<>\r]")
_ATTR_SPECIAL = re.compile(r"[&<>\"\n\r\t]")


def escape_text(text: str) -> str:
    if not _TEXT_SPECIAL.search(text):
        return text  # the usual case, decided at C speed
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def escape_attr(text: str) -> str:
    if not _ATTR_SPECIAL.search(text):
        return text
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def split_tag(tag: str) -> tuple[str, str]:
    """``{ns}local`` -> (ns, local); an unqualified tag has namespace ""."""
    if tag[:1] == "{":
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _write(elem: Element, parent_ns: str | None, out: list[str]) -> None:
    ns, local = split_tag(elem.tag)
    if ns in STREAM_NAMESPACES:
        # Unqualified children of a foreign-namespace parent inherit it.
        ns = NS_CLIENT if (ns or parent_ns is None or parent_ns == NS_CLIENT) else parent_ns
    out.append("<" + local)
    if ns != parent_ns:
        out.append(f' xmlns="{escape_attr(ns)}"')
    prefixes = 0
    for key, value in elem.attrib.items():
        if key[:1] == "{":
            attr_ns, attr_local = split_tag(key)
            if attr_ns == NS_XML:
                key = "xml:" + attr_local
            else:  # rare: a namespaced attribute gets its own prefix declaration
                prefix = f"a{prefixes}"
                prefixes += 1
                out.append(f' xmlns:{prefix}="{escape_attr(attr_ns)}"')
                key = f"{prefix}:{attr_local}"
        out.append(f' {key}="{escape_attr(value)}"')
    if len(elem) == 0 and not elem.text:
        out.append("/>")
        return
    out.append(">")
    if elem.text:
        out.append(escape_text(elem.text))
    for child in elem:
        _write(child, ns, out)
        if child.tail:
            out.append(escape_text(child.tail))
    out.append(f"</{local}>")


def serialize(elem: Element, parent_ns: str | None = NS_CLIENT) -> str:
    """Compact XML of an element; ``parent_ns`` is the default namespace in force around it.

    With the default, a stanza written on our stream carries no xmlns on its
    root; pass None to declare it (a stanza forwarded inside another element).
    """
    out: list[str] = []
    _write(elem, parent_ns, out)
    return "".join(out)


def serialize_children(children: Iterable[Element], parent_ns: str | None = NS_CLIENT) -> str:
    out: list[str] = []
    for child in children:
        _write(child, parent_ns, out)
    return "".join(out)


class Addressed:
    """A serialized stanza written to many recipients by substituting only ``to``."""

    __slots__ = ("head", "rest")

    def __init__(self, xml: str) -> None:
        # xml starts with "<message" / "<presence" / "<iq": put ' to="' right after the name.
        cut = 1
        while cut < len(xml) and xml[cut] not in " />":
            cut += 1
        self.head = xml[:cut] + ' to="'
        self.rest = '"' + xml[cut:]

    def to(self, escaped_jid: str) -> str:
        return self.head + escaped_jid + self.rest

    def to_many(self, escaped_jids: Iterable[str]) -> tuple[str, int]:
        jids = escaped_jids if isinstance(escaped_jids, list) else list(escaped_jids)
        if not jids:
            return "", 0
        # One join: the text between two recipients' JIDs is always rest + head.
        return self.head + (self.rest + self.head).join(jids) + self.rest, len(jids)
