"""The bot first line of the support queue: answers from a knowledge base before queueing.

Retrieval handles Chinese and English (BM25 over words and CJK character
n-grams, with a confidence); the bot hands off to the queue below its
thresholds, after unanswered turns or when the customer asks for a person,
and the agent receives the conversation. An LLM behind an OpenAI-compatible
API can word the answers, grounded in the best entries. Knowledge bases are
managed with ad-hoc commands (list, add, edit, delete, import CSV/JSON, export).
"""

from .plugin import SupportBotPlugin as PLUGIN

__all__ = ["PLUGIN"]
