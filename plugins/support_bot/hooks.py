"""The events the bot fires and the public service it provides.

Events (collect, on the support service's hook bus; results are ignored):

``support_bot.answered`` (:class:`BotAnswered`)
    The bot answered a customer from the knowledge base (or the LLM grounded in it).
``support_bot.handoff`` (:class:`BotHandoff`)
    The bot handed a customer to the queue: why, and the conversation so far
    (the agent also receives it from the conversation's archive).

Public service ``hooks.service("support_bot")`` (:class:`plugins.support_bot.plugin.SupportBotService`):
``search(queue, question)``, ``entries(queue)``, ``conversation(ticket)``,
``transcript(ticket, lang)``, ``outcomes(queue, since, until)`` (counts for reports:
conversations, resolved, handed_off and per reason, answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ANSWERED = "support_bot.answered"
HANDOFF = "support_bot.handoff"
SERVICE = "support_bot"


@dataclass
class BotAnswered:
    ticket_id: str
    queue: str
    entry_id: str
    confidence: float
    source: str             #: kb | llm | choice


@dataclass
class BotHandoff:
    ticket_id: str
    queue: str
    customer: str           #: bare JID
    reason: str             #: asked | low_confidence | unanswered | max_turns | error
    turns: int
    transcript: list[dict[str, Any]] = field(default_factory=list)   #: role, text, at (+ kind, entry, confidence)
    text: str = ""          #: the transcript as text, for an agent
