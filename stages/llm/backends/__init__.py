"""What every rewrite backend offers, and the generation parameters they share.

A backend turns a list of chat prompts into one result per prompt, in order:
a `Response` (the model's text and finish reason, nothing else) or a `Failure`
(this prompt failed after the backend's retries; the stage rejects the row with
the failure's reason, `rewrite_backend_error`). Its `guard` finds the API key the
backend sends (`NO_KEY` when there is none); the stage screens every answer with
it before caching or writing.
Problems that would fail every prompt the same way (endpoint unreachable, key
refused, model missing) raise `StageError` instead and stop the stage.

`on_response(index, response)` is called as soon as each response arrives, so
the caller can cache it before the remaining prompts finish: an interrupted run
keeps what it paid for.

Backends: `openai` (stages/llm/backends/openai_chat.py) and `transformers`
(stages/llm/backends/hf_local.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from stages.lib.params import Number, Params, PositiveInt, check
from stages.llm.cache import Response
from stages.llm.prompts import Messages
from stages.llm.screen import KeyGuard


class GenerationParams(Params):
    """`params.yaml: rewrite.generation`: sampling settings, part of every cache key; temperature 0 = greedy."""

    max_new_tokens: PositiveInt = 512
    temperature: Annotated[Number, check(lambda v: v >= 0, ">= 0 (0 = greedy)")] = 0.0
    top_p: Annotated[Number, check(lambda v: 0 < v <= 1, "in (0, 1]")] = 1.0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


@dataclass(frozen=True)
class Failure:
    """This prompt failed; `reason` is the rejected row's reason code (never cached, retried next run)."""

    detail: str
    reason: str = "rewrite_backend_error"


Result = Response | Failure
OnResponse = Callable[[int, Response], None]


class Backend(Protocol):
    name: str  # "openai" | "transformers"
    guard: KeyGuard  # finds the API key this backend sends, in any form

    @property
    def model(self) -> str:
        """Readable model name, copied into records."""

    @property
    def identity(self) -> str:
        """Model identity for cache keys (includes a weights hash or revision where known)."""

    def generate(self, prompts: list[Messages], generation: GenerationParams, on_response: OnResponse) -> list[Result]:
        """One result per prompt, in order."""
