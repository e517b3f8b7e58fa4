"""Options of the support plugin: the queues and the engine's timings (validated strictly from TOML)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from component.config import doc

Strategy = Literal["round-robin", "least-busy", "broadcast"]


@dataclass
class QueueOptions:
    name: str = doc("Local part of the queue JID: 'help' answers at help@<service domain>.")
    title: str = doc("Human name of the queue (service discovery, messages).", "")
    agents: list[str] = doc("Bare JIDs of the agents of this queue.", factory=list)
    supervisors: list[str] = doc("Bare JIDs who may watch and join this queue's conversations.", factory=list)
    strategy: Strategy = doc(
        "How a waiting customer is offered: round-robin over the agents, the least busy agent, "
        "or broadcast to every free agent (the first to accept wins).", "round-robin")
    offer_timeout: float = doc("Seconds an offer stands before it is revoked and re-offered.", 30.0)
    max_waiting: int = doc("Customers that may wait at once (0: no limit); more are refused.", 50)
    open: bool = doc("Whether the queue accepts new customers.", True)
    greeting_en: str = doc("Greeting sent to a new customer in English (empty: the built-in one).", "")
    greeting_zh: str = doc("Greeting sent to a new customer in Chinese (empty: the built-in one).", "")
    default_lang: Literal["en", "zh"] = doc("Language of customers whose messages carry no xml:lang.", "en")
    grace_period: float = doc("Seconds a waiting customer may be offline before leaving the queue.", 60.0)
    max_chats: int = doc("Conversations an agent holds at once when their presence names none; "
                         "also the upper bound of what an agent may ask with <max-chats/>.", 3)
    urgent_priority: int = doc("Tickets with at least this priority are also offered to agents in 'dnd'.", 10)
    join_form: list[str] = doc("Fields a XEP-0142 client must fill before joining (empty: no form).",
                               factory=list)


@dataclass
class SupportOptions:
    queues: list[QueueOptions] = doc("The queues of this service.", factory=list)
    status_interval: float = doc("Minimum seconds between two queue-status updates to one customer.", 15.0)
    liveness_interval: float = doc(
        "Seconds between checks that waiting customers are still online (0: only by presence).", 30.0)
    expected_wait: float = doc("Assumed seconds to serve one customer until real figures exist.", 60.0)
    history_max: int = doc("Messages of the transcript sent to an agent who takes a conversation.", 50)
