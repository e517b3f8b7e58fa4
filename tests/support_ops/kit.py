"""Helpers for the help-desk operation tests: an engine without a network, forms in messages, events."""

from __future__ import annotations

import asyncio
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from component.hooks import HookBus
from component.storage import Database, Migrations
from plugins.support.options import QueueOptions, SupportOptions
from plugins.support.plugin import SupportPlugin
from plugins.support.engine import SupportEngine
from plugins.support.store import SupportStore

from ..support.kit import engine

XDATA = "jabber:x:data"
A, B = "a@x", "b@x"


class Recorder:
    """The engine's outbox, recording what would be sent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def customer_notice(self, t, body, status=None, transient=False, update=False):
        self.calls.append(("customer", body))

    def customer_departed(self, t, body):
        self.calls.append(("departed", body))

    def customer_closed(self, t, body, by):
        self.calls.append(("closed", (t.id, t.rating_requested_at is not None)))

    def session_notice(self, t, to, body, marker=None):
        self.calls.append(("session", (to, body)))

    def offer_now(self, t, agent_jid, timeout, body):
        return ""  # always through offer()

    def known_offer_form(self, agent_jid):
        return ""

    async def offer(self, t, agent_jid, timeout, body, via=""):
        self.calls.append(("offer", (t.id, agent_jid)))
        return "chat"

    def revoke(self, t, agent_jid, via, reason):
        self.calls.append(("revoke", (t.id, agent_jid)))

    async def connect_agent(self, t, agent_jid, intro):
        self.calls.append(("connect", (t.id, agent_jid, intro)))

    async def probe(self, jid):
        return True

    def held(self, t, reason, note=""):
        self.calls.append(("held", (t.id, reason, note)))

    def of(self, kind: str) -> list[Any]:
        return [args for k, args in self.calls if k == kind]


class Clock:
    """A settable clock for the engine (seconds since the epoch)."""

    def __init__(self, now: float = 1_760_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def new_engine(db: Database, clock: Clock | None = None, **queue: Any) -> tuple[SupportEngine, Recorder]:
    q = QueueOptions(name="help", agents=queue.pop("agents", [A, B]), offer_timeout=queue.pop("offer_timeout", 30.0),
                     **queue)
    options = SupportOptions(queues=[q], status_interval=0.0, liveness_interval=0.0)
    rec = Recorder()
    engine = SupportEngine(options, "support.x", SupportStore(db), rec, HookBus(),
                           now=clock if clock is not None else Clock())
    await engine.load()
    return engine, rec


async def migrated(url: str) -> Database:
    db = Database(url)
    await db.migrate([Migrations("support", SupportPlugin.migrations)])
    return db


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def submit_form(parent: Element, values: dict[str, Any], form_type: str | None = None) -> Element:
    """Append a ``jabber:x:data`` submission (as a client that renders forms sends it)."""
    x = SubElement(parent, f"{{{XDATA}}}x", {"type": "submit"})
    if form_type:
        SubElement(SubElement(x, f"{{{XDATA}}}field", {"var": "FORM_TYPE", "type": "hidden"}),
                   f"{{{XDATA}}}value").text = form_type
    for var, value in values.items():
        field = SubElement(x, f"{{{XDATA}}}field", {"var": var})
        for item in value if isinstance(value, list) else [value]:
            SubElement(field, f"{{{XDATA}}}value").text = item
    return x


def form_of(msg: Any, form_type: str) -> Element | None:
    """The data form of ``form_type`` a received stanza carries."""
    for x in msg.xml.iter(f"{{{XDATA}}}x"):
        for field in x.findall(f"{{{XDATA}}}field"):
            if field.get("var") == "FORM_TYPE" and field.findtext(f"{{{XDATA}}}value") == form_type:
                return x
    return None


def field_vars(x: Element) -> list[str]:
    return [f.get("var") for f in x.findall(f"{{{XDATA}}}field") if f.get("var") and f.get("var") != "FORM_TYPE"]


async def kinds(app: Any, ticket_id: str) -> list[str]:
    return [kind for kind, *_ in await engine(app).store.events(ticket_id)]


CMD = "http://jabber.org/protocol/commands"


async def command(client: Any, to: str, node: str, action: str = "execute", sessionid: str | None = None,
                  fields: dict[str, Any] | None = None, lang: str | None = None) -> Element:
    """Run one stage of a XEP-0050 command; returns the <command/> element of the result."""
    iq = client.make_iq_set(ito=to)
    if lang:
        iq.xml.set("{http://www.w3.org/XML/1998/namespace}lang", lang)
    attrs = {"node": node, "action": action}
    if sessionid:
        attrs["sessionid"] = sessionid
    el = SubElement(iq.xml, f"{{{CMD}}}command", attrs)
    if fields is not None:
        submit_form(el, fields)
    result = await iq.send(timeout=10)
    return result.xml.find(f"{{{CMD}}}command")


def table_rows(command_el: Element) -> list[dict[str, str]]:
    """The <item/> rows of a result table in a command answer."""
    x = command_el.find(f"{{{XDATA}}}x")
    assert x is not None, "no data form in the command result"
    return [{f.get("var"): f.findtext(f"{{{XDATA}}}value") or "" for f in item.findall(f"{{{XDATA}}}field")}
            for item in x.findall(f"{{{XDATA}}}item")]


def fixed_texts(command_el: Element) -> list[str]:
    x = command_el.find(f"{{{XDATA}}}x")
    return [f.findtext(f"{{{XDATA}}}value") or "" for f in x.findall(f"{{{XDATA}}}field")
            if f.get("type") == "fixed"]
