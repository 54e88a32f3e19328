"""`params.yaml: judge`, validated at load.

```yaml
judge:
  enabled: true              # false: records pass through with empty judge columns, nothing is loaded
  backend: transformers      # transformers (local, probability-weighted scores) | openai (any endpoint)
  attempts: 3                # answers asked per record: the first, then retries after an invalid one
  max_chars: 2000            # question and answer each cut to this many characters in the prompt
  generation: {max_new_tokens: 16, temperature: 0.0, top_p: 1.0, seed: 0}
  transformers: {model: base, revision: null, dtype: float32}
  openai: {base_url: http://127.0.0.1:8000/v1, model: ..., api_key_env: OPENAI_API_KEY, ...}
```
The backends and their blocks are rewrite's (stages/llm/backends); `generation.max_new_tokens` is the
whole answer's budget for `openai` and the rationale's for `transformers` (its scores are not
generated), which judges one record at a time and does not use `transformers.batch_size`.
`generation`, `max_chars`, the backend, the model (with its revision, and dtype for `transformers`)
are part of every cache key; `attempts`, `enabled` and the endpoint's URL and connection settings
are not.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import field_validator

from stages.lib.params import Block, Params, PositiveInt
from stages.llm.backends import GenerationParams
from stages.llm.backends.hf_local import TransformersParams
from stages.llm.backends.openai_chat import OpenAIParams, openai_block_needed


class JudgeParams(Params, section="judge"):
    """`params.yaml: judge`: whether and how the judge stage scores every candidate."""

    enabled: bool = True
    backend: Literal["transformers", "openai"]
    attempts: PositiveInt = 3
    max_chars: PositiveInt = 2000
    generation: Annotated[GenerationParams, Block] = GenerationParams()
    transformers: Annotated[TransformersParams, Block] = TransformersParams()
    openai: OpenAIParams | None = None

    _needed = field_validator("openai")(openai_block_needed)
