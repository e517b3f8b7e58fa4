"""The desk's own share of a customer's wait for an agent, as Prometheus sees it
(``switchboard_support_offer_delay_seconds``): from the stanza that let the customer be offered
reaching the component to the offer leaving it."""

from __future__ import annotations

import time

import pytest

from .kit import DOMAIN, HELP, agent_presence, agent_ready, body_has, config, customer_and_two_agents, queue

pytestmark = pytest.mark.integration


def offer_delays(app) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(offers measured, seconds in all)."""
    sample = app.metrics.registry.get_sample_value
    labels = {"domain": DOMAIN}
    return (sample("switchboard_support_offer_delay_seconds_count", labels) or 0.0,
            sample("switchboard_support_offer_delay_seconds_sum", labels) or 0.0)


async def test_an_offer_is_timed_from_the_stanza_that_allowed_it_and_a_timers_offer_is_not(component, prosody):
    app = await component(config(queue(offer_timeout=1.0)))
    async with customer_and_two_agents(app, prosody.ports.c2s) as (cust, _a1, a2, in1, in2):
        assert offer_delays(app) == (0.0, 0.0)
        asked = time.monotonic()
        cust.send_message(mto=HELP, mbody="anyone?", mtype="chat")
        await in1.next(body_has("accept"))
        count, seconds = offer_delays(app)
        # The customer's message made it: timed from its arrival, so no longer than the round trip seen here.
        assert count == 1 and 0.0 < seconds < time.monotonic() - asked
        agent_presence(a2)
        await agent_ready(app, "agent2")
        # agent1 lets the offer run out: the timer offers it to agent2. No stanza made that offer,
        # so it is not counted (the timer does not run in the context of the stanza that set it).
        await in2.next(body_has("accept"), timeout=10)
        assert offer_delays(app) == (count, seconds)
