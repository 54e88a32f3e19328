"""Backend `transformers`: batched local generation with `model.generate`.

Settings: `params.yaml: rewrite.transformers`. `model: base` uses the base model
(`models/base`, see stages/llm/base.py); any other value is a hub id or a local
path loaded with `from_pretrained` (with `revision` and `dtype`), e.g. a bigger
instruct model as the rewriter while `model.base` stays the model to tune.

Prompts are rendered with the tokenizer's chat template (plain text joined by
blank lines when it has none), left-padded and generated in batches of
`batch_size`, in prompt order. Decoding is greedy when temperature is 0 (the
default); otherwise it samples after `torch.manual_seed(seed)` at the start of
each batch, so sampled answers depend on which prompts share a batch. Other
settings of the model's own generation config (e.g. repetition_penalty) are
kept. The model is loaded on the first prompt that is not in the cache, so a
fully cached run never loads it. A prompt longer than the model's positions
minus `max_new_tokens` fails alone (`rewrite_backend_error`).
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from stages.lib.params import Params, PositiveInt, rule
from stages.llm.backends import Failure, GenerationParams, OnResponse, Result
from stages.llm.base import Dtype, ModelSpec, load_model
from stages.llm.cache import Response
from stages.llm.prompts import Messages, render_prompt
from stages.llm.screen import NO_KEY

BASE = "base"


class TransformersParams(Params):
    """`params.yaml: rewrite.transformers`: `model: base` (models/base), a hub id or a local path."""

    model: Annotated[str, rule(bool, "must be 'base' (models/base), a hub id or a local path, got {got}")] = BASE
    revision: str | None = None
    dtype: Dtype = "float32"
    batch_size: PositiveInt = 4


def generation_config(model: Any, tokenizer: Any, generation: GenerationParams) -> Any:
    config = copy.deepcopy(model.generation_config)
    sampling = generation.temperature > 0
    config.update(max_new_tokens=generation.max_new_tokens, do_sample=sampling,
                  temperature=generation.temperature if sampling else None,
                  top_p=generation.top_p if sampling else None, top_k=None if not sampling else config.top_k,
                  pad_token_id=tokenizer.pad_token_id, eos_token_id=config.eos_token_id or tokenizer.eos_token_id)
    return config


class LocalModel:
    """A local transformers model named by `spec` (no API key), loaded on first use: a run served from a
    cache never loads it. The rewrite backend and the judge's local backend are both this."""

    name = "transformers"
    guard = NO_KEY  # no API key
    spec: ModelSpec
    _loaded: tuple[Any, Any] | None = None

    @property
    def model(self) -> str:
        return self.spec.name

    @property
    def identity(self) -> str:
        return self.spec.identity

    def loaded(self) -> tuple[Any, Any]:
        """(model, tokenizer)."""
        if self._loaded is None:
            self._loaded = load_model(self.spec)
        return self._loaded


class LocalBackend(LocalModel):
    def __init__(self, spec: ModelSpec, batch_size: int) -> None:
        self.spec = spec
        self.batch_size = batch_size
        self.calls = 0

    def generate(self, prompts: list[Messages], generation: GenerationParams, on_response: OnResponse) -> list[Result]:
        import torch

        if not prompts:
            return []
        model, tokenizer = self.loaded()
        tokenizer.padding_side = "left"
        limit = getattr(model.config, "max_position_embeddings", None) or 10**9
        encoded = [tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)["input_ids"] for p in prompts]
        results: list[Result] = [Failure("not run")] * len(prompts)
        runnable = []
        for index, ids in enumerate(encoded):
            if len(ids) + generation.max_new_tokens > limit:
                results[index] = Failure(f"prompt has {len(ids)} tokens; with max_new_tokens "
                                         f"{generation.max_new_tokens} it exceeds the model's {limit} positions")
            else:
                runnable.append(index)
        config = generation_config(model, tokenizer, generation)
        stop_ids = set(config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id])
        for start in range(0, len(runnable), self.batch_size):
            batch = runnable[start:start + self.batch_size]
            inputs = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
            torch.manual_seed(generation.seed)
            with torch.no_grad():
                output = model.generate(**inputs, generation_config=config)
            self.calls += len(batch)
            for row, index in enumerate(batch):
                new_ids = output[row, inputs["input_ids"].shape[1]:].tolist()
                stop = next((k for k, token in enumerate(new_ids) if token in stop_ids), None)
                text = tokenizer.decode(new_ids, skip_special_tokens=True)
                results[index] = Response(text=text, finish_reason="length" if stop is None else "stop",
                                          prompt_tokens=len(encoded[index]),
                                          completion_tokens=len(new_ids) if stop is None else stop + 1)
                on_response(index, results[index])
        return results
