"""Helpers for the support queue tests: configuration, agents' presence, waiting on engine state."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, Callable
from xml.etree.ElementTree import Element, SubElement

from component.app import App

from .. import harness
from ..schema import validate_children
from ..harness import until  # noqa: F401 - shared by the tests importing this module

DOMAIN = "support.localhost"
HELP = f"help@{DOMAIN}"
SALES = f"sales@{DOMAIN}"
WG = "http://jabber.org/protocol/workgroup"
NS = "urn:switchboard:support:0"


def jid(user: str) -> str:
    return f"{user}@{harness.HOST}"


def queue(name: str = "help", **options: Any) -> dict[str, Any]:
    base = {"name": name, "agents": [jid("agent1"), jid("agent2")], "supervisors": [jid("super")],
            "offer_timeout": 5.0, "grace_period": 0.5}
    base.update(options)
    return base


def config(*queues: dict[str, Any], **options: Any) -> dict[str, dict[str, dict]]:
    support = {"queues": list(queues) or [queue()], "status_interval": 0.3, "liveness_interval": 0.0}
    support.update(options)
    return {DOMAIN: {"mam": {}, "support": support}}


def engine(app: App) -> Any:
    return app.services[DOMAIN].plugins["support"].engine


def agent_presence(client: Any, to: str = HELP, show: str = "chat", max_chats: int | None = None,
                   ptype: str | None = None) -> None:
    pres = client.make_presence(pto=to, pshow=show if show else None, ptype=ptype)
    status = SubElement(pres.xml, f"{{{WG}}}agent-status")
    if max_chats is not None:
        SubElement(status, f"{{{WG}}}max-chats").text = str(max_chats)
    pres.send()


async def agent_ready(app: App, user: str, queue_name: str = "help") -> None:
    await until(lambda: (a := engine(app).agents[queue_name].get(jid(user))) is not None and a.tier() is not None,
                what=f"{user} available")


def body_has(*words: str) -> Callable[[Any], bool]:
    return lambda m: m["type"] != "error" and all(w in (m["body"] or "") for w in words)


def has_child(tag: str) -> Callable[[Any], bool]:
    return lambda m: m.xml.find(tag) is not None


def checked(stanza: Any) -> Any:
    """Validate our custom children of a received stanza against the XSDs; return it."""
    count = validate_children(stanza)
    assert count, f"no element of our namespaces in {stanza}"
    return stanza


def ticket_of(msg: Any) -> Element:
    el = msg.xml.find(f"{{{NS}}}ticket")
    assert el is not None, f"no ticket element in {msg}"
    return el


async def start_conversation(app: App, cust: Any, cin: Any, agent: Any, ain: Any, first: str = "hello") -> str:
    """Customer writes, the (plain chat) agent accepts; returns the conversation JID."""
    cust.send_message(mto=HELP, mbody=first, mtype="chat")
    offer = await ain.next(body_has("accept"))
    session = offer["from"].bare
    agent.send_message(mto=session, mbody="accept", mtype="chat")
    await ain.next(body_has("You are now talking with"))
    await cin.next(body_has("is now with you"))
    return session


@contextlib.asynccontextmanager
async def customer_and_two_agents(app: App, port: int) -> AsyncIterator[tuple[Any, Any, Any, Any, Any]]:
    """cust1, agent1 (online and routable), agent2 (connected, not yet an agent online), and the two
    agents' inboxes."""
    async with harness.slix_client(port, "cust1") as cust, harness.slix_client(port, "agent1") as a1, \
            harness.slix_client(port, "agent2") as a2:
        in1, in2 = harness.Inbox(a1), harness.Inbox(a2)
        agent_presence(a1)
        await agent_ready(app, "agent1")
        yield cust, a1, a2, in1, in2
