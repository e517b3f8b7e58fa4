"""Wiring of the echo plugin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slixmpp import Message

from component import namespaces as xmlns
from component.adhoc import Command, Context, Done
from component.config import doc
from component.errors import StanzaError
from component.forms import table
from component.plugin import Plugin
from component.storage import create_tables

from .store import EchoStore

NS = xmlns.ECHO


@dataclass
class EchoOptions:
    prefix: str = doc("Text put before every echoed body.", "")
    user: str = doc("Local part of the JID that echoes.", "echo")
    failure_probe: bool = doc("Answer <fail/> IQs with a deliberate handler crash (tests only).", False)


@dataclass
class EchoEvent:
    """Fired as ``echo.before_reply``; a handler returning non-None vetoes the reply."""

    sender: str
    body: str


class CountsCommand(Command):
    node = "echo-counts"
    name = "Echo counts"
    name_zh = "回声计数"

    def __init__(self, store: EchoStore) -> None:
        self.store = store

    async def start(self, ctx: Context) -> Done:
        rows = await self.store.all()
        return Done(form=table([("sender", "Sender"), ("count", "Messages")],
                               [{"sender": s, "count": c} for s, c in rows], title=self.title(ctx.lang)))


class EchoPlugin(Plugin):
    name = "echo"
    shares_domain = True  # see docs/scaling.md
    Options = EchoOptions
    features = (NS,)
    migrations = (create_tables("echo_counters"),)

    async def setup(self) -> None:
        self.store = EchoStore(self.db)
        self.service.on_message(self.on_message)
        if self.options.failure_probe:
            self.service.on_iq(f"{{{NS}}}fail", self.on_fail, types=("get",))
        self.service.commands.register(CountsCommand(self.store))
        self.hooks.provide("echo", self.store)

    async def on_message(self, msg: Message) -> Any:
        if msg["to"].user != self.options.user or msg["type"] not in ("chat", "normal"):
            return None
        body = msg["body"]
        if not body:
            return True
        if await self.hooks.fire("echo.before_reply", EchoEvent(msg["from"].bare, body)) is not None:
            return True
        await self.store.bump(msg["from"].bare)
        reply = msg.reply(self.options.prefix + body)
        reply["id"] = msg["id"]
        self.service.send(reply)
        return True

    async def on_fail(self, iq: Any) -> Any:
        """Deliberately broken handler: proves a handler bug answers internal-server-error."""
        if iq["to"].user != self.options.user:
            raise StanzaError("item-not-found", "no such echo")
        raise RuntimeError("deliberate failure for testing")
