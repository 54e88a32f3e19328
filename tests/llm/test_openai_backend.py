"""Backend `openai` against a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from stages.lib.errors import StageError
from stages.llm.backends import Failure, GenerationParams
from stages.lib.params import parse_section
from stages.llm.backends.openai_chat import OpenAIChatBackend, OpenAIParams
from stages.llm.cache import Response
from tests.llm.chat_server import ChatServer, answer_for

def openai_params(raw) -> OpenAIParams:
    return parse_section(OpenAIParams, raw, "params.yaml: rewrite.openai")


GEN = GenerationParams(max_new_tokens=64, temperature=0.0, seed=7)
KEY = "sk-test-3f9c1a7e5b2d4c6f8a0b"


def backend(url: str, **overrides) -> OpenAIChatBackend:
    settings = {"base_url": url, "model": "tiny-chat", "api_key_env": "CQIA_TEST_KEY", "concurrency": 3,
                "timeout_s": 0.4, "retries": 2, "backoff_s": 0.01, "max_backoff_s": 0.05} | overrides
    return OpenAIChatBackend(openai_params(settings))


def prompt(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "改写助手"}, {"role": "user", "content": text}]


def test_answers_arrive_in_prompt_order_with_key_header_and_generation_params(monkeypatch):
    monkeypatch.setenv("CQIA_TEST_KEY", KEY)
    seen = []
    with ChatServer() as server:
        results = backend(server.base_url).generate([prompt(f"问题{i}") for i in range(6)], GEN,
                                                    lambda i, r: seen.append(i))
    assert [r.text for r in results] == [answer_for(f"问题{i}") for i in range(6)]
    assert all(isinstance(r, Response) and r.finish_reason == "stop" for r in results)
    assert sorted(seen) == list(range(6))
    assert {r["authorization"] for r in server.requests} == {f"Bearer {KEY}"}
    body = server.requests[0]["body"]
    assert body["model"] == "tiny-chat" and body["max_tokens"] == 64 and body["temperature"] == 0.0
    assert body["seed"] == 7 and server.requests[0]["path"] == "/v1/chat/completions"
    assert server.max_in_flight <= 3


def test_concurrency_is_bounded():
    with ChatServer(behaviours=[("慢", "slow_always")], slow_s=0.15) as server:
        results = backend(server.base_url, concurrency=2, timeout_s=2).generate(
            [prompt(f"慢{i}") for i in range(6)], GEN, lambda i, r: None)
    assert all(isinstance(r, Response) for r in results)
    assert server.max_in_flight == 2


def test_429_and_5xx_are_retried_then_answered():
    with ChatServer(behaviours=[("限流", "429_once"), ("忙", "500_once")]) as server:
        results = backend(server.base_url).generate([prompt("限流"), prompt("忙")], GEN, lambda i, r: None)
    assert [r.text for r in results] == [answer_for("限流"), answer_for("忙")]
    assert server.attempts["限流"] == 2 and server.attempts["忙"] == 2


def test_timeout_is_retried_and_a_persistent_one_fails_only_its_prompt():
    with ChatServer(behaviours=[("一次超时", "slow_once"), ("总超时", "slow_always")], slow_s=1.0) as server:
        results = backend(server.base_url).generate([prompt("一次超时"), prompt("总超时"), prompt("正常")], GEN,
                                                    lambda i, r: None)
    assert results[0].text == answer_for("一次超时") and results[2].text == answer_for("正常")
    assert isinstance(results[1], Failure) and results[1].detail.startswith("timed out after 3 attempts")
    assert server.attempts["总超时"] == 3


def test_persistent_429_malformed_bodies_fail_only_their_prompt():
    with ChatServer(behaviours=[("限流", "429_always"), ("坏", "malformed"), ("缺", "no_choices")]) as server:
        results = backend(server.base_url).generate([prompt("限流"), prompt("坏"), prompt("缺")], GEN,
                                                    lambda i, r: None)
    assert results[0].detail == "HTTP 429: try later (after 3 attempts)"
    assert results[1].detail.startswith("malformed response (JSONDecodeError")
    assert results[2].detail.startswith("malformed response (KeyError")
    assert server.attempts["坏"] == 1  # a malformed body is not retried


def test_unreachable_endpoint_stops_with_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    with pytest.raises(StageError, match=rf"cannot reach http://127.0.0.1:{port}/v1/chat/completions after 3 "
                                         r"attempts \(ConnectError.*start the server or fix rewrite.openai.base_url"):
        backend(f"http://127.0.0.1:{port}/v1").generate([prompt("问题")], GEN, lambda i, r: None)


def test_refused_key_and_wrong_path_stop_with_hints_that_never_show_the_key(monkeypatch):
    monkeypatch.setenv("CQIA_TEST_KEY", KEY)
    with ChatServer(behaviours=[("", "401")]) as server:
        with pytest.raises(StageError, match="environment variable CQIA_TEST_KEY") as refused:
            backend(server.base_url).generate([prompt("问题")], GEN, lambda i, r: None)
    assert KEY not in str(refused.value)
    with ChatServer() as server:
        with pytest.raises(StageError, match=r"HTTP 404 .*ends in /v1"):
            backend(server.base_url.removesuffix("/v1")).generate([prompt("问题")], GEN, lambda i, r: None)


def test_settings_reject_a_key_in_params_and_bad_values():
    with pytest.raises(ValueError, match="never put a key in params"):
        openai_params({"base_url": "http://x/v1", "model": "m", "api_key": KEY})
    with pytest.raises(ValueError, match="NAME of an environment variable") as err:
        openai_params({"base_url": "http://x/v1", "model": "m", "api_key_env": KEY})
    assert KEY not in str(err.value)
    with pytest.raises(ValueError, match="base_url: must start with http"):
        openai_params({"base_url": "127.0.0.1:8000", "model": "m"})
    with pytest.raises(ValueError, match="concurrency: must be a positive integer"):
        openai_params({"base_url": "http://x/v1", "model": "m", "concurrency": 0})
