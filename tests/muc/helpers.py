"""Shared helpers of the MUC tests (slixmpp side)."""

from __future__ import annotations

from typing import Any

from slixmpp.exceptions import IqError

from .. import harness

DOMAIN = "rooms.localhost"
NS_MUC = "http://jabber.org/protocol/muc"
NS_USER = NS_MUC + "#user"
NS_ADMIN = NS_MUC + "#admin"
NS_OWNER = NS_MUC + "#owner"
SID = "urn:xmpp:sid:0"
OID = "urn:xmpp:occupant-id:0"


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


def occupant_id(stanza: Any) -> str | None:
    found = stanza.xml.find(f"{{{OID}}}occupant-id")
    return found.get("id") if found is not None else None


def is_presence_from(jid: str, *, unavailable: bool | None = None):  # type: ignore[no-untyped-def]
    def check(stanza: Any) -> bool:
        if stanza.xml.tag.rpartition("}")[2] != "presence" or stanza["from"].full != jid:
            return False
        if unavailable is None:
            return True
        return (stanza.xml.get("type") == "unavailable") == unavailable
    return check


def is_body(body: str):  # type: ignore[no-untyped-def]
    return lambda s: s.xml.tag.endswith("}message") and s["body"] == body


def error_of(stanza: Any) -> tuple[str, str]:
    return stanza["error"]["condition"], stanza["error"]["type"]


async def start(component, options: dict | None = None, extra: dict | None = None):  # type: ignore[no-untyped-def]
    plugins = {"muc": options or {}}
    plugins.update(extra or {})
    return await component({DOMAIN: plugins})


def client(prosody, user: str, resource: str = "test"):  # type: ignore[no-untyped-def]
    return harness.slix_client(prosody.ports.c2s, user, resource, plugins=("xep_0045",))


class Member:
    """A logged-in slixmpp client with its inbox, acting in rooms."""

    def __init__(self, xmpp: Any) -> None:
        self.xmpp = xmpp
        self.inbox = harness.Inbox(xmpp, kinds=("message", "presence"))
        self.muc = xmpp.plugin["xep_0045"]

    @property
    def jid(self) -> str:
        return self.xmpp.boundjid.full

    async def join(self, room: str, nick: str, password: str = "", maxhistory: str | None = None,
                   expect_error: bool = False) -> Any:
        """Join and return the self-presence (or the error presence when expect_error)."""
        presence = self.xmpp.make_presence(pto=f"{room}/{nick}")
        x = presence.xml.makeelement(f"{{{NS_MUC}}}x", {})
        if password:
            pw = x.makeelement(f"{{{NS_MUC}}}password", {})
            pw.text = password
            x.append(pw)
        if maxhistory is not None:
            x.append(x.makeelement(f"{{{NS_MUC}}}history", {"maxstanzas": maxhistory}))
        presence.xml.append(x)
        presence.send()
        got = await self.inbox.next(lambda s: is_presence_from(f"{room}/{nick}")(s)
                                    and (s["type"] == "error" or "110" in codes(s)))
        if expect_error:
            assert got["type"] == "error", f"expected an error, got {got}"
        else:
            assert got["type"] != "error", f"join failed: {got}"
        return got

    async def leave(self, room: str, nick: str, status: str = "") -> Any:
        """Leave and return the self unavailable presence."""
        self.xmpp.send_presence(pto=f"{room}/{nick}", ptype="unavailable", pstatus=status or None)
        return await self.inbox.next(is_presence_from(f"{room}/{nick}", unavailable=True))

    async def subject(self, room: str) -> Any:
        return await self.inbox.next(lambda s: s.xml.tag.endswith("}message") and s["from"].bare == room
                                     and s.xml.find("{jabber:client}subject") is not None)

    async def configure(self, room: str, **fields: Any) -> None:
        form = self.xmpp.plugin["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/muc#roomconfig")
        for var, value in fields.items():
            form.add_field(var=f"muc#roomconfig_{var}", value=value)
        await self.muc.set_room_config(room, form, timeout=10)

    async def create(self, room: str, nick: str, **fields: Any) -> Any:
        own = await self.join(room, nick)
        assert "201" in codes(own)
        await self.subject(room)
        await self.configure(room, **fields)
        return own

    def say(self, room: str, body: str, **attrs: str) -> Any:
        msg = self.xmpp.make_message(mto=room, mbody=body, mtype="groupchat")
        for key, value in attrs.items():
            msg[key] = value
        msg.send()
        return msg

    async def expect_iq_error(self, coro: Any) -> tuple[str, str]:
        try:
            await coro
        except IqError as exc:
            return exc.iq["error"]["condition"], exc.iq["error"]["type"]
        raise AssertionError("expected an IQ error")

    async def admin_set(self, room: str, **attrs: str) -> Any:
        iq = self.xmpp.make_iq_set(ito=room)
        query = iq.xml.makeelement(f"{{{NS_ADMIN}}}query", {})
        reason = attrs.pop("reason", None)
        itm = query.makeelement(f"{{{NS_ADMIN}}}item", attrs)
        if reason:
            r = itm.makeelement(f"{{{NS_ADMIN}}}reason", {})
            r.text = reason
            itm.append(r)
        query.append(itm)
        iq.xml.append(query)
        return await iq.send(timeout=10)

    async def admin_get(self, room: str, **attrs: str) -> list[dict[str, str]]:
        iq = self.xmpp.make_iq_get(ito=room)
        query = iq.xml.makeelement(f"{{{NS_ADMIN}}}query", {})
        query.append(query.makeelement(f"{{{NS_ADMIN}}}item", attrs))
        iq.xml.append(query)
        result = await iq.send(timeout=10)
        return [dict(i.attrib) for i in result.xml.iter(f"{{{NS_ADMIN}}}item")]
