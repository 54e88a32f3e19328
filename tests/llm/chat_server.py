"""A real HTTP server on 127.0.0.1 that speaks OpenAI's /v1/chat/completions, for tests.

Answers are deterministic: a function of the user message. Behaviour per
prompt is chosen by `behaviours`, a list of (substring of the user message,
behaviour) pairs checked in order; the default is "ok":

- ok            200 with a 【问题】/【回答】 answer
- 429_once      429 (Retry-After: 0) on the first attempt, then ok
- 500_once      503 on the first attempt, then ok
- 429_always    429 every time
- slow_once     the first attempt sleeps `slow_s` before answering (the client times out), then ok
- slow_always   every attempt sleeps
- malformed     200 with a body that is not JSON
- no_choices    200 with JSON lacking `choices`
- garbage       200 with an answer in no accepted format
- empty         200 with content ""
- 401           401 (for every request)
- echo_auth     200 with an answer that quotes the request's Authorization header (a leaking endpoint)
- corrupt_gzip  200 with `Content-Encoding: gzip` and a body that is not gzip
- echo_prompt   200 with the system and user messages as the answer (a prompt-injection outcome)
- echo_rule     200 with 【问题】/【回答】 holding the rule's lines of the user message
- judge         200 with a valid judge answer (`judge_answer`: the dimensions named in the prompt's format line)
- judge_not_json, judge_out_of_range (overall 11), judge_missing_dimension (the first one left out):
                200 with that kind of invalid judge answer, every time
- judge_invalid_once  not JSON on the first attempt, a valid judge answer on the retry
- leak:<field>:<form>  the API key (from the Authorization header) written as `key_forms(key)[form]`
                (tests/llm/leaks.py) into one field: `content` (after a good answer), `json` (a JSON
                answer whose output spells the key in \\u escapes; no form), `finish_reason`, `id`,
                `model`, `system_fingerprint`, `tool_call`, `logprobs`, `second_choice`, `error400`
                (a 400 error's message), `malformed` (a body that is not JSON)

Attempts are counted per conversation (its first user message), so a retry turn is attempt 2. Every
completion reports `usage`: prompt_tokens = characters of the messages, completion_tokens = characters
of the answer. It records every request (path, body, Authorization header) and the largest
number of requests it handled at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.llm.leaks import key_forms


def answer_for(user: str) -> str:
    tag = hashlib.sha256(user.encode("utf-8")).hexdigest()[:8]
    return f"【问题】改写后的问题 {tag}：月亮的名字会不会发光？\n【回答】名字不会发光，发光的是被太阳照亮的月球表面。（{tag}）"



def judge_scores(user: str) -> dict:
    """The valid judge answer for a prompt: scores from a hash of the user message, for the dimensions its
    format line names in `"dimensions":{"accuracy":<1-10>,...}`)."""
    shape = re.search(r'"dimensions":\{(.*?)\}', user)
    names = re.findall(r'"([a-z][a-z0-9_]*)":<1-10>', shape.group(1) if shape else "")
    tag = int(hashlib.sha256(user.encode("utf-8")).hexdigest()[:12], 16)
    overall = 1 + tag % 10
    return {"dimensions": {name: 1 + (tag >> (4 * (k + 1))) % 10 for k, name in enumerate(names)},
            "overall": overall, "verdict": "keep" if overall >= 8 else "discard" if overall < 5 else "review",
            "rationale": f"回答基本准确，条理清楚（{tag % 1000}）。"}


def judge_answer(user: str, kind: str = "judge") -> str:
    answer = judge_scores(user)
    if kind == "judge_not_json":
        return "这条回答还不错，我给八分。"
    if kind == "judge_out_of_range":
        answer["overall"] = 11
    if kind == "judge_missing_dimension":
        answer["dimensions"].pop(next(iter(answer["dimensions"])))
    return json.dumps(answer, ensure_ascii=False)


def completion(content: str, body: dict[str, Any]) -> dict[str, Any]:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    return {"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(content),
                      "total_tokens": prompt + len(content)}}


class ChatServer:
    def __init__(self, behaviours: list[tuple[str, str]] | None = None, slow_s: float = 1.0) -> None:
        self.behaviours = behaviours or []
        self.slow_s = slow_s
        self.requests: list[dict[str, Any]] = []
        self.usage: list[dict[str, int]] = []  # the usage of every judge answer sent
        self.attempts: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def behaviour(self, user: str) -> str:
        return next((b for marker, b in self.behaviours if marker in user), "ok")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                user = next((m["content"] for m in body.get("messages", []) if m["role"] == "user"), "")
                with server.lock:
                    server.requests.append({"path": self.path, "body": body,
                                            "authorization": self.headers.get("Authorization")})
                    server.attempts[user] += 1
                    attempt = server.attempts[user]
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self.respond(server.behaviour(user), attempt, user, body)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def respond(self, behaviour: str, attempt: int, user: str, body: dict[str, Any]) -> None:
                error = {"error": {"message": "try later", "type": "rate_limit"}}
                if self.path != "/v1/chat/completions":
                    return self.send(404, json.dumps({"error": {"message": "no such route"}}).encode())
                if behaviour == "401":
                    return self.send(401, json.dumps({"error": {"message": "invalid api key"}}).encode())
                if behaviour == "429_always" or (behaviour == "429_once" and attempt == 1):
                    return self.send(429, json.dumps(error).encode(), {"Retry-After": "0"})
                if behaviour == "500_once" and attempt == 1:
                    return self.send(503, b"upstream busy")
                if behaviour == "slow_always" or (behaviour == "slow_once" and attempt == 1):
                    time.sleep(server.slow_s)
                if behaviour == "malformed":
                    return self.send(200, b"{not json")
                if behaviour == "no_choices":
                    return self.send(200, json.dumps({"object": "chat.completion"}).encode())
                if behaviour == "corrupt_gzip":
                    return self.send(200, b"\x1f\x8b\x08\x00this is not deflate data" * 4, {"Content-Encoding": "gzip"})
                if behaviour.startswith("leak:"):
                    return self.leak(behaviour, user, body)
                messages = body.get("messages", [])
                rule_lines = [line for line in user.splitlines() if line.startswith(("规则说明：", "对回答的要求："))]
                if behaviour.startswith("judge"):
                    kind = "judge_not_json" if behaviour == "judge_invalid_once" and attempt == 1 else behaviour
                    content = judge_answer(user, "judge" if kind == "judge_invalid_once" else kind)
                    reply = completion(content, body)
                    with server.lock:
                        server.usage.append(reply["usage"])
                    return self.send(200, json.dumps(reply, ensure_ascii=False).encode("utf-8"))
                content = {"garbage": "我觉得这个问题很有意思，但我不想改写。", "empty": "",
                           "echo_auth": f"{answer_for(user)}\n(debug: {self.headers.get('Authorization')})",
                           "echo_prompt": "\n".join(m["content"] for m in messages if m["role"] != "assistant"),
                           "echo_rule": "【问题】" + "\n【回答】".join(rule_lines),
                           }.get(behaviour, answer_for(user))
                return self.send(200, json.dumps(completion(content, body), ensure_ascii=False).encode("utf-8"))

            def leak(self, behaviour: str, user: str, body: dict[str, Any]) -> None:
                _, field, form = (behaviour.split(":") + [""])[:3]
                key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                spelt = key_forms(key).get(form, key)
                if field == "error400":
                    return self.send(400, json.dumps({"error": {"message": f"bad request for {spelt}"}}).encode())
                if field == "malformed":
                    return self.send(200, f"{{not json {spelt}".encode())
                content = answer_for(user)
                if field == "content":
                    content += f"\n{spelt}"
                elif field == "json":
                    escaped = "".join(f"\\u{ord(ch):04x}" for ch in key)
                    content = '{"instruction": "改写后的问题？", "output": "密钥是 ' + escaped + '"}'
                reply = completion(content, body)
                choice = reply["choices"][0]
                if field in ("id", "model", "system_fingerprint"):
                    reply[field] = spelt
                elif field == "finish_reason":
                    choice["finish_reason"] = spelt
                elif field == "tool_call":
                    choice["message"]["tool_calls"] = [{"id": "call_1", "type": "function",
                                                        "function": {"name": "lookup", "arguments": spelt}}]
                elif field == "logprobs":
                    choice["logprobs"] = {"content": [{"token": spelt, "logprob": -0.1, "top_logprobs": []}]}
                elif field == "second_choice":
                    reply["choices"].append({"index": 1, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": spelt}})
                return self.send(200, json.dumps(reply, ensure_ascii=False).encode("utf-8"))

        return Handler
