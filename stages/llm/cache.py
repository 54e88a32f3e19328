"""Content-addressed cache of LLM responses, so no call is paid for twice.

The key is the sha256 of the canonical JSON of the request:
`{"backend", "model", "messages", "generation"}` where `model` is the backend's
model identity (for local models it includes a hash of the weights) and
`generation` the generation parameters. The endpoint URL and the API key are not
part of the request and are never stored: the same model behind another URL
reuses its answers.

Each entry is one JSON file `<root>/<key[:2]>/<key>.json` holding the request and
the response text, written atomically with sorted keys (no timestamps), so the
directory is deterministic and safe for concurrent writers. In dvc.yaml the
root is an output with `persist: true`: DVC keeps it between runs and
experiments and `dvc push` shares it. Only successful responses are stored; a
backend error is retried on the next run. A response containing the API key is
never stored (the backend fails it), and an entry found to contain it is removed. An entry whose stored key does not
match its file name is ignored (counted as a miss) and overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.lib.io import write_json
from stages.llm.prompts import Messages, sha256_of


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


@dataclass(frozen=True)
class Response:
    text: str
    finish_reason: str | None = None


class ResponseCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self.stored = 0

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, request: Request) -> Response | None:
        key = request.key
        path = self.path_for(key)
        entry = None
        if path.is_file():
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                entry = None
        if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("response"), dict):
            self.misses += 1
            return None
        self.hits += 1
        response = entry["response"]
        return Response(text=str(response.get("text", "")), finish_reason=response.get("finish_reason"))

    def put(self, request: Request, response: Response) -> None:
        key = request.key
        entry = {"key": key, "request": request.as_dict(),
                 "response": {"text": response.text, "finish_reason": response.finish_reason}}
        write_json(entry, self.path_for(key))
        self.stored += 1

    def discard(self, request: Request) -> None:
        """Remove the entry for `request` (e.g. an answer found to leak a secret)."""
        self.path_for(request.key).unlink(missing_ok=True)

    def ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def counts(self) -> dict[str, int]:
        return {"cache_hits": self.hits, "cache_misses": self.misses, "cache_stored": self.stored}
