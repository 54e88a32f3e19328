"""`params.yaml: rewrite`, validated at load (`rule`, a rule name, is checked against the catalog).

```yaml
rule: none                 # a rule name from schemas/rules.yaml, or none (no rewriting)
rewrite:
  backend: transformers    # transformers | openai
  min_zh_share: null       # the rewrites suite's Chinese share (null = the suite's 0.2)
  sources: []              # seed records' `source` values (configured subsets); empty = any
  task_types: []           # seed records' task_type.major values; empty = any
  max_records: 8           # at most this many seeds (a seeded, stable sample)
  seed: 0
  generation: {max_new_tokens: 48, temperature: 0.0, top_p: 1.0, seed: 0}
  transformers: {model: base, revision: null, dtype: float32, batch_size: 4}
  openai: {base_url: http://127.0.0.1:8000/v1, model: ..., api_key_env: OPENAI_API_KEY, ...}
```
The `openai` block is required only with `backend: openai`. Loaded with
`context=subset_context(load_sources(...))`, a `sources` entry that names no
configured subset fails like a `by_source` key does.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ValidationInfo, field_validator

from stages.lib.params import Block, Names, NonNegativeInt, Params, known_subsets
from stages.llm.backends import GenerationParams
from stages.llm.backends.hf_local import TransformersParams
from stages.llm.backends.openai_chat import OpenAIParams, openai_block_needed
from stages.validate.suites import ZhShare


class RewriteParams(Params, section="rewrite"):
    """`params.yaml: rewrite`: seeds, backend and generation of the rewrite stage."""

    backend: Literal["transformers", "openai"]
    min_zh_share: ZhShare = None
    sources: Names = []
    task_types: Names = []
    max_records: NonNegativeInt = 8
    seed: NonNegativeInt = 0
    generation: Annotated[GenerationParams, Block] = GenerationParams()
    transformers: Annotated[TransformersParams, Block] = TransformersParams()
    openai: OpenAIParams | None = None

    @field_validator("sources")
    @classmethod
    def _configured(cls, sources: list[str], info: ValidationInfo) -> list[str]:
        known_subsets(dict.fromkeys(sources), info)
        return sources

    _needed = field_validator("openai")(openai_block_needed)
