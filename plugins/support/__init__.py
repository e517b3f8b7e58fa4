"""The customer-service queue: queues, agents, routing, offers, relay, transfer, close, tickets, hours, ratings.

Customers write to ``<queue>@<service domain>`` from any client (or use
XEP-0142 IQs); agents see each customer as ``t-<ticket>@<service domain>``.
Every conversation is a ticket (pending, resolved, reopened, tagged, rated);
queues may ask a pre-chat form, keep business hours and holidays (messages
left out of hours become tickets), and offer canned replies to agents.
The protocol is described in schemas/support-protocol.md.
"""

from .plugin import SupportPlugin as PLUGIN

__all__ = ["PLUGIN"]
