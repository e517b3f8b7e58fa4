"""Shared helpers of the MUC tests."""

from __future__ import annotations

from typing import Any

from .. import harness

DOMAIN = "rooms.localhost"
NS_USER = "http://jabber.org/protocol/muc#user"
NS_MUC = "http://jabber.org/protocol/muc"


def room_jid(name: str) -> str:
    return f"{name}@{DOMAIN}"


def codes(stanza: Any) -> set[str]:
    x = stanza.xml.find(f"{{{NS_USER}}}x")
    if x is None:
        return set()
    return {s.get("code") for s in x.findall(f"{{{NS_USER}}}status")}


def item(stanza: Any) -> dict[str, str]:
    found = stanza.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}item")
    return dict(found.attrib) if found is not None else {}


def is_presence_from(jid: str, *, unavailable: bool | None = None):  # type: ignore[no-untyped-def]
    def check(stanza: Any) -> bool:
        if stanza.xml.tag.rpartition("}")[2] != "presence" or stanza["from"].full != jid:
            return False
        if unavailable is None:
            return True
        return (stanza.xml.get("type") == "unavailable") == unavailable
    return check


def error_of(stanza: Any) -> tuple[str, str]:
    return stanza["error"]["condition"], stanza["error"]["type"]


async def start(component, options: dict | None = None, extra: dict | None = None):  # type: ignore[no-untyped-def]
    plugins = {"muc": options or {}}
    plugins.update(extra or {})
    return await component({DOMAIN: plugins})


def client(prosody, user: str, resource: str = "test"):  # type: ignore[no-untyped-def]
    return harness.slix_client(prosody.ports.c2s, user, resource, plugins=("xep_0045",))
