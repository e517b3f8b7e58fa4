"""Elements of ``urn:switchboard:web:0`` (schemas/web.xsd)."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, SubElement

from component.namespaces import WEB as NS

from .identity import CLAIMS, MAX_CLAIM

__all__ = ["NS", "token", "resumed", "read_context", "context"]
MAX_URL = 2000
MAX_TITLE = 300
MAX_TOKEN = 100


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


def token(value: str, ticket: str) -> Element:
    """``<token ticket='…'>value</token>``: the answer to a token request."""
    el = Element(q("token"), {"ticket": ticket})
    el.text = value
    return el


def resumed(ticket: str, state: str) -> Element:
    return Element(q("resume"), {"ticket": ticket, "state": state})


def read_context(el: Element) -> dict[str, Any]:
    """The page, language and identity claims of a ``<context/>``, cut to size."""
    page = el.find(q("page"))
    ident = el.find(q("identity"))
    out: dict[str, Any] = {
        "url": (page.get("url", "") if page is not None else "")[:MAX_URL],
        "title": (page.get("title", "") if page is not None else "")[:MAX_TITLE],
        "lang": (el.findtext(q("lang")) or "").strip()[:35],
        "claims": {}, "signature": "",
    }
    if ident is not None:
        out["claims"] = {k: ident.get(k, "").strip()[:MAX_CLAIM] for k in (*CLAIMS, "ts") if ident.get(k, "").strip()}
        out["signature"] = ident.get("signature", "").strip()[:128]
    return out


def context(data: dict[str, Any], verified: bool) -> Element:
    """What the agent receives: ``<context/>`` with ``<identity verified='…'/>`` and no signature."""
    el = Element(q("context"))
    if data.get("url") or data.get("title"):
        SubElement(el, q("page"), {k: data[k] for k in ("url", "title") if data.get(k)})
    if data.get("lang"):
        SubElement(el, q("lang")).text = data["lang"]
    claims = {k: v for k, v in data.get("claims", {}).items() if k in CLAIMS and v}
    if claims:
        SubElement(el, q("identity"), {**claims, "verified": "true" if verified else "false"})
    return el
