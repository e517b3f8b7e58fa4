"""Validate elements against the project's XSDs (schemas/*.xsd) with lxml.

    from tests.schema import assert_valid
    assert_valid(element)              # picks the XSD by the element's namespace
    assert_valid(element, "support")   # or names it

``element`` may be an ``xml.etree`` element, an lxml element, a slixmpp stanza
(its ``.xml`` is used) or serialized XML. Namespaces map to files in
:data:`SCHEMAS`; others may add theirs.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent / "schemas"

#: namespace -> XSD file name under schemas/
SCHEMAS: dict[str, str] = {
    "urn:switchboard:support:0": "support.xsd",
    "http://jabber.org/protocol/workgroup": "workgroup.xsd",
    "urn:switchboard:echo:0": "echo.xsd",
    "urn:switchboard:support:monitor:0": "support-monitor.xsd",
    "urn:switchboard:web:0": "web.xsd",
    "urn:switchboard:support:peer:0": "support-peer.xsd",
    "urn:switchboard:muc:peer:0": "muc-peer.xsd",
}


@functools.lru_cache(maxsize=None)
def schema(name: str) -> etree.XMLSchema:
    path = ROOT / (name if name.endswith(".xsd") else f"{name}.xsd")
    return etree.XMLSchema(etree.parse(str(path)))


def _lxml(element: Any) -> etree._Element:
    if hasattr(element, "xml") and not isinstance(element, (str, bytes)):
        element = element.xml
    if isinstance(element, (str, bytes)):
        return etree.fromstring(element.encode() if isinstance(element, str) else element)
    if isinstance(element, etree._Element):
        return element
    return etree.fromstring(ET.tostring(element))


def namespace_of(element: Any) -> str:
    tag = _lxml(element).tag
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def assert_valid(element: Any, name: str | None = None) -> None:
    """Raise AssertionError with the validator's messages unless ``element`` is valid."""
    el = _lxml(element)
    if name is None:
        ns = namespace_of(el)
        if ns not in SCHEMAS:
            raise AssertionError(f"no schema registered for namespace {ns!r}")
        name = SCHEMAS[ns]
    xsd = schema(name)
    if not xsd.validate(etree.ElementTree(el)):
        raise AssertionError(f"{etree.tostring(el).decode()} is not valid against {name}: "
                             + "; ".join(str(e) for e in xsd.error_log))


def validate_children(stanza: Any, namespaces: tuple[str, ...] = tuple(SCHEMAS)) -> int:
    """Validate every child of ``stanza`` in one of ``namespaces``; return how many were checked."""
    el = _lxml(stanza)
    checked = 0
    for child in el:
        if isinstance(child.tag, str) and namespace_of(child) in namespaces:
            assert_valid(child)
            checked += 1
    return checked
