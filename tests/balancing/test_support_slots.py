"""The support desk in one process that holds every slot of its domain (one process, several connections).

Conversation JIDs (``t-<ticket>@…``) and the queues' JIDs hash to different slots, so the
customers' and agents' stanzas arrive on different connections of the one process: the engine
must see them all, and what the agents and customers send must reach each other.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from component.app import App
from component.config import parse

from .. import harness
from ..test_cli_commands import run
from ..support.kit import agent_presence, body_has, checked, jid, queue, ticket_of
from .conftest import SLOTS, SUPPORT, pytestmark  # noqa: F401 - the module's skip condition

#: customer -> (queue, agent)
PLAN = {"cust1": ("help", "agent1"), "cust2": ("sales", "agent2"), "cust3": ("help", "agent1")}


async def test_support_desk_over_every_slot_of_one_process(balanced: Any, database: str, tmp_path: Path) -> None:
    services = {SUPPORT: {"mam": {}, "support": {
        "queues": [queue("help", agents=[jid("agent1")], offer_timeout=20.0),
                   queue("sales", agents=[jid("agent2")], offer_timeout=20.0)],
        "status_interval": 0.3, "liveness_interval": 0.0}}}
    text = harness.make_config_text(balanced.ports.component, services, tmp_path / "state", database,
                                    service_ports={SUPPORT: balanced.component_ports[SUPPORT]})
    path = tmp_path / "s.toml"
    path.write_text(text + f"[balancing]\nslots = {SLOTS}\n", encoding="utf-8")
    path.chmod(0o600)
    app = App(parse(path.read_text(encoding="utf-8"), str(path), tmp_path))
    await app.start()
    try:
        await app.wait_connected(20)
        service = app.services[SUPPORT]
        engine = service.plugins["support"].engine
        port = balanced.ports.c2s
        async with harness.slix_client(port, "agent1") as a1, harness.slix_client(port, "agent2") as a2, \
                harness.slix_client(port, "cust1") as c1, harness.slix_client(port, "cust2") as c2, \
                harness.slix_client(port, "cust3") as c3:
            agents = {"agent1": a1, "agent2": a2}
            clients = {"cust1": c1, "cust2": c2, "cust3": c3}
            inbox = {name: harness.Inbox(client) for name, client in {**agents, **clients}.items()}
            for name, q in (("agent1", "help"), ("agent2", "sales")):
                agent_presence(agents[name], to=f"{q}@{SUPPORT}", max_chats=5)
            await harness.until(lambda: all((a := engine.agents[q].get(jid(name))) is not None and a.tier() is not None
                                            for name, q in (("agent1", "help"), ("agent2", "sales"))),
                                15, "both agents available")
            sessions = {}
            for name, (q, _agent) in PLAN.items():
                clients[name].send_message(mto=f"{q}@{SUPPORT}", mbody=f"question of {name}", mtype="chat")
                t = ticket_of(checked(await inbox[name].next(body_has("We will connect you"), 15)))
                sessions[name] = t.get("jid")
            # Offers come one at a time per agent, in the engine's order: accept each as it comes.
            waiting = {session: name for name, session in sessions.items()}
            while waiting:
                for agent_name, agent in agents.items():
                    mine = {s for s, n in waiting.items() if PLAN[n][1] == agent_name}
                    if not mine:
                        continue
                    offer = checked(await inbox[agent_name].next(
                        lambda m, mine=mine: m["from"].bare in mine and "accept" in m["body"], 15))
                    name = waiting.pop(offer["from"].bare)
                    agent.send_message(mto=sessions[name], mbody="accept", mtype="chat")
                    checked(await inbox[name].next(body_has(f"{agent_name} is now with you"), 15))
            for name, (q, agent_name) in PLAN.items():
                agents[agent_name].send_message(mto=sessions[name], mbody=f"answer for {name}", mtype="chat")
                await inbox[name].next(body_has(f"answer for {name}"), 15)
                clients[name].send_message(mto=f"{q}@{SUPPORT}", mbody=f"thanks from {name}", mtype="chat")
                got = await inbox[agent_name].next(body_has(f"thanks from {name}"), 15)
                assert got["from"].bare == sessions[name]
            # The conversations and the queues did not all hash to the main connection.
            assert sum(link.received for link in service.links) > 0
        # A shell closes a queue: with balancing, the change comes as a PostgreSQL notification.
        code, _, err = await asyncio.to_thread(run, "queues", "close", "sales", "-c", str(path))
        assert code == 0, err
        await harness.until(lambda: engine.hours_override.get("sales") is False, 5, "the running queue closed")
    finally:
        await app.stop()
