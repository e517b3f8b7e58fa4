"""The bot's decisions, one customer message at a time (pure: no I/O, no clock).

For each message, in this order:

1. the customer asks for a person ("转人工", "human", ...) -> hand off (``asked``);
2. they pick one of the numbered suggestions of the previous turn -> that answer;
3. after an answer, thanks -> resolved; "no / not helpful" -> an unanswered turn;
4. more than ``max_turns`` messages -> hand off (``max_turns``);
5. retrieval: confidence >= ``answer_threshold`` -> answer;
   >= ``handoff_threshold`` -> an unanswered turn with numbered suggestions;
   below -> hand off (``low_confidence``);
6. the ``max_unanswered``-th unanswered turn hands off (``unanswered``).

With an LLM answerer, step 5 asks it (grounded in the candidates) whenever the
best candidate reaches ``llm_min_confidence``; :func:`after_llm` turns its
answer, refusal or failure into the final step (failure: the rules above).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import intents
from .analysis import terms
from .retrieval import Entry, Hit, Index

HANDOFF_REASONS = ("asked", "low_confidence", "unanswered", "max_turns")


@dataclass
class Policy:
    answer_threshold: float = 0.45
    handoff_threshold: float = 0.2
    max_unanswered: int = 2
    max_turns: int = 8
    suggestions: int = 3
    handoff_phrases: tuple[str, ...] = ()
    handoff_words: tuple[str, ...] = ()
    llm: bool = False
    llm_min_confidence: float = 0.2


@dataclass
class Turn:
    role: str               #: customer | bot
    text: str
    at: float
    kind: str = ""          #: bot turns: answer | suggest | rephrase | welcome | resolved | handoff
    entry: str = ""         #: the entry answered with
    confidence: float | None = None
    source: str = ""        #: kb | llm | choice

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "text": self.text, "at": self.at}
        for key in ("kind", "entry", "source"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.confidence is not None:
            data["confidence"] = round(self.confidence, 4)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Turn":
        return cls(role=data.get("role", ""), text=data.get("text", ""), at=float(data.get("at", 0.0)),
                   kind=data.get("kind", ""), entry=data.get("entry", ""), confidence=data.get("confidence"),
                   source=data.get("source", ""))


@dataclass
class Conversation:
    """The bot's side of one ticket."""

    ticket: str
    queue: str
    customer: str
    lang: str
    created_at: float
    state: str = "active"   #: active | resolved | handed_off | ended
    reason: str = ""        #: hand-off reason
    turns: int = 0          #: customer messages read
    answered: int = 0
    unanswered: int = 0
    suggestions: list[str] = field(default_factory=list)
    last_entry: str = ""
    transcript: list[Turn] = field(default_factory=list)
    updated_at: float = 0.0


# -- steps ------------------------------------------------------------------------
@dataclass
class Answer:
    entry: Entry
    confidence: float
    source: str = "kb"      #: kb | llm | choice
    text: str = ""          #: the LLM's wording ("" = the entry's answer)


@dataclass
class Suggest:
    hits: list[Hit]


@dataclass
class Rephrase:
    """The last answer did not help; ask again."""


@dataclass
class Welcome:
    """Nothing to search for (a greeting): say what the bot does."""


@dataclass
class Resolved:
    """The customer thanked the bot after an answer."""


@dataclass
class Handoff:
    reason: str             #: one of HANDOFF_REASONS
    hits: list[Hit] = field(default_factory=list)


@dataclass
class AskLlm:
    """Retrieval found candidates: let the LLM answer from them (then :func:`after_llm`)."""

    hits: list[Hit]


Step = Answer | Suggest | Rephrase | Welcome | Resolved | Handoff


