"""LLM helpers shared by `base_model`, `rewrite` and `familiarity` (and later `train`, `evaluate`).

- `rules`: the rewrite rule catalog (`schemas/rules.yaml`), loaded and validated.
- `prompts`: chat messages for one seed record under one rule.
- `parse`: a model's reply back into (instruction, output).
- `cache`: the content-addressed response cache.
- `backends`: `openai` (any /v1/chat/completions endpoint) and `transformers` (local generation).
- `base`: the base model: building the tiny offline model, resolving and loading `models/base`.
- `perplexity`: answer-only perplexity under a causal LM.

Modules that need torch or transformers import them inside functions or are
only imported by stages that need them, so `rule: none` stays fast.
"""
