"""Content-addressed cache of LLM responses, so no call is paid for twice.

The key is the sha256 of the canonical JSON of the request. For rewrite (`Request`):
`{"backend", "model", "messages", "generation"}` where `model` is the backend's
model identity (for local models it includes a hash of the weights) and
`generation` the generation parameters; any other `Keyed` request (the judge's)
names its own fields. The endpoint URL and the API key are not
part of the request and are never stored: the same model behind another URL
reuses its answers.

Each entry is one JSON file `<root>/<key[:2]>/<key>.json` holding the request and
the two response fields the stage uses, the text and a finish reason from
`FINISH_REASONS` (anything else an endpoint sends there becomes null; the raw
response is never kept), written atomically with sorted keys (no timestamps), so the
directory is deterministic and safe for concurrent writers. In dvc.yaml the
root is an output with `persist: true`: DVC keeps it between runs and
experiments and `dvc push` shares it. Only successful responses are stored; a
backend error is retried on the next run. The caller's `KeyGuard`
(stages/llm/screen.py) keeps the API key out: `put` stores nothing when any
string of the entry holds it, and `get` removes an entry whose file holds it
(a tampered or old entry) and returns `Removed`. An entry whose stored key does not
match its file name is ignored (counted as a miss) and overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from stages.lib.io import write_json
from stages.llm.prompts import Messages, sha256_of
from stages.llm.screen import NO_KEY, KeyGuard, strings

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


class Keyed(Protocol):
    """What the cache stores an answer under: a `key` (sha256 hex) and the request as a dict (kept in the
    entry). `Request` is rewrite's; the judge stage keys its entries by what the judge reads
    (stages/judge/cache_key.py)."""

    @property
    def key(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Request:
    backend: str
    model: str
    messages: Messages
    generation: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "messages": self.messages,
                "generation": self.generation}

    @property
    def key(self) -> str:
        return sha256_of(self.as_dict())


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True)
class Response:
    """What the stage keeps of a model's reply: its text, and a finish reason from `FINISH_REASONS` or None.
    `prompt_tokens`/`completion_tokens` are what the call cost (an endpoint's `usage`, a local model's counts;
    None when unknown); they are not cached, not compared, and a cached answer cost nothing."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = field(default=None, compare=False)
    completion_tokens: int | None = field(default=None, compare=False)

    @classmethod
    def of(cls, text: Any, finish_reason: Any, usage: Any = None) -> Response:
        """A response from untrusted fields: text as a string, an unknown finish reason dropped, token counts
        kept only when they are whole numbers >= 0."""
        usage = usage if isinstance(usage, dict) else {}
        return cls("" if text is None else str(text), finish_reason if finish_reason in FINISH_REASONS else None,
                   _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")))


@dataclass(frozen=True)
class Removed:
    """A cached entry held the API key: its file was removed."""

    key: str


class ResponseCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self.stored = 0

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, request: Keyed, guard: KeyGuard = NO_KEY) -> Response | Removed | None:
        """The cached response, None (a miss), or `Removed` when the entry's file holds the key `guard` finds."""
        key = request.key
        path = self.path_for(key)
        raw = path.read_bytes() if path.is_file() else b""
        try:
            entry = json.loads(raw.decode("utf-8")) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            entry = None
        if raw and guard.leaks(raw.decode("utf-8", errors="replace"), *strings(entry)):
            self.discard(request)
            self.hits += 1  # an entry was found (hits + misses = lookups)
            return Removed(key)
        if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("response"), dict):
            self.misses += 1
            return None
        self.hits += 1
        response = entry["response"]
        return Response.of(response.get("text"), response.get("finish_reason"))

    def put(self, request: Keyed, response: Response, guard: KeyGuard = NO_KEY) -> bool:
        """Store the entry; False (nothing written) when any of its strings holds the API key."""
        key = request.key
        entry = {"key": key, "request": request.as_dict(),
                 "response": {"text": response.text, "finish_reason": response.finish_reason}}
        if guard.leaks(*strings(entry)):
            return False
        write_json(entry, self.path_for(key))
        self.stored += 1
        return True

    def discard(self, request: Keyed) -> None:
        """Remove the entry for `request` (e.g. an answer whose parsed record leaks the API key)."""
        self.path_for(request.key).unlink(missing_ok=True)

    def ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def counts(self) -> dict[str, int]:
        return {"cache_hits": self.hits, "cache_misses": self.misses, "cache_stored": self.stored}
