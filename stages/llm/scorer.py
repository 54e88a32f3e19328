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
