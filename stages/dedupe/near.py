"""Near-duplicate clusters of a list of texts: signatures -> band keys -> candidates -> verified pairs -> components.

The texts come in priority order (index 0 is the record to keep first), so the
keeper of a cluster is its smallest index and the result does not depend on
the input's row order. Empty texts have no shingles: they are never candidates.
Each step is a pure function of one batch of texts or of a pair list, which is
what a distributed engine would map over partitions.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl

from stages.dedupe.components import component_labels, keepers
from stages.dedupe.config import DedupParams
from stages.dedupe.lsh import band_keys, candidate_pairs
from stages.dedupe.minhash import estimated_jaccard, permutations, text_signatures
from stages.dedupe.sets import shingle_sets
from stages.dedupe.verify import exact_jaccard


@dataclass(frozen=True)
class NearResult:
    """Verified pairs and, per text, its cluster keeper and Jaccard similarity to that keeper."""

    candidates: int
    left: np.ndarray
    right: np.ndarray
    jaccard: np.ndarray
    keeper: np.ndarray
    jaccard_to_keeper: np.ndarray


T = TypeVar("T")


def _batches(texts: pl.Series, size: int) -> Iterator[tuple[int, pl.Series]]:
    for lo in range(0, texts.len(), size):
        yield lo, texts.slice(lo, size)


def available_cores() -> int:
    """Cores this process may run on (the default for `workers`)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def map_batches(fn: Callable[[pl.Series], T], texts: pl.Series, params: DedupParams) -> Iterator[tuple[int, T]]:
    """(offset, fn(batch)) for consecutive batches, in order; up to `workers` batches run at once
    (numpy releases the GIL, so threads use the cores; results do not depend on the thread count)."""
    workers = params.workers or available_cores()
    if workers == 1:
        yield from ((lo, fn(batch)) for lo, batch in _batches(texts, params.batch_size))
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for lo, batch in _batches(texts, params.batch_size):
            pending.append((lo, pool.submit(fn, batch)))
            if len(pending) > workers:
                done_lo, future = pending.popleft()
                yield done_lo, future.result()
        while pending:
            done_lo, future = pending.popleft()
            yield done_lo, future.result()


def batch_signatures(batch: Sequence[str] | pl.Series, params: DedupParams) -> np.ndarray:
    """(num_perm, len(batch)) MinHash signatures of one batch."""
    perms = permutations(params.num_perm, params.seed, params.scheme)
    return text_signatures(batch, params.ngram, perms, params.scheme)


def batch_sketch(batch: Sequence[str] | pl.Series, params: DedupParams) -> tuple[np.ndarray, np.ndarray | None]:
    """Band keys (bands, len(batch)) of one batch; its signatures too when verify=estimate."""
    sig = batch_signatures(batch, params)
    return band_keys(sig, *params.banding()), (sig if params.verify == "estimate" else None)


def sketch(texts: pl.Series, params: DedupParams) -> tuple[np.ndarray, np.ndarray | None]:
    """Band keys (bands, n) of all texts; the signatures too when verification uses them."""
    bands, _ = params.banding()
    keys = np.empty((bands, texts.len()), dtype=np.uint64)
    sig = np.empty((params.num_perm, texts.len()), dtype=np.uint32) if params.verify == "estimate" else None
    for lo, (batch_keys, batch_sig) in map_batches(lambda batch: batch_sketch(batch, params), texts, params):
        keys[:, lo : lo + batch_keys.shape[1]] = batch_keys
        if sig is not None:
            sig[:, lo : lo + batch_sig.shape[1]] = batch_sig
    return keys, sig


