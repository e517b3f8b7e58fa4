"""The customer-service queue: queues, agents, routing, offers, relay, transfer, close.

Customers write to ``<queue>@<service domain>`` from any client (or use
XEP-0142 IQs); agents see each customer as ``t-<ticket>@<service domain>``.
The protocol is described in schemas/support-protocol.md.
"""

from .plugin import SupportPlugin as PLUGIN

__all__ = ["PLUGIN"]
