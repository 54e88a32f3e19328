"""The one continuation scorer: `(context ids, continuation ids) -> (sum log p, n tokens)`.

familiarity (answer-only perplexity, IFD) and evaluate (option log-likelihood) all ask
the same question of a causal LM: how likely are these continuation tokens after
this context? Sequences are right-padded into one batch; position t's logits
predict token t+1, so continuation token i (at position len(context)+i) is scored
from the logits at len(context)+i-1. A context must hold at least one token.

The language-model head runs only at those positions (the decoder's last hidden
states there times the head), not at every position of the padded batch, when the
model's logits are exactly `head(decoder(...))`: checked once per model on a short
probe against its own logits (bit for bit on CPU), else every batch takes the
full logits.
On CPU, log-probabilities are a float64 log-softmax of each pair's rows, so a pair's
numbers do not depend on the other rows of its batch, only on the batch's width
(float rounding); on a GPU they are float32 (`picked_logprobs`).
Inputs go to the model's device; results come back as Python floats.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

Pair = tuple[Sequence[int], Sequence[int]]
_HEAD_SPLITS: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def continuation_logprobs(model: Any, pad_id: int, pairs: Sequence[Pair]) -> list[tuple[float, int]]:
    """(sum of log p over the continuation's tokens, number of continuation tokens) for each pair."""
    import torch

    if not pairs:
        return []
    if any(len(context) == 0 for context, _ in pairs):
        raise ValueError("continuation_logprobs: every context needs at least one token")
    input_ids, attention = _right_padded(pad_id, [list(c) + list(o) for c, o in pairs], _device_of(model))
    spans = [torch.arange(len(c) - 1, len(c) + len(o) - 1, device=input_ids.device) for c, o in pairs]
    results = []
    with torch.no_grad():
        for row, logits in enumerate(_logits_at(model, input_ids, attention, spans)):
            continuation = pairs[row][1]
            if not continuation:
                results.append((0.0, 0))
                continue
            targets = torch.tensor(list(continuation), dtype=torch.long, device=logits.device)
            picked = picked_logprobs(logits, targets, exact=logits.device.type == "cpu")
            results.append((float(picked.sum()), len(continuation)))
    return results


def picked_logprobs(logits: Any, targets: Any, exact: bool) -> Any:
    """log p of each row's target token. `exact` (CPU): a float64 log-softmax over the vocabulary, the bits
    these scores have always had; else (GPU) float32 `logit - logsumexp`, which reads the logits once and
    writes no vocabulary-sized tensor (a GPU scoring a small model is bound by that memory traffic)."""
    import torch

    rows = torch.arange(len(targets), device=logits.device)
    if exact:
        return torch.log_softmax(logits.double(), dim=-1)[rows, targets]
    logits = logits.float()
    return logits[rows, targets] - torch.logsumexp(logits, dim=-1)


def _device_of(model: Any) -> Any:
    return next(model.parameters()).device


def _right_padded(pad_id: int, sequences: Sequence[Sequence[int]], device: Any) -> tuple[Any, Any]:
    """(input ids, attention mask), right-padded to the longest sequence, on `device`."""
    import torch

    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(list(ids), dtype=torch.long)
        attention[row, : len(ids)] = 1
    return input_ids.to(device), attention.to(device)


def _logits_at(model: Any, input_ids: Any, attention: Any, spans: Sequence[Any]) -> list[Any]:
    """Each row's logits at its `spans` positions: the head on those hidden states only when that is exact."""
    if model not in _HEAD_SPLITS:
        _HEAD_SPLITS[model] = _head_alone_is_exact(model, input_ids[:1, :PROBE_TOKENS], attention[:1, :PROBE_TOKENS])
    if not _HEAD_SPLITS[model]:
        logits = model(input_ids=input_ids, attention_mask=attention, use_cache=False).logits
        return [logits[row, span] for row, span in enumerate(spans)]
    head = model.get_output_embeddings()
    hidden = model.get_decoder()(input_ids=input_ids, attention_mask=attention, use_cache=False).last_hidden_state
    return [head(hidden[row, span]) for row, span in enumerate(spans)]


PROBE_TOKENS = 8


def _head_alone_is_exact(model: Any, input_ids: Any, attention: Any) -> bool:
    """Whether the model's logits are its output embeddings applied to its decoder's last hidden states (no
    soft-capping or scaling after the head), on a short probe: bit for bit on CPU, to bfloat16 rounding on GPU."""
    import torch

    if not hasattr(model, "get_decoder") or model.get_output_embeddings() is None:
        return False
    full = model(input_ids=input_ids, attention_mask=attention, use_cache=False).logits[0]
    hidden = model.get_decoder()(input_ids=input_ids, attention_mask=attention, use_cache=False).last_hidden_state
    head = model.get_output_embeddings()(hidden[0])
    if input_ids.device.type == "cpu":
        return bool(torch.equal(head, full))
    return bool(torch.allclose(head.float(), full.float(), rtol=2e-2, atol=2e-2))


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

    input_ids, attention = _right_padded(pad_id, contexts, _device_of(model))
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention).logits
    return [torch.log_softmax(logits[row, len(c) - 1].double(), dim=-1).cpu() for row, c in enumerate(contexts)]