def decide(conv: Conversation, text: str, index: Index, policy: Policy) -> Step | AskLlm:
    """What to do with the customer's message ``text`` (the conversation is not changed)."""
    if intents.wants_human(text, policy.handoff_phrases, policy.handoff_words):
        return Handoff("asked")
    if conv.suggestions:
        picked = intents.choice(text, len(conv.suggestions))
        if picked is not None:
            entry = index.get(conv.suggestions[picked - 1])
            if entry is not None:
                return Answer(entry, 1.0, "choice")
    if conv.last_entry:
        if intents.is_thanks(text):
            return Resolved()
        if intents.is_not_helpful(text):
            return _unanswered(conv, policy, lambda: Rephrase())
    if conv.turns + 1 > policy.max_turns:
        return Handoff("max_turns")
    if not terms(text):
        return Welcome()
    hits = index.search(text, limit=max(policy.suggestions, 1))
    if policy.llm and hits and hits[0].confidence >= policy.llm_min_confidence:
        return AskLlm(hits)
    return by_rules(conv, hits, policy)


def by_rules(conv: Conversation, hits: list[Hit], policy: Policy) -> Step:
    """The knowledge-base decision for retrieval ``hits``."""
    best = hits[0].confidence if hits else 0.0
    if best >= policy.answer_threshold:
        return Answer(hits[0].entry, best, "kb")
    if best >= policy.handoff_threshold:
        shown = [h for h in hits if h.confidence >= policy.handoff_threshold][:policy.suggestions]
        return _unanswered(conv, policy, lambda: Suggest(shown), hits)
    return Handoff("low_confidence", hits)


def after_llm(conv: Conversation, hits: list[Hit], policy: Policy, reply: str | None, failed: bool) -> Step:
    """The step once the LLM answered (``reply``), declined (None) or failed (timeout, error)."""
    if failed:
        return by_rules(conv, hits, policy)
    if reply:
        return Answer(hits[0].entry, hits[0].confidence, "llm", reply)
    # The model found nothing in the entries that answers: never guess.
    if hits and hits[0].confidence >= policy.handoff_threshold:
        shown = [h for h in hits if h.confidence >= policy.handoff_threshold][:policy.suggestions]
        return _unanswered(conv, policy, lambda: Suggest(shown), hits)
    return Handoff("low_confidence", hits)


def _unanswered(conv: Conversation, policy: Policy, otherwise: Any, hits: list[Hit] | None = None) -> Step:
    """One more unanswered turn: ``otherwise()``, or the hand-off when it is one too many."""
    if conv.unanswered + 1 >= policy.max_unanswered:
        return Handoff("unanswered", list(hits or []))
    return otherwise()


def apply(conv: Conversation, step: Step, customer_text: str, bot_text: str, now: float) -> None:
    """Record the customer's message and the bot's step in the conversation."""
    conv.turns += 1
    conv.updated_at = now
    conv.transcript.append(Turn("customer", customer_text, now))
    turn = Turn("bot", bot_text, now)
    conv.suggestions = []
    if isinstance(step, Answer):
        conv.answered += 1
        conv.last_entry = step.entry.id
        turn.kind, turn.entry, turn.confidence, turn.source = "answer", step.entry.id, step.confidence, step.source
    elif isinstance(step, Suggest):
        conv.unanswered += 1
        conv.last_entry = ""
        conv.suggestions = [h.entry.id for h in step.hits]
        turn.kind = "suggest"
        turn.confidence = step.hits[0].confidence if step.hits else None
    elif isinstance(step, Rephrase):
        conv.unanswered += 1
        conv.last_entry = ""
        turn.kind = "rephrase"
    elif isinstance(step, Welcome):
        turn.kind = "welcome"
    elif isinstance(step, Resolved):
        conv.state = "resolved"
        turn.kind = "resolved"
    elif isinstance(step, Handoff):
        if step.reason == "unanswered":
            conv.unanswered += 1
        conv.state = "handed_off"
        conv.reason = step.reason
        turn.kind = "handoff"
        turn.confidence = step.hits[0].confidence if step.hits else None
    if bot_text or isinstance(step, Handoff):
        conv.transcript.append(turn)
