"""The customer-service queue: queues, agents, routing, offers, relay, transfer, close, tickets, hours, ratings.

Customers write to ``<queue>@<service domain>`` from any client (or use
XEP-0142 IQs); agents see each customer as ``t-<ticket>@<service domain>``.
Every conversation is a ticket (pending, resolved, reopened, tagged, rated);
queues may ask a pre-chat form, keep business hours and holidays (messages
left out of hours become tickets), and offer canned replies to agents.
The protocol is described in schemas/support-protocol.md.

Who owns which state:

- the engine (engine.py and its parts) owns everything about open tickets: the tickets in
  memory, agents' presence, offers, timers, watchers; only its parts change them, under its lock,
  and every change goes through the ledger (ledger.py): the journal (journal.py) writes the changes
  queued so far in one transaction per batch, nobody is told of a change before it is stored, and
  a refused batch is undone in memory (with every change queued behind it);
- the routing state of a queue (waiting list, offers and their clocks, agents' presence, its open
  tickets) has one owner: the engine of the process its queue JID's stanzas reach (ownership.py;
  one process alone owns every queue). Relaying a conversation, a note, a rating or a customer's
  late reply needs only the ticket as stored, read through a cache invalidated on change
  (lookup.py), so any process may serve them; what changes a ticket is its owner's (peering.py);
- the store (store.py) owns the plugin's tables; only the engine and the help-desk commands write
  them (the ledger for tickets and events);
- the outbox (outbox.py, with clients.py and transcript.py) sends everything the engine says and
  owns what each agent's client speaks (asked once per session, or once per XEP-0115 client
  version); notices that may wait while the server is behind go as bulk (component/pacing.py);
- the surfaces (chat.py, workgroup.py, discovery.py, commands.py) hold no state of their own
  beyond ad-hoc sessions: they parse, ask the engine, and answer;
- other plugins see only the public service (public.py) and the events (hooks.py).

Words: "service" is always the XMPP service of one domain (the core's ``Service``, ``self.service``);
"engine" is the routing and ticket logic; "public service" is what other plugins get from
``hooks.service("support")``.
"""

from .plugin import SupportPlugin as PLUGIN

__all__ = ["PLUGIN"]
