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
``support.changed_elsewhere`` (:class:`ChangedElsewhere`)
    Collect: where processes share the domain, another process stored changes of
    tickets of these queues (heard as a notification; live monitors read them again).
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
CHANGED_ELSEWHERE = "support.changed_elsewhere"

#: The name of the public service on the hook bus.
SERVICE = "support"

#: What a ``support.before_queue`` handler returns when the bot read the first message and hands
#: the customer to the people at once (asked for a person, or nothing close): the ticket is
#: recorded as the bot's (``bot``) and queued right after, so reports count the hand-off.
HANDED_OFF = "handed-off"

#: Event kinds recorded for every ticket (``TicketEvent.kind``). What reports read from them:
#:
#: - ``created`` (data ``via``), ``reopened`` (the customer wrote again within the reopen window; data
#:   ``count``): a conversation starts; ``bot``: the bot keeps it first.
#: - ``prechat`` (data ``fields`` still missing): it waits for the pre-chat form; ``offline``: a message
#:   left out of business hours, waiting for an agent to take it (no ``queued`` before it is taken).
#: - ``queued`` (also after ``pending``, ``offline`` or a reopen), ``offered`` (data ``agents``),
#:   ``offer_rejected`` / ``offer_timeout`` / ``offer_revoked``, ``accepted`` (actor: the agent; also when
#:   an agent takes a waiting ticket), ``first_response`` (the agent's first message, once per ticket),
#:   ``transferred`` (data ``from_queue``, ``to_queue``, ``from_agent``, ``to_agent``).
#: - ``pending`` (data ``agent``: who waits for the customer; their hold of the conversation ends here).
#: - ``closed``: the conversation ended and the ticket is resolved (data ``reason``: resolved, bot,
#:   no_reply, customer, ...; ``rating_requested`` when the customer was asked to rate);
#:   ``finalized``: a resolved ticket closed for good (reopen window over, or by staff).
#: - ``abandoned`` (data ``reason``: bye, depart, removed, offline, out_of_hours).
#: - ``rated`` (data ``rating`` 1-5 and ``comment`` when given; actor: the customer).
#: - ``note``, ``tagged`` (data ``added``, ``removed``), ``priority`` (data ``priority``, ``previous``),
#:   ``watch``, ``join``, ``unwatch``, ``whisper`` (a supervisor to the agent only; data ``to``: the agent,
#:   ``text``).
#: - ``resumed`` (data ``previous``: the customer's former bare JID): the customer took the open
#:   conversation to a new address (a web visitor's new anonymous login).
KINDS = ("created", "bot", "queued", "offered", "offer_rejected", "offer_timeout", "offer_revoked",
         "accepted", "first_response", "transferred", "note", "watch", "join", "unwatch", "closed",
         "abandoned", "resumed", "prechat", "offline", "pending", "reopened", "rated", "tagged", "priority",
         "finalized", "whisper")


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
class ChangedElsewhere:
    queues: list[str]       #: the queues now serving the changed tickets


@dataclass
class StaffCommand:
    queue: str              #: queue name
    sender: str             #: full JID of the agent or supervisor
    body: str               #: the message text, stripped
    lang: str               #: en | zh (the message's xml:lang, else the queue's default)
    supervisor: bool        #: the sender supervises this queue (or is a global admin)
