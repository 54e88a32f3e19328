"""The judge stage: an LLM judge scores every SFT candidate against a rubric (`python -m stages.judge`).

- `rubric`: the rubric file and the answer schema it names (`schemas/judge/`), checked at load; prompts.
- `answers`: an answer read and checked against the schema; judgements, rejections, the cost counters.
- `local`: backend `transformers`, scores as probability-weighted means over the score tokens (Deita's way).
- `remote`: backend `openai`, JSON answers validated and retried.
- `run`: the stage (cache keys, columns, metrics); `report`: the per-source summary; `settings`: `JudgeParams`.
See README.md in this folder.
"""
