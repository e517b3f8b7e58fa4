"""What is only true for a moment is not kept by the user's server (XEP-0334 ``<no-store/>``).

A place in the queue, "no agent is online" and an offer (with its withdrawal) carry the hint;
Prosody's own archive of the customer and of the agent then holds the conversation (greeting,
notices, the agent's words) without them, and an offer never waits in offline storage for an agent
who comes back later.
"""

from __future__ import annotations

import pytest

from .. import harness
from .kit import HELP, WG, agent_presence, agent_ready, body_has, checked, config, has_child, queue

pytestmark = pytest.mark.integration

NO_STORE = "{urn:xmpp:hints}no-store"


async def own_archive(client) -> list[str]:
    """The bodies the client's own server archived for it (XEP-0313 on the account)."""
    return [str(m["mam_result"]["forwarded"]["stanza"]["body"])
            async for m in client.plugin["xep_0313"].iterate()]


async def test_positions_and_offers_stay_out_of_the_users_own_archives(component, prosody):
    app = await component(config(queue(offer_timeout=1.0)))
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1", plugins=("xep_0313",)) as cust, \
            harness.slix_client(port, "agent1", plugins=("xep_0313",)) as agent:
        cin, ain = harness.Inbox(cust), harness.Inbox(agent)
        cust.send_message(mto=HELP, mbody="is anyone there?", mtype="chat")
        status = checked(await cin.next(has_child(f"{{{WG}}}queue-status")))
        assert status.xml.find(NO_STORE) is not None
        greeting = checked(await cin.next(body_has("We will connect you")))
        assert greeting.xml.find(NO_STORE) is None
        nobody = checked(await cin.next(body_has("No agent is online")))
        assert nobody.xml.find(NO_STORE) is not None
        agent_presence(agent)
        await agent_ready(app, "agent1")
        offer = checked(await ain.next(body_has("accept")))
        assert offer.xml.find(NO_STORE) is not None
        withdrawn = checked(await ain.next(body_has("withdrawn"), timeout=5))
        assert withdrawn.xml.find(NO_STORE) is not None
        again = checked(await ain.next(body_has("accept"), timeout=5))
        agent.send_message(mto=again["from"].bare, mbody="accept", mtype="chat")
        await cin.next(body_has("agent1 is now with you"))

        customer_kept = await own_archive(cust)
        assert any("We will connect you" in body for body in customer_kept)
        assert any("agent1 is now with you" in body for body in customer_kept)
        assert not [body for body in customer_kept if "You are number" in body or "connecting you with an agent now" in body
                    or "No agent is online" in body], customer_kept
        agent_kept = await own_archive(agent)
        assert any("is anyone there?" in body for body in agent_kept)  # the conversation is kept
        assert not [body for body in agent_kept if "accept" in body and "offer" in body.lower()], agent_kept
        assert not [body for body in agent_kept if "withdrawn" in body], agent_kept
