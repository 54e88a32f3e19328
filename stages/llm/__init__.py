"""LLM helpers shared by `base_model`, `rewrite` and `familiarity` (and later `train`, `evaluate`).

- `rules`: the rewrite rule catalog (`schemas/rules.yaml`), loaded and validated.
- `prompts`: chat messages for one seed record under one rule.
- `parse`: a model's reply back into (instruction, output).
- `cache`: the content-addressed response cache.
- `backends`: `openai` (any /v1/chat/completions endpoint) and `transformers` (local generation).
- `base`: the base model: `ModelParams`, resolving and loading `models/base`; `tiny`, `packaged`:
  the offline models; `build`: the base_model stage's run.
- `settings`: `RewriteParams`; `rewriting`: the rewrite stage's run; `columns`: the rewrite columns.
- `perplexity`: answer-only perplexity under a causal LM and `FamiliarityParams`; `familiarity`:
  the familiarity stage's run.
- `scorer`: the continuation log-probabilities familiarity and evaluate share.

The field types the params models share are in `stages.lib.params`.

Modules that need torch or transformers import them inside functions or are
only imported by stages that need them, so `rule: none` stays fast.
"""