def pair_jaccard(texts: pl.Series, left: np.ndarray, right: np.ndarray, params: DedupParams,
                 sig: np.ndarray | None) -> np.ndarray:
    """Jaccard of each pair: exact over shingle sets, or the signature estimate when verify=estimate."""
    if sig is not None:
        return estimated_jaccard(sig, left, right)
    docs = np.unique(np.concatenate([left, right]))
    subset = texts.gather(docs)
    # At most one shingle per character: fill one array of that size batch by batch, then trim it.
    values = np.empty(int(subset.str.len_chars().sum()), dtype=np.uint32)
    offsets = np.zeros(docs.size + 1, dtype=np.int64)
    for lo, (part, part_offsets) in map_batches(lambda batch: shingle_sets(batch, params.ngram), subset, params):
        base = offsets[lo]
        values[base : base + part.size] = part
        offsets[lo + 1 : lo + part_offsets.size] = base + part_offsets[1:]
    values = values[: offsets[-1]]
    return exact_jaccard(values, offsets, np.searchsorted(docs, left), np.searchsorted(docs, right))


def _lookup(left: np.ndarray, right: np.ndarray, jaccard: np.ndarray, qa: np.ndarray, qb: np.ndarray):
    """Jaccard of the query pairs found among (left, right); NaN for those not found."""
    known = (left.astype(np.uint64) << np.uint64(32)) | right.astype(np.uint64)
    query = (qa.astype(np.uint64) << np.uint64(32)) | qb.astype(np.uint64)
    out = np.full(len(query), np.nan)
    if known.size:
        pos = np.minimum(np.searchsorted(known, query), known.size - 1)
        found = known[pos] == query
        out[found] = jaccard[pos[found]]
    return out


def answers_agree(answers: pl.Series, left: np.ndarray, right: np.ndarray, params: DedupParams) -> np.ndarray:
    """Per pair: both answers empty, or their exact Jaccard at least params.answer_threshold."""
    empty = answers.str.len_chars().to_numpy() == 0
    both_empty = empty[left] & empty[right]
    jaccard = pair_jaccard(answers, left, right, params, None) if left.size else np.zeros(0)
    return both_empty | (np.nan_to_num(jaccard) >= params.answer_threshold)


def find_near_duplicates(texts: pl.Series, params: DedupParams, answers: pl.Series | None = None) -> NearResult:
    """Cluster `texts` (in priority order) by verified Jaccard >= params.threshold.

    With `answers` (the answer part of each text) and params.answer_threshold, a pair must also have
    agreeing answers: records sharing a long task template but differing in input and label are not
    duplicates of each other.
    """
    n = texts.len()
    keys, sig = sketch(texts, params)
    filled = np.flatnonzero(texts.str.len_chars().to_numpy() > 0)
    left, right = candidate_pairs(keys[:, filled], params.bucket_window, docs=filled)
    jaccard = pair_jaccard(texts, left, right, params, sig) if left.size else np.zeros(0)
    ok = jaccard >= params.threshold
    if answers is not None and params.answer_threshold is not None and ok.any():
        ok[ok] = answers_agree(answers, left[ok], right[ok], params)
    return cluster_result(n, int(ok.size), left[ok], right[ok], jaccard[ok],
                          lambda a, b: pair_jaccard(texts, a, b, params, sig))


def cluster_result(n: int, candidates: int, left: np.ndarray, right: np.ndarray, jaccard: np.ndarray,
                   measure: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> NearResult:
    """Clusters of the verified pairs, each member's keeper and its Jaccard to that keeper; `measure(a, b)`
    gives the Jaccard of member/keeper pairs that were not verified pairs themselves (chains A ~ B ~ C)."""
    keeper = keepers(component_labels(n, left, right), np.arange(n))
    to_keeper = np.ones(n, dtype=np.float64)
    members = np.flatnonzero(keeper != np.arange(n))
    if members.size:
        found = _lookup(left, right, jaccard, keeper[members], members)
        missing = np.isnan(found)
        if missing.any():
            found[missing] = measure(keeper[members][missing], members[missing])
        to_keeper[members] = found
    return NearResult(candidates, left, right, jaccard, keeper, to_keeper)
