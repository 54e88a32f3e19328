"""What every rewrite backend offers, and the generation parameters they share.

A backend turns a list of chat prompts into one result per prompt, in order:
a `Response` (the model's text) or a `Failure` (this prompt failed after the
backend's retries, or its answer leaked the API key; the stage rejects the row
with the failure's reason, `rewrite_backend_error` or `rewrite_secret_in_output`).
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
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from stages.llm.cache import Response
from stages.llm.prompts import Messages

BACKENDS = ("transformers", "openai")


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings; temperature 0 means greedy decoding."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        where = "params.yaml: rewrite.generation"
        if not isinstance(self.max_new_tokens, int) or isinstance(self.max_new_tokens, bool) or self.max_new_tokens < 1:
            raise ValueError(f"{where}.max_new_tokens: must be a positive integer")
        if not isinstance(self.temperature, (int, float)) or self.temperature < 0:
            raise ValueError(f"{where}.temperature: must be >= 0 (0 = greedy)")
        if not isinstance(self.top_p, (int, float)) or not 0 < self.top_p <= 1:
            raise ValueError(f"{where}.top_p: must be in (0, 1]")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"{where}.seed: must be an integer")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Failure:
    """This prompt failed; `reason` is the rejected row's reason code (never cached, retried next run)."""

    detail: str
    reason: str = "rewrite_backend_error"


Result = Response | Failure
OnResponse = Callable[[int, Response], None]


class Backend(Protocol):
    name: str  # "openai" | "transformers"

    @property
    def model(self) -> str:
        """Readable model name, copied into records."""

    @property
    def identity(self) -> str:
        """Model identity for cache keys (includes a weights hash or revision where known)."""

    def generate(self, prompts: list[Messages], generation: GenerationParams, on_response: OnResponse) -> list[Result]:
        """One result per prompt, in order."""
