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

Sequences are sorted by length and right-padded, `batch_size` at a time: first
the prompted ones, batched exactly as before IFD (a sequence's float rounding
depends on its batch's width, so ppl keeps its bits), then the answer-alone ones
by their own length (padding them into their records' batches would cost about
17% more tokens on real records: bench/RESULTS.md). Scores depend on the batch
only through float rounding; results come back in the order of the rows.
Progress (stages/lib/progress.py): sequences scored, rate, and an ETA from the
share of padded tokens done (batches grow longer as they go, so a count would
promise too early an end).

`FamiliarityParams` is `params.yaml: familiarity`: `batch_size`, `max_length`, `device`
and `threads` for the scoring here, and `sources` (which candidates are scored) and the optional
filter for the stage (stages/llm/familiarity.py). Loaded with `context=subset_context(...)`, a
`sources` entry that names no configured subset fails like a `by_source` key does.
"""

from __future__ import annotations

import math
from itertools import accumulate
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import ValidationInfo, field_validator

from stages.lib.params import Block, Names, Number, Params, PositiveInt, PositiveNumber, check, known_subsets
from stages.lib.progress import tracker
from stages.llm.base import Device
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
    device: Device = "auto"
    threads: PositiveInt | None = None
    sources: Names = []  # records' `source` values scored (configured subsets); empty = every candidate
    filter: Annotated[FilterParams, Block] = FilterParams()

    @field_validator("sources")
    @classmethod
    def _configured(cls, sources: list[str], info: ValidationInfo) -> list[str]:
        known_subsets(dict.fromkeys(sources), info)
        return sources


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
    lead = [bos] if bos is not None and plain[:1] == [bos] else []
    ids = lead + (tokenizer(marker, add_special_tokens=False, verbose=False)["input_ids"] if marker else [])
    return ids or [pad_id_of(tokenizer)]


def batch_nll(model: Any, pad_id: int, pairs: Sequence[tuple[list[int], list[int]]]) -> list[tuple[float, int]]:
    """(sum of negative log-likelihood over answer tokens, answer token count) per pair."""
    return [(-total, count) for total, count in continuation_logprobs(model, pad_id, pairs)]


def length_batches(pairs: dict[int, tuple[list[int], list[int]]], batch_size: int) -> list[list[int]]:
    """The keys of `pairs`, sorted by sequence length (then key) and cut into batches of `batch_size`."""
    order = sorted(pairs, key=lambda i: (len(pairs[i][0]) + len(pairs[i][1]), i))
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def answer_perplexities(model: Any, tokenizer: Any, rows: Sequence[tuple[str, str, str]], batch_size: int,
                        max_length: int) -> list[AnswerPerplexity]:
    """ppl and the two IFD losses of each (instruction, input, output)'s output, in the order of `rows`.

    The prompted sequences are batched by length exactly as before IFD (so ppl keeps its bits); the
    answer-alone sequences are batched by their own length after them (no padding to the prompted widths).
    """
    results: list[AnswerPerplexity] = [AnswerPerplexity(None, 0)] * len(rows)
    encoded = {}
    for index, (instruction, input_text, output) in enumerate(rows):
        if output and output.strip():
            encoded[index] = encode_pair(tokenizer, instruction, input_text, output, max_length)
    prompted = {i: (prompt, answer) for i, (prompt, answer, _) in encoded.items() if answer}
    context = alone_context(tokenizer)
    alone = {i: (context[-len(prompt):], answer) for i, (prompt, answer) in prompted.items()}
    jobs = [(prompted, batch) for batch in length_batches(prompted, batch_size)]
    jobs += [(alone, batch) for batch in length_batches(alone, batch_size)]
    pad_id = pad_id_of(tokenizer)
    nll: dict[tuple[int, int], tuple[float, int]] = {}
    padded = list(accumulate(len(batch) * max(len(pairs[i][0]) + len(pairs[i][1]) for i in batch)
                             for pairs, batch in jobs))  # tokens scored once each batch is done
    with tracker("familiarity", total=len(prompted) + len(alone), unit="sequence") as shown:
        for (pairs, batch), tokens in zip(jobs, padded):
            for index, scored in zip(batch, batch_nll(model, pad_id, [pairs[i] for i in batch])):
                nll[id(pairs), index] = scored
            shown.update(len(batch), fraction=tokens / padded[-1])
    for index in prompted:
        (total, count), (total_alone, _) = nll[id(prompted), index], nll[id(alone), index]
        ppl = math.exp(min(total / count, 700.0))  # 700: stay inside float range
        results[index] = AnswerPerplexity(ppl, count, encoded[index][2], total / count, total_alone / count)
    return results
