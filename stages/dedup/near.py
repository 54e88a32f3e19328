"""Texts in memory to near-duplicate clusters, and the batched sketching the stage shares with it.

`map_batches`, `batch_signatures`, `batch_sketch` and `sketch` turn texts into MinHash signatures
and LSH band keys a batch at a time (the stage's passes call them too). `find_near_duplicates` is
the whole near step over a list of texts held in memory: band keys -> candidates -> the decision of
`decision.near_pairs` over `TextSets` -> clusters. The stage runs the same decision over sets it
spilled to work files (`plan.verify_candidates`); bench/dedup_core.py times this path, and
tests/dedup/test_decision.py checks that both give the same result.

The texts come in priority order (index 0 is the record to keep first), so the keeper of a
cluster is its smallest index. Empty texts have no shingles: they are never candidates.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import polars as pl

from stages.dedup.components import component_labels
from stages.dedup.config import DedupParams
from stages.dedup.decision import NearResult, near_pairs
from stages.dedup.lsh import band_keys, candidate_pairs
from stages.dedup.minhash import estimated_jaccard, permutations, text_signatures
from stages.dedup.sets import shingle_sets
from stages.dedup.verify import exact_jaccard


T = TypeVar("T")
SET_DOCS = 1 << 15  # texts whose shingle sets are held at once in verification (~65 MB at 500 characters)


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


class TextSets:
    """`decision.PairSets` of texts in memory: the shingle sets of just the texts in the pairs asked,
    built when asked, `SET_DOCS` texts at a time; or, given `sig` (verify=estimate), the signature
    estimate."""

    def __init__(self, texts: pl.Series, params: DedupParams, sig: np.ndarray | None = None) -> None:
        self.texts, self.params, self.sig = texts, params, sig

    def jaccard(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        if not left.size:
            return np.zeros(0)
        if self.sig is not None:
            return estimated_jaccard(self.sig, left, right)
        out = np.empty(left.size, dtype=np.float64)
        for pairs, docs in set_chunks(left, right):
            values, offsets = self._sets(docs)
            out[pairs] = exact_jaccard(values, offsets, np.searchsorted(docs, left[pairs]),
                                       np.searchsorted(docs, right[pairs]))
        return out

    def _sets(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The shingle sets of texts `docs` (sorted), batch by batch (at most one shingle per character: one
        array of that size is filled, then trimmed)."""
        subset = self.texts.gather(docs)
        values = np.empty(int(subset.str.len_chars().sum()), dtype=np.uint32)
        offsets = np.zeros(docs.size + 1, dtype=np.int64)
        batches = map_batches(lambda batch: shingle_sets(batch, self.params.ngram), subset, self.params)
        for lo, (part, part_offsets) in batches:
            base = offsets[lo]
            values[base : base + part.size] = part
            offsets[lo + 1 : lo + part_offsets.size] = base + part_offsets[1:]
        return values[: offsets[-1]], offsets

    def empty(self, docs: np.ndarray) -> np.ndarray:
        return self.texts.str.len_chars().gather(docs).to_numpy() == 0


def set_chunks(left: np.ndarray, right: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(pairs, docs) chunks: the indices of some pairs and the sorted texts they need, at most about
    SET_DOCS texts each. Texts are taken by connected component of the pairs, so a text's set is
    built once unless its component is larger than a chunk (then the texts of its pairs that cross
    a chunk boundary are built again in the later chunk)."""
    docs, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
    if docs.size <= SET_DOCS:
        yield np.arange(left.size), docs
        return
    a, b = inverse[: left.size], inverse[left.size :]
    order = np.argsort(component_labels(docs.size, a, b), kind="stable")
    position = np.empty(docs.size, dtype=np.int64)
    position[order] = np.arange(docs.size)
    chunk = np.maximum(position[a], position[b]) // SET_DOCS
    by_chunk = np.argsort(chunk, kind="stable")
    bounds = np.searchsorted(chunk[by_chunk], np.arange(chunk.max() + 2))
    for c in range(bounds.size - 1):
        pairs = by_chunk[bounds[c] : bounds[c + 1]]
        if pairs.size:
            yield pairs, np.unique(np.concatenate([docs[a[pairs]], docs[b[pairs]]]))


def find_near_duplicates(texts: pl.Series, params: DedupParams, answers: pl.Series | None = None) -> NearResult:
    """Cluster `texts` (in priority order) by the decision of `decision.near_pairs`, all in memory.

    With `answers` (the answer part of each text) and params.answer_threshold, a pair must also have
    agreeing answers: records sharing a long task template but differing in input and label are not
    duplicates of each other.
    """
    keys, sig = sketch(texts, params)
    filled = np.flatnonzero(texts.str.len_chars().to_numpy() > 0)
    left, right = candidate_pairs((band[filled] for band in keys), params.bucket_window, docs=filled)
    del keys
    answer_sets = TextSets(answers, params) if answers is not None else None
    return near_pairs(texts.len(), left, right, TextSets(texts, params, sig), answer_sets, params)
