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
    join_form: list[str] = doc(
        "Pre-chat form: fields a customer fills before reaching an agent (empty: no form). 'name', 'email', "
        "'order' and 'phone' come with labels and checks in English and Chinese; any other name is asked as it "
        "is. XEP-0142 clients fill them in join-queue; chat customers get the form in a message and the same "
        "questions in plain text, after the bot and before the queue.", factory=list)
    join_form_optional: list[str] = doc("Fields of join_form a customer may leave empty (reply 'skip' in chat).",
                                        factory=list)
    timezone: str = doc("IANA time zone of the business hours and holidays, e.g. 'Asia/Shanghai'.", "UTC")
    hours: list[str] = doc(
        "Business hours, e.g. ['mon-fri 09:00-18:00', 'sat 10:00-14:00'] ('daily', day lists 'mon,wed', "
        "ranges past midnight '22:00-02:00'). Empty: always open. Outside them the queue is closed in "
        "XEP-0142 terms (join-queue: service-unavailable) and chat customers may leave a message.", factory=list)
    holidays: list[str] = doc("Dates the queue is closed all day: 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD'.",
                              factory=list)
    out_of_hours_en: str = doc("Out-of-hours message in English (empty: the built-in one with the hours).", "")
    out_of_hours_zh: str = doc("Out-of-hours message in Chinese (empty: the built-in one with the hours).", "")
    offline_messages: bool = doc(
        "Out of hours, a chat customer's message becomes a ticket waiting for agents (status waiting, "
        "state offline) that an agent takes later; false: the customer is only told the hours.", True)
    reopen_days: float = doc(
        "A customer writing again within this many days after their ticket was resolved reopens it; "
        "afterwards the ticket is closed for good (0: every conversation is a new ticket).", 7.0)
    pending_days: float = doc("A pending ticket without an answer from the customer for this many days is "
                              "resolved (0: it waits forever).", 7.0)
    return_to_agent: bool = doc("A pending or reopened ticket is offered first to the agent who held it last, "
                                "when that agent is available.", True)
    ratings: bool = doc("Ask the customer to rate the conversation (1-5, optional comment) when it closes.", True)
    rate_bot_conversations: bool = doc("Also ask for a rating when the bot closed a conversation no agent held.",
                                       False)
    rating_days: float = doc("Days a rating reply is accepted after the question.", 3.0)


@dataclass
class SupportOptions:
    queues: list[QueueOptions] = doc("The queues of this service.", factory=list)
    status_interval: float = doc("Minimum seconds between two queue-status updates to one customer.", 15.0)
    liveness_interval: float = doc(
        "Seconds between checks that waiting customers are still online (0: only by presence).", 30.0)
    expected_wait: float = doc("Assumed seconds to serve one customer until real figures exist.", 60.0)
    history_max: int = doc("Messages of the transcript sent to an agent who takes a conversation.", 50)
    sweep_interval: float = doc(
        "Seconds between sweeps that close resolved tickets past their reopen window and resolve pending "
        "tickets past pending_days (0: only at start).", 3600.0)
    hours_check_interval: float = doc(
        "Seconds between business-hours checks; agents get the queue's presence when it opens or closes "
        "(0: no checks).", 30.0)
