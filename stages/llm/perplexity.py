"""Answer-only perplexity and IFD: how familiar a response is to a causal LM before tuning, and how much
its question helps.

For a record, the model sees the prompt exactly as at generation time (the
chat template with the user turn `question_text(instruction, input)` and the
generation prompt; `instruction\\n` for a tokenizer without a template) followed
by the tokens of `output` (no special tokens, no end-of-turn). The loss is
taken over the output tokens only; prompt tokens are context, masked out:

    loss(answer | question) = -1/N * sum_{t in output} log p(token_t | tokens_<t)
    ppl = exp(loss(answer | question))

The same N output tokens are scored a second time without the question, after
`alone_context` (the tokenizer's BOS if it adds one, then the generation prompt:
Cherry LLM's `<s>### Response:` + answer), giving `loss(answer alone)`, and

    ifd = loss(answer | question) / loss(answer alone)

a ratio of mean losses (natural log), as Cherry LLM's code computes it, not of
perplexities. IFD > 1: the question makes the answer harder to predict.

When prompt + output exceed `max_length` tokens, the output keeps its first
tokens (at least half of `max_length`, more when the prompt is short) and the
prompt keeps its last; `tokens` says how many output tokens were scored (both
losses score those tokens). Records with an empty output are not scored (None).

Prompted sequences are sorted by length and right-padded, `batch_size` at a time;
each batch also holds those records' answer-alone sequences, which are never
longer, so one forward pass gives both losses and the batch is no wider than
without them: ppl keeps its bits from before IFD. Scores depend on the batch
only through float rounding.

`FamiliarityParams` is `params.yaml: familiarity`: `batch_size`, `max_length`, `device`
and `threads` for the scoring here, and the stage's optional filter (stages/llm/familiarity.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from stages.lib.params import Block, Number, Params, PositiveInt, PositiveNumber, check
from stages.lib.progress import progress
from stages.llm.base import Device
from stages.llm.prompts import question_text, render_prompt
from stages.llm.scorer import continuation_logprobs, pad_id_of


class FilterParams(Params):
    """`familiarity.filter` (off by default): reject scored records above the lower of the two thresholds."""

    max_ppl: PositiveNumber | None = None
    keep_quantile: Annotated[Number, check(lambda v: 0 < v <= 1, "in (0, 1] or null")] | None = None


class FamiliarityParams(Params):
    """`params.yaml: familiarity`."""

    batch_size: PositiveInt = 8
    max_length: Annotated[int, check(lambda v: v >= 2, "an integer >= 2 (prompt + response tokens)")] = 1024
    device: Device = "auto"
    threads: PositiveInt | None = None
    filter: Annotated[FilterParams, Block] = FilterParams()


@dataclass(frozen=True)
class AnswerPerplexity:
    """One record's scores; `loss` and `loss_alone` are mean negative log-likelihoods per answer token."""

    ppl: float | None
    tokens: int
    truncated: bool = False
    loss: float | None = None
    loss_alone: float | None = None

    @property
    def ifd(self) -> float | None:
        """loss(answer | question) / loss(answer alone); None when unscored (or the alone loss is 0)."""
        if self.loss is None or not self.loss_alone:
            return None
        return self.loss / self.loss_alone


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


def alone_context(tokenizer: Any) -> list[int]:
    """The tokens the answer alone is scored after: what the tokenizer puts before any text (a BOS token,
    if its plain encoding adds one) and the generation prompt that ends every prompt (the assistant header,
    e.g. `<|im_start|>assistant\\n`; `\\n` without a chat template), as Cherry LLM scores
    `<s>### Response:<answer>`. Falls back to the pad (or end-of-text) token if both are empty."""
    marker = "\n"
    if getattr(tokenizer, "chat_template", None):
        turn = [{"role": "user", "content": "?"}]
        with_header = tokenizer.apply_chat_template(turn, add_generation_prompt=True, tokenize=False)
        without = tokenizer.apply_chat_template(turn, add_generation_prompt=False, tokenize=False)
        common = next((i for i, (a, b) in enumerate(zip(with_header, without)) if a != b), len(without))
        marker = with_header[common:]
    bos = tokenizer.bos_token_id
    plain = tokenizer("a", verbose=False)["input_ids"]
    lead = [bos] if bos is not None and plain[:1] == [bos] and marker[:1] != tokenizer.bos_token else []
    ids = lead + (tokenizer(marker, add_special_tokens=False, verbose=False)["input_ids"] if marker else [])
    return ids or [pad_id_of(tokenizer)]


def batch_nll(model: Any, pad_id: int, pairs: Sequence[tuple[list[int], list[int]]]) -> list[tuple[float, int]]:
    """(sum of negative log-likelihood over answer tokens, answer token count) per pair."""
    return [(-total, count) for total, count in continuation_logprobs(model, pad_id, pairs)]


def answer_perplexities(model: Any, tokenizer: Any, rows: Sequence[tuple[str, str, str]], batch_size: int,
                        max_length: int) -> list[AnswerPerplexity]:
    """ppl and the two IFD losses of each (instruction, input, output)'s output.

    Batches are the prompt + output sequences sorted by length, `batch_size` at a time (so ppl keeps
    its bits from before IFD); each batch also holds the same records' answer-alone sequences, which
    are never longer, so one forward pass scores both.
    """
    results: list[AnswerPerplexity] = [AnswerPerplexity(None, 0)] * len(rows)
    encoded = {}
    for index, (instruction, input_text, output) in enumerate(rows):
        if output and output.strip():
            encoded[index] = encode_pair(tokenizer, instruction, input_text, output, max_length)
    order = sorted((i for i in encoded if encoded[i][1]), key=lambda i: (len(encoded[i][0]) + len(encoded[i][1]), i))
    context = alone_context(tokenizer)
    pad_id = pad_id_of(tokenizer)
    for start in progress(range(0, len(order), batch_size), desc="perplexity", unit="batch"):
        batch = order[start:start + batch_size]
        pairs = [encoded[i][:2] for i in batch]
        alone = [(context[-len(prompt):], answer) for prompt, answer in pairs]
        scores = batch_nll(model, pad_id, pairs + alone)
        for index, (total, count), (total_alone, _) in zip(batch, scores, scores[len(batch):]):
            ppl = math.exp(min(total / count, 700.0)) if count else None  # 700: stay inside float range
            results[index] = AnswerPerplexity(ppl, count, encoded[index][2], total / count, total_alone / count)
    return results
