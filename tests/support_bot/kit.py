"""Helpers for the bot's end-to-end tests: configuration with the bot, the sample knowledge base, state."""

from __future__ import annotations

from typing import Any, Callable

from component.app import App
from plugins.support_bot.kb_import import parse

from ..support.kit import DOMAIN, config, queue
from .kbdata import read

DELAY = "{urn:xmpp:delay}delay"
SPEAKER = "{urn:switchboard:support:0}speaker"


def live(predicate: Callable[[Any], bool] = lambda m: True) -> Callable[[Any], bool]:
    """Sent during this test: Prosody delivers messages kept for an earlier, offline session with <delay/>."""
    return lambda m: m.xml.find(DELAY) is None and m["type"] != "error" and bool(m["body"]) and predicate(m)


def bot_config(*queues: dict[str, Any], **bot: Any) -> dict[str, dict[str, dict]]:
    services = config(*(queues or (queue(offer_timeout=10.0),)))
    services[DOMAIN]["support_bot"] = bot
    return services


def plugin(app: App) -> Any:
    return app.services[DOMAIN].plugins["support_bot"]


def support(app: App) -> Any:
    return app.services[DOMAIN].hooks.service("support")


async def load_samples(app: App, queue_name: str = "help") -> None:
    for name in ("kb_en.csv", "kb_zh.json"):
        await plugin(app).kb.import_(queue_name, parse(read(name)).drafts, "admin@localhost")


def ticket_for(app: App, customer: str) -> Any:
    return next((t for t in support(app).open_tickets() if t.customer == customer), None)


def zh_message(client: Any, to: str, body: str) -> None:
    msg = client.make_message(mto=to, mbody=body, mtype="chat")
    msg["lang"] = "zh"
    msg.send()
