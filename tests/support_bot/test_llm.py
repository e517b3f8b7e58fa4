"""The LLM answerer against a local server speaking the chat-completions API: grounding, key, failures."""

from __future__ import annotations

import asyncio
import time

import pytest

from plugins.support_bot.http import HttpError, post_json
from plugins.support_bot.llm import LlmAnswerer, LlmOptions, parse_completion

from .fake_llm import FakeLlm
from .kbdata import sample_index

QUESTION = "How long until I get my refund?"


def answerer(server: FakeLlm, timeout: float = 2.0, **env: str) -> LlmAnswerer:
    options = LlmOptions(enabled=True, url=server.url, model="test-model", api_key_env="BOT_TEST_KEY" if env else "",
                         timeout=timeout)
    return LlmAnswerer(options, environ={"BOT_TEST_KEY": env["key"]} if env else {})


async def test_request_shape_grounding_and_answer():
    hits = sample_index().search(QUESTION)
    async with FakeLlm(text="Your refund arrives within 5 to 7 business days.") as server:
        result = await answerer(server, key="sk-test-123").answer(QUESTION, hits, "en", "help",
                                                                  [("customer", "hi"), ("bot", "Hello!")])
        assert result.text == "Your refund arrives within 5 to 7 business days." and not result.failed
        (request,) = server.requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-123"
    assert request.headers["content-type"] == "application/json"
    body = request.body
    assert body["model"] == "test-model" and body["stream"] is False and body["max_tokens"] == 400
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    system = body["messages"][0]["content"]
    assert "How long does a refund take?" in system and "5 to 7 business days" in system  # grounded
    assert "NO_ANSWER" in system and "English" in system
    assert body["messages"][-1]["content"] == QUESTION


async def test_chinese_customers_get_a_chinese_prompt_and_chunked_replies_are_read():
    hits = sample_index().search("退款什么时候到账")
    async with FakeLlm(mode="chunked", text="退款会在5到7个工作日内到账。") as server:
        result = await answerer(server).answer("退款什么时候到账", hits, "zh", "help")
        assert result.text == "退款会在5到7个工作日内到账。"
        assert "Simplified Chinese" in server.requests[0].body["messages"][0]["content"]
        assert "authorization" not in server.requests[0].headers   # no key configured, none sent


async def test_the_model_declining_is_not_a_failure():
    hits = sample_index().search(QUESTION)
    async with FakeLlm(mode="no_answer") as server:
        result = await answerer(server).answer(QUESTION, hits, "en", "help")
    assert result.text is None and not result.failed


@pytest.mark.parametrize("mode", ["error", "garbage", "hang_up"])
async def test_server_failures_are_reported_as_failures(mode):
    hits = sample_index().search(QUESTION)
    async with FakeLlm(mode=mode) as server:
        result = await answerer(server).answer(QUESTION, hits, "en", "help")
    assert result.failed and result.text is None and result.error


async def test_timeout_is_bounded_and_does_not_block_the_loop():
    hits = sample_index().search(QUESTION)
    ticks = 0

    async def heartbeat():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with FakeLlm(mode="slow", delay=5.0) as server:
        beating = asyncio.ensure_future(heartbeat())
        started = time.monotonic()
        result = await answerer(server, timeout=0.3).answer(QUESTION, hits, "en", "help")
        elapsed = time.monotonic() - started
        beating.cancel()
    assert result.failed and "0.3" in result.error
    assert 0.25 <= elapsed < 2.0
    assert ticks >= 5   # the loop kept running while the request waited


async def test_connection_refused_is_a_failure():
    server = await FakeLlm().start()
    await server.close()   # the port is free again: nothing listens
    result = await answerer(server).answer(QUESTION, sample_index().search(QUESTION), "en", "help")
    assert result.failed and "cannot connect" in result.error


async def test_http_client_rejects_bad_urls():
    with pytest.raises(HttpError):
        await post_json("ftp://example.org/x", {})


def test_options_validation_and_endpoint():
    from component.config import ConfigError

    assert LlmOptions().enabled is False
    assert LlmOptions(enabled=True, url="http://h/v1", model="m").endpoint == "http://h/v1/chat/completions"
    assert LlmOptions(enabled=True, url="http://h/v1/chat/completions/", model="m").endpoint == \
        "http://h/v1/chat/completions"
    with pytest.raises(ConfigError):
        LlmOptions(enabled=True, url="", model="m")
    with pytest.raises(ConfigError):
        LlmOptions(enabled=True, url="http://h/v1", model="")


def test_parse_completion():
    assert parse_completion({"choices": [{"message": {"content": " hi "}}]}) == "hi"
    assert parse_completion({"choices": [{"message": {"content": None}}]}) == ""
    with pytest.raises(ValueError):
        parse_completion({"error": "x"})
