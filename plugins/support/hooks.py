"""The events the support plugin fires and the public service it provides.

Events (on the service's hook bus):

``support.before_queue`` (:class:`BeforeQueue`)
    A new conversation is about to be queued. A handler (the bot) returning
    non-None keeps the customer: the ticket stays in state ``bot`` and the
    handler calls ``hooks.service("support").enqueue(ticket_id)`` to hand off.
``support.bot_message`` (:class:`CustomerMessage`)
    A customer wrote while their ticket is in state ``bot``. Non-None: the
    bot took it; nobody answering hands the customer to the queue.
``support.ticket_event`` (:class:`TicketEvent`)
    Collect: every state change of a ticket, after it was recorded as a row
    (reports, ratings on ``closed``, live monitors). Results are ignored.
``support.staff_command`` (:class:`StaffCommand`)
    An agent or supervisor wrote to a queue JID something the queue itself
    does not understand (no pending offer answered). A handler returning a
    string has it sent back from the queue JID; ``True``: it answered itself.
    Nobody answering: the queue's help text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BEFORE_QUEUE = "support.before_queue"
BOT_MESSAGE = "support.bot_message"
TICKET_EVENT = "support.ticket_event"
STAFF_COMMAND = "support.staff_command"

#: The name of the public service on the hook bus.
SERVICE = "support"

#: Event kinds recorded for every ticket (``TicketEvent.kind``).
KINDS = ("created", "bot", "queued", "offered", "offer_rejected", "offer_timeout", "offer_revoked",
         "accepted", "first_response", "transferred", "note", "watch", "join", "unwatch", "closed",
         "abandoned", "resumed")


@dataclass
class BeforeQueue:
    ticket_id: str
    queue: str              #: queue name
    customer: str           #: full JID
    body: str               #: the customer's first message ("" when joined by IQ)
    lang: str


@dataclass
class CustomerMessage:
    ticket_id: str
    queue: str
    customer: str           #: full JID
    body: str
    lang: str
    stanza: Any             #: the slixmpp Message


@dataclass
class TicketEvent:
    ticket_id: str
    queue: str
    kind: str               #: one of KINDS
    at: float               #: seconds since the epoch
    actor: str = ""         #: bare JID who caused it ("" for the service)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class StaffCommand:
    queue: str              #: queue name
    sender: str             #: full JID of the agent or supervisor
    body: str               #: the message text, stripped
    lang: str               #: en | zh (the message's xml:lang, else the queue's default)
    supervisor: bool        #: the sender supervises this queue (or is a global admin)
