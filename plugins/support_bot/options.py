"""Options of the bot (validated strictly from TOML)."""

from __future__ import annotations

from dataclasses import dataclass

from component.config import ConfigError, doc

from .llm import LlmOptions


@dataclass
class BotOptions:
    queues: list[str] = doc("Queues the bot answers first (empty: every queue that has knowledge-base entries).",
                            factory=list)
    answer_threshold: float = doc("Confidence (0-1) from which the bot answers with the best entry.", 0.45)
    handoff_threshold: float = doc(
        "Below this confidence the bot hands off at once; between it and answer_threshold it suggests "
        "the closest questions (an unanswered turn).", 0.2)
    max_unanswered: int = doc("Unanswered turns (suggestions, 'that did not help') before the bot hands off.", 2)
    max_turns: int = doc("Customer messages the bot handles before it hands off anyway.", 8)
    suggestions: int = doc("Closest questions offered when the bot is unsure.", 3)
    handoff_phrases: list[str] = doc(
        "More phrases that ask for a person wherever they appear (built in: 转人工, 人工客服, real person, "
        "talk to a human, ...).", factory=list)
    handoff_words: list[str] = doc(
        "More words that ask for a person when they are the whole message (built in: human, agent, 客服, ...).",
        factory=list)
    answer_footer: bool = doc("End each answer with 'Did this answer your question? ... write human'.", True)
    close_when_resolved: bool = doc("Close the ticket when the customer thanks the bot after an answer.", True)
    name_en: str = doc("The bot's name in transcripts shown to agents (English).", "Assistant")
    name_zh: str = doc("The bot's name in transcripts shown to agents (Chinese).", "智能助手")
    max_entries: int = doc("Entries a queue's knowledge base may hold.", 100_000)
    seed_files: dict[str, str] = doc(
        "Knowledge-base files (CSV or JSON, as the import command reads them) per queue, imported at start "
        "into a queue whose knowledge base is still empty: a demo or a first installation. Relative paths are "
        "relative to the configuration file.", factory=dict)
    llm: LlmOptions = doc("An optional LLM answerer (OpenAI-compatible chat completions).", factory=LlmOptions)

    def __post_init__(self) -> None:
        for key in ("answer_threshold", "handoff_threshold"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError("<config>", key, "must be between 0 and 1")
        if self.handoff_threshold > self.answer_threshold:
            raise ConfigError("<config>", "handoff_threshold", "must not be above answer_threshold")
        for key in ("max_unanswered", "max_turns", "suggestions", "max_entries"):
            if getattr(self, key) < 1:
                raise ConfigError("<config>", key, "must be at least 1")
