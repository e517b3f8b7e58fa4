"""An optional LLM answerer behind an OpenAI-compatible ``/v1/chat/completions`` API.

It is grounded: the model sees only the best knowledge-base entries for the
question and must answer from them or reply ``NO_ANSWER``. Any failure (time
limit, network, HTTP status, malformed reply) is reported as such and the bot
falls back to the knowledge base; the API key comes from an environment
variable and is never logged.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from component.config import ConfigError, doc
from component.texts import pick

from .http import HttpError, Response, post_json
from .retrieval import Hit

log = logging.getLogger("switchboard.plugins.support_bot")

NO_ANSWER = "NO_ANSWER"
MAX_REPLY_CHARS = 2000

SYSTEM_PROMPT = (
    "You are the customer-service assistant of {queue}. Answer the customer's question using ONLY the "
    "knowledge-base entries below. If they do not answer the question, reply with exactly {no_answer} and "
    "nothing else. Never invent facts, prices, dates or links. Reply in {language}, briefly, in plain text "
    "without markdown.\n\nKnowledge base:\n{entries}")


@dataclass
class LlmOptions:
    enabled: bool = doc("Let an LLM word the answers, grounded in the best knowledge-base entries.", False)
    url: str = doc("Base URL of an OpenAI-compatible API (e.g. https://api.example.com/v1); "
                   "/chat/completions is appended unless the URL already ends with it.", "")
    model: str = doc("The model name sent with each request.", "")
    api_key_env: str = doc("Name of the environment variable holding the API key (empty: no key is sent).", "")
    timeout: float = doc("Seconds to wait for the whole answer before falling back to the knowledge base.", 8.0)
    max_tokens: int = doc("Upper bound on the length of the model's answer, in tokens.", 400)
    temperature: float = doc("Sampling temperature (low values keep the answer close to the entries).", 0.2)
    context_entries: int = doc("How many of the best knowledge-base entries the model sees.", 3)
    min_confidence: float = doc("Ask the model only when the best entry reaches this retrieval confidence.", 0.2)

    def __post_init__(self) -> None:
        if not self.enabled:
            return
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError("<config>", "llm.url", "an http:// or https:// URL is required when llm is enabled")
        if not self.model:
            raise ConfigError("<config>", "llm.model", "a model name is required when llm is enabled")
        if self.timeout <= 0:
            raise ConfigError("<config>", "llm.timeout", "must be positive")

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else url + "/chat/completions"


@dataclass
class LlmResult:
    text: str | None        #: the answer; None when the model declined or failed
    failed: bool = False    #: True: timeout, network, HTTP or format error (fall back to the knowledge base)
    error: str = ""


Poster = Callable[..., Awaitable[Response]]


class LlmAnswerer:
    def __init__(self, options: LlmOptions, environ: dict[str, str] | None = None, poster: Poster = post_json) -> None:
        self.options = options
        self.poster = poster
        env = os.environ if environ is None else environ
        self._key = env.get(options.api_key_env, "") if options.api_key_env else ""
        if options.api_key_env and not self._key:
            log.warning("the LLM API key variable is empty or unset; requests go without a key",
                        extra={"variable": options.api_key_env})

    def messages(self, question: str, hits: list[Hit], lang: str, queue: str,
                 history: list[tuple[str, str]] = ()) -> list[dict[str, str]]:  # type: ignore[assignment]
        """The chat: the grounded system prompt, a little recent context, then the question."""
        shown = hits[:max(1, self.options.context_entries)]
        entries = "\n\n".join(f"[{i}] Q: {h.entry.question}\nA: {h.entry.answer}" for i, h in enumerate(shown, 1))
        language = pick("English", "Simplified Chinese", lang)
        system = SYSTEM_PROMPT.format(queue=queue, no_answer=NO_ANSWER, language=language, entries=entries)
        chat = [{"role": "system", "content": system}]
        for role, content in history:
            chat.append({"role": "assistant" if role == "bot" else "user", "content": content})
        chat.append({"role": "user", "content": question})
        return chat

    async def answer(self, question: str, hits: list[Hit], lang: str, queue: str,
                     history: list[tuple[str, str]] = ()) -> LlmResult:  # type: ignore[assignment]
        payload = {"model": self.options.model, "messages": self.messages(question, hits, lang, queue, history),
                   "max_tokens": self.options.max_tokens, "temperature": self.options.temperature,
                   "stream": False}
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        started = time.monotonic()
        try:
            response = await self.poster(self.options.endpoint, payload, headers=headers,
                                         timeout=self.options.timeout)
        except HttpError as exc:
            return self._failed(str(exc), started)
        if response.status != 200:
            return self._failed(f"HTTP status {response.status}", started)
        try:
            content = parse_completion(response.json())
        except (HttpError, ValueError) as exc:
            return self._failed(str(exc), started)
        elapsed = int((time.monotonic() - started) * 1000)
        if not content or NO_ANSWER in content.upper().replace(" ", "_"):
            log.info("LLM found no answer in the entries", extra={"elapsed_ms": elapsed})
            return LlmResult(None)
        log.info("LLM answered", extra={"elapsed_ms": elapsed, "chars": len(content)})
        return LlmResult(content[:MAX_REPLY_CHARS])

    @staticmethod
    def _failed(error: str, started: float) -> LlmResult:
        log.warning("LLM request failed, answering from the knowledge base",
                    extra={"error": error, "elapsed_ms": int((time.monotonic() - started) * 1000)})
        return LlmResult(None, failed=True, error=error)


def parse_completion(data: Any) -> str:
    """The text of the first choice of a chat-completions response."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError("not a chat-completions response") from exc
    if content is None:
        return ""
    if not isinstance(content, str):
        raise ValueError("the message content is not text")
    return content.strip()
