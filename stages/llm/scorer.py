"""The one continuation scorer: `(context ids, continuation ids) -> (sum log p, n tokens)`.

familiarity (answer-only perplexity) and evaluate (option log-likelihood) both ask
the same question of a causal LM: how likely are these continuation tokens after
this context? Sequences are right-padded into one batch; position t's logits
predict token t+1, so continuation token i (at position len(context)+i) is scored
from the logits at len(context)+i-1. A context must hold at least one token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Pair = tuple[Sequence[int], Sequence[int]]


def continuation_logprobs(model: Any, pad_id: int, pairs: Sequence[Pair]) -> list[tuple[float, int]]:
    """(sum of log p over the continuation's tokens, number of continuation tokens) for each pair."""
    import torch

    if not pairs:
        return []
    if any(len(context) == 0 for context, _ in pairs):
        raise ValueError("continuation_logprobs: every context needs at least one token")
    width = max(len(c) + len(o) for c, o in pairs)
    input_ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(pairs), width), dtype=torch.long)
    for row, (context, continuation) in enumerate(pairs):
        ids = list(context) + list(continuation)
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention[row, : len(ids)] = 1
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention).logits
    results = []
    for row, (context, continuation) in enumerate(pairs):
        if not continuation:
            results.append((0.0, 0))
            continue
        positions = torch.arange(len(context) - 1, len(context) + len(continuation) - 1)
        logprobs = torch.log_softmax(logits[row, positions].double(), dim=-1)
        picked = logprobs[torch.arange(len(continuation)), torch.tensor(list(continuation), dtype=torch.long)]
        results.append((float(picked.sum()), len(continuation)))
    return results


def pad_id_of(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)


def batched_logprobs(model: Any, pad_id: int, pairs: Sequence[Pair], batch_size: int) -> list[tuple[float, int]]:
    """`continuation_logprobs` over many pairs in batches of `batch_size` sequences.

    Pairs whose continuation is one token and whose context repeats (the four answer letters of a
    multiple-choice question) share one forward pass of that context: the logits at its last position
    score every such continuation. Same numbers as scoring each pair alone, up to float rounding.
    """
    results: list[tuple[float, int] | None] = [None] * len(pairs)
    by_context: dict[tuple[int, ...], list[int]] = {}
    rest = []
    for index, (context, continuation) in enumerate(pairs):
        if len(continuation) == 1 and context:
            by_context.setdefault(tuple(context), []).append(index)
        else:
            rest.append(index)
    contexts = list(by_context)
    for start in range(0, len(contexts), batch_size):
        batch = contexts[start:start + batch_size]
        # score each context's last token as a "continuation" of the rest, to get the logits there
        for context, last in zip(batch, _last_position_logprobs(model, pad_id, batch)):
            for index in by_context[context]:
                results[index] = (float(last[pairs[index][1][0]]), 1)
    for start in range(0, len(rest), batch_size):
        batch = rest[start:start + batch_size]
        for index, scored in zip(batch, continuation_logprobs(model, pad_id, [pairs[i] for i in batch])):
            results[index] = scored
    return results  # type: ignore[return-value]


def _last_position_logprobs(model: Any, pad_id: int, contexts: Sequence[Sequence[int]]) -> list[Any]:
    """log-softmax of the next-token distribution after each context (one forward pass, right-padded)."""
    import torch

    width = max(len(c) for c in contexts)
    input_ids = torch.full((len(contexts), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(contexts), width), dtype=torch.long)
    for row, context in enumerate(contexts):
        input_ids[row, : len(context)] = torch.tensor(list(context), dtype=torch.long)
        attention[row, : len(context)] = 1
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention).logits
    return [torch.log_softmax(logits[row, len(c) - 1].double(), dim=-1) for row, c in enumerate(contexts)]
