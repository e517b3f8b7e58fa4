"""Driving ad-hoc commands from a test with slixmpp's own XEP-0050 client plugin."""

from __future__ import annotations

from typing import Any

import slixmpp
from slixmpp import Iq
from slixmpp.plugins.xep_0004.stanza import Form

COMMANDS = "http://jabber.org/protocol/commands"


class Commands:
    """One requester's view of the commands of one JID."""

    def __init__(self, client: slixmpp.ClientXMPP, jid: str, lang: str | None = None) -> None:
        self.client = client
        self.jid = jid
        self.lang = lang

    async def nodes(self) -> list[str]:
        items = await self.client.plugin["xep_0050"].get_commands(self.jid, timeout=10)
        return [node for _jid, node, _name in items["disco_items"]["items"]]

    async def names(self) -> dict[str, str]:
        iq = self.client.make_iq_get(ito=self.jid)
        iq["disco_items"]["node"] = COMMANDS
        if self.lang:
            iq["lang"] = self.lang
        items = await iq.send(timeout=10)
        return {node: name for _jid, node, name in items["disco_items"]["items"]}

    async def _send(self, node: str, action: str, sessionid: str | None = None, form: Form | None = None) -> Iq:
        if not self.lang:
            return await self.client.plugin["xep_0050"].send_command(
                self.jid, node, action=action, sessionid=sessionid, payload=form, timeout=15)
        iq = self.client.make_iq_set(ito=self.jid)
        iq["lang"] = self.lang
        iq["command"]["node"] = node
        iq["command"]["action"] = action
        if sessionid:
            iq["command"]["sessionid"] = sessionid
        if form is not None:
            iq["command"].append(form)
        return await iq.send(timeout=15)

    async def execute(self, node: str) -> Iq:
        return await self._send(node, "execute")

    async def submit(self, step: Iq, values: dict[str, Any] | None = None, action: str = "next") -> Iq:
        """Answer the form of ``step`` (an executing result) with ``values``."""
        return await self._send(step["command"]["node"], action, step["command"]["sessionid"],
                                submit_form(values or {}))

    async def complete(self, step: Iq, values: dict[str, Any] | None = None) -> Iq:
        return await self.submit(step, values, "complete")

    async def prev(self, step: Iq) -> Iq:
        return await self._send(step["command"]["node"], "prev", step["command"]["sessionid"])

    async def cancel(self, step: Iq) -> Iq:
        return await self._send(step["command"]["node"], "cancel", step["command"]["sessionid"])

    async def run(self, node: str, *stages: dict[str, Any]) -> Iq:
        """Execute, then submit each stage's values (the last one with complete)."""
        step = await self.execute(node)
        for i, values in enumerate(stages):
            assert step["command"]["status"] == "executing", notes(step)
            step = await self.submit(step, values, "complete" if i == len(stages) - 1 else "next")
        return step


def submit_form(values: dict[str, Any]) -> Form:
    form = Form()
    form["type"] = "submit"
    for var, value in values.items():
        if isinstance(value, bool):
            value = "1" if value else "0"
        form.add_field(var=var, value=value)
    return form


def notes(step: Iq) -> list[tuple[str, str]]:
    return [(kind, text) for kind, text in step["command"]["notes"]]


def fields(step: Iq) -> dict[str, Any]:
    """var -> value of the form in a command result."""
    form = step["command"]["form"]
    return {var: field["value"] for var, field in form.get_fields().items()}


def labels(step: Iq) -> dict[str, str]:
    form = step["command"]["form"]
    return {var: field["label"] for var, field in form.get_fields().items()}


def rows(step: Iq) -> list[dict[str, str]]:
    """The items of a <reported/> table."""
    form = step["command"]["form"]
    return [{var: value for var, value in item.items()} for item in form["items"]]


def options(step: Iq, var: str) -> list[str]:
    field = step["command"]["form"].get_fields()[var]
    return [o["value"] for o in field["options"]]
