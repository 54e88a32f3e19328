"""`params.yaml: rule` and `params.yaml: rewrite`, validated at load.

```yaml
rule: none                 # a rule name from schemas/rules.yaml, or none (no rewriting)
rewrite:
  backend: transformers    # transformers | openai
  sources: []              # seed records' `source` values; empty = any
  task_types: []           # seed records' task_type.major values; empty = any
  max_records: 8           # at most this many seeds (a seeded, stable sample)
  seed: 0
  generation: {max_new_tokens: 48, temperature: 0.0, top_p: 1.0, seed: 0}
  transformers: {model: base, revision: null, dtype: float32, batch_size: 4}
  openai: {base_url: http://127.0.0.1:8000/v1, model: ..., api_key_env: OPENAI_API_KEY, ...}
```
The `openai` block is required only with `backend: openai`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stages.lib.params import require_keys
from stages.llm.backends import BACKENDS, GenerationParams
from stages.llm.backends.hf_local import LocalSettings, parse_local_settings
from stages.llm.backends.openai_chat import OpenAISettings, parse_openai_settings

WHERE = "params.yaml: rewrite"
KEYS = {"backend", "sources", "task_types", "max_records", "seed", "generation", "transformers", "openai",
        "min_zh_share"}


@dataclass(frozen=True)
class RewriteSettings:
    backend: str
    sources: tuple[str, ...] = ()
    task_types: tuple[str, ...] = ()
    max_records: int = 8
    seed: int = 0
    generation: GenerationParams = GenerationParams()
    transformers: LocalSettings = LocalSettings()
    openai: OpenAISettings | None = None


def _names(key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{WHERE}.{key}: must be a list of names (empty = any)")
    return tuple(value)


def parse_rewrite_settings(raw: Any) -> RewriteSettings:
    require_keys(WHERE, raw, KEYS, {"backend"})
    backend = raw["backend"]
    if backend not in BACKENDS:
        raise ValueError(f"{WHERE}.backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")
    for key in ("max_records", "seed"):
        value = raw.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{WHERE}.{key}: must be a non-negative integer, got {value!r}")
    generation_raw = raw.get("generation") or {}
    require_keys(f"{WHERE}.generation", generation_raw, set(GenerationParams.__dataclass_fields__), set())
    openai_raw = raw.get("openai")
    if backend == "openai" and openai_raw is None:
        raise ValueError(f"{WHERE}.openai: backend openai needs base_url and model")
    return RewriteSettings(
        backend=backend,
        sources=_names("sources", raw.get("sources")),
        task_types=_names("task_types", raw.get("task_types")),
        max_records=raw.get("max_records", 8),
        seed=raw.get("seed", 0),
        generation=GenerationParams(**generation_raw),
        transformers=parse_local_settings(raw.get("transformers")),
        openai=parse_openai_settings(openai_raw) if openai_raw is not None else None,
    )
