"""Answer-only perplexity: how familiar a response is to a causal LM before tuning.

For a record, the model sees the prompt exactly as at generation time (the
chat template with the user turn `question_text(instruction, input)` and the
generation prompt; `instruction\\n` for a tokenizer without a template) followed
by the tokens of `output` (no special tokens, no end-of-turn). The loss is
taken over the output tokens only; prompt tokens are context, masked out:

    ppl = exp( -1/N * sum_{t in output} log p(token_t | tokens_<t) )

When prompt + output exceed `max_length` tokens, the output keeps its first
tokens (at least half of `max_length`, more when the prompt is short) and the
prompt keeps its last; `tokens` says how many output tokens were scored.
Records with an empty output are not scored (None).

Sequences are right-padded and batched by length; the scores do not depend on
the batch beyond float rounding.

`FamiliarityParams` is `params.yaml: familiarity`: `batch_size` and `max_length` for the
scoring here, and the stage's optional filter (stages/llm/familiarity.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from stages.lib.params import Block, Number, Params, PositiveInt, PositiveNumber, check
from stages.lib.progress import progress
from stages.llm.prompts import question_text, render_prompt
from stages.llm.scorer import continuation_logprobs, pad_id_of


class FilterParams(Params):
    """`familiarity.filter` (off by default): reject scored records above the lower of the two thresholds."""

    max_ppl: PositiveNumber | None = None
    keep_quantile: Annotated[Number, check(lambda v: 0 < v <= 1, "in (0, 1] or null")] | None = None


class FamiliarityParams(Params, section="familiarity"):
    """`params.yaml: familiarity`."""

    batch_size: PositiveInt = 8
    max_length: Annotated[int, check(lambda v: v >= 2, "an integer >= 2 (prompt + response tokens)")] = 1024
    filter: Annotated[FilterParams, Block] = FilterParams()


@dataclass(frozen=True)
class AnswerPerplexity:
    ppl: float | None
    tokens: int
    truncated: bool = False


def encode_pair(tokenizer: Any, instruction: str, input_text: str, output: str,
                max_length: int) -> tuple[list[int], list[int], bool]:
    """(prompt ids, output ids, truncated) after fitting both into `max_length` tokens."""
    question = question_text(instruction, input_text)
    if getattr(tokenizer, "chat_template", None):
        prompt_text = render_prompt(tokenizer, [{"role": "user", "content": question}])
    else:
        prompt_text = question + "\n"
    prompt = tokenizer(prompt_text, add_special_tokens=False, verbose=False)["input_ids"]
    answer = tokenizer(output or "", add_special_tokens=False, verbose=False)["input_ids"]  # truncated below
    if len(prompt) + len(answer) <= max_length:
        return prompt, answer, False
    answer = answer[: max_length - min(len(prompt), max_length // 2)]
    prompt = prompt[len(prompt) - (max_length - len(answer)):]
    return prompt, answer, True


def batch_nll(model: Any, pad_id: int, pairs: Sequence[tuple[list[int], list[int]]]) -> list[tuple[float, int]]:
    """(sum of negative log-likelihood over answer tokens, answer token count) per pair."""
    return [(-total, count) for total, count in continuation_logprobs(model, pad_id, pairs)]


def answer_perplexities(model: Any, tokenizer: Any, rows: Sequence[tuple[str, str, str]], batch_size: int,
                        max_length: int) -> list[AnswerPerplexity]:
    """Perplexity of each (instruction, input, output)'s output given its prompt."""
    results: list[AnswerPerplexity] = [AnswerPerplexity(None, 0)] * len(rows)
    encoded = {}
    for index, (instruction, input_text, output) in enumerate(rows):
        if output and output.strip():
            encoded[index] = encode_pair(tokenizer, instruction, input_text, output, max_length)
    order = sorted((i for i in encoded if encoded[i][1]), key=lambda i: (len(encoded[i][0]) + len(encoded[i][1]), i))
    pad_id = pad_id_of(tokenizer)
    for start in progress(range(0, len(order), batch_size), desc="perplexity", unit="batch"):
        batch = order[start:start + batch_size]
        scores = batch_nll(model, pad_id, [encoded[i][:2] for i in batch])
        for index, (total, count) in zip(batch, scores):
            ppl = math.exp(min(total / count, 700.0)) if count else None  # 700: stay inside float range
            results[index] = AnswerPerplexity(ppl, count, encoded[index][2])
    return results
