"""The support desk across servers: a remote customer served by a local agent, a remote agent serving a
local customer (offers, acceptance and relay all through server-to-server)."""

from __future__ import annotations

import pytest

from .. import harness
from ..support.kit import agent_presence, body_has
from .conftest import SUPPORT, local, remote

pytestmark = pytest.mark.timeout(60)

HELP = f"help@{SUPPORT}"


def services() -> dict[str, dict[str, dict]]:
    queue = {"name": "help", "agents": [local("agent1"), remote("ragent")], "offer_timeout": 10.0,
             "grace_period": 5.0}
    return {SUPPORT: {"mam": {}, "support": {"queues": [queue], "status_interval": 0.3, "liveness_interval": 0.0}}}


def engine(app):  # type: ignore[no-untyped-def]
    return app.services[SUPPORT].plugins["support"].engine


async def ready(app, agent: str) -> None:  # type: ignore[no-untyped-def]
    await harness.until(lambda: (a := engine(app).agents["help"].get(agent)) is not None and a.tier() is not None,
                        timeout=15, what=f"{agent} available")


async def converse(cust, cin, agent, ain) -> str:  # type: ignore[no-untyped-def]
    cust.send_message(mto=HELP, mbody="my parcel is lost", mtype="chat")
    offer = await ain.next(body_has("accept"), timeout=15)
    session = offer["from"].bare
    agent.send_message(mto=session, mbody="accept", mtype="chat")
    await ain.next(body_has("You are now talking with"))
    await cin.next(body_has("is now with you"))
    agent.send_message(mto=session, mbody="let me look", mtype="chat")
    assert (await cin.next(body_has("let me look")))["from"].bare == HELP
    cust.send_message(mto=HELP, mbody="thank you", mtype="chat")
    assert (await ain.next(body_has("thank you")))["from"].bare == session
    return session


async def test_remote_customer_is_served_by_a_local_agent(federation, switchboard):
    app = await switchboard(services())
    async with federation.local_client("agent1") as agent, federation.remote_client("rcust") as cust:
        ain, cin = harness.Inbox(agent), harness.Inbox(cust)
        agent_presence(agent, HELP)
        await ready(app, local("agent1"))
        await converse(cust, cin, agent, ain)
        t = next(iter(engine(app).tickets.values()))
        assert t.customer_jid.startswith(remote("rcust")) and t.agent == local("agent1")


async def test_remote_agent_serves_a_local_customer(federation, switchboard):
    app = await switchboard(services())
    async with federation.remote_client("ragent") as agent, federation.local_client("cust1") as cust:
        ain, cin = harness.Inbox(agent), harness.Inbox(cust)
        agent_presence(agent, HELP)
        await ready(app, remote("ragent"))
        await converse(cust, cin, agent, ain)
        t = next(iter(engine(app).tickets.values()))
        assert t.customer_jid.startswith(local("cust1")) and t.agent == remote("ragent")
