"""Which record each record is a duplicate of, decided without holding the records in memory.

Pass 1 (`scan`) reads the records a batch at a time and keeps per record only compact arrays: a
128-bit hash of its dedup text (exact duplicates), its priority keys (the keeper), and the LSH band
keys of its signature (21 x 8 bytes with the default banding). Exact groups, the priority order and
the candidate pairs come from those arrays. Pass 2 (`spill_sets`) reads the records again and writes
the shingle sets (or signatures) of just the records in a candidate pair to a work file; pairs are
verified a chunk at a time from it (`store.py`), and the clusters are the connected components of
the verified pairs. With `engine: ray` the near-duplicate step runs on Ray instead (it is handed
the texts of the compared records, as before).

The result is a `Plan`: per row (rows in id order) its status, the row kept in its place, the
Jaccard similarity to it and the smallest row of its cluster; the outputs are written from it in
one more pass (`stage.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from stages.dedupe import store
from stages.dedupe.config import DedupParams
from stages.dedupe.keeper import priority_keys, priority_rank
from stages.dedupe.lsh import candidate_pairs
from stages.dedupe.near import NearResult, batch_signatures, cluster_result, map_batches, sketch
from stages.dedupe.shingles import dedup_text, shingle_sets

KEPT, EXACT, NEAR = 0, 1, 2
HASH_SEEDS = (0x5EED0001D1CE0001, 0x0DD50002BEEF0002)  # two seeded 64-bit polars hashes: 128 bits per text


@dataclass
class Scan:
    """Pass 1's per-row arrays; `texts`/`answers` only when the near step runs elsewhere (Ray)."""

    hashes: np.ndarray  # (2, n) uint64
    empty: np.ndarray
    rank: np.ndarray
    keys: np.ndarray | None = None  # (bands, n) uint64
    texts: pl.Series | None = None
    answers: pl.Series | None = None


@dataclass
class Plan:
    ids: pl.Series
    status: np.ndarray
    keeper: np.ndarray
    jaccard: np.ndarray
    cluster_row: np.ndarray  # smallest row of the row's cluster; -1 outside clusters
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]  # verified near pairs: row_a, row_b, jaccard
    stats: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)  # this process's peak RSS after each phase


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (for the benchmark's phase breakdown)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def answer_check(params: DedupParams) -> bool:
    return "output" in params.fields and params.answer_threshold is not None


def text_hashes(text: pl.Series) -> np.ndarray:
    """(2, n) uint64: two independently seeded 64-bit hashes of each text (equal texts, equal pair)."""
    return np.stack([text.hash(seed).to_numpy() for seed in HASH_SEEDS])


def scan(records: Any, params: DedupParams, keep_texts: bool) -> Scan:
    """Pass 1 over the records: hashes, priority keys and band keys (or the texts, `keep_texts`)."""
    n = records.ids.len()
    bands, _ = params.banding()
    hashes, empty = np.empty((2, n), dtype=np.uint64), np.empty(n, dtype=bool)
    verified, human, chars = np.empty(n, dtype=bool), np.empty(n, dtype=bool), np.empty(n, dtype=np.int64)
    keys = None if keep_texts else np.empty((bands, n), dtype=np.uint64)
    texts, answers = [], []
    exact_params = params.model_copy(update={"verify": "exact"})  # band keys only, no signatures kept
    columns = sorted(set(params.fields) | {"human_verified", "answer_from", "output"})
    for lo, batch in records.batches(columns):
        hi = lo + batch.height
        text = batch.select(dedup_text(params.fields)).to_series()
        hashes[:, lo:hi] = text_hashes(text)
        empty[lo:hi] = (text.str.len_bytes() == 0).to_numpy()
        prio = priority_keys(batch)
        verified[lo:hi], human[lo:hi] = prio["verified"].to_numpy(), prio["human"].to_numpy()
        chars[lo:hi] = prio["output_chars"].to_numpy()
        if keep_texts:
            texts.append(text)
            if answer_check(params):
                answers.append(batch.select(dedup_text(("output",))).to_series())
        elif batch.height:
            keys[:, lo:hi] = sketch(text, exact_params)[0]
    return Scan(hashes, empty, priority_rank(verified, human, chars), keys,
                pl.concat(texts) if keep_texts else None, pl.concat(answers) if answers else None)


def exact_representatives(scan_: Scan) -> np.ndarray:
    """For each row, the best-priority row with the same text (itself when unique or empty)."""
    n = scan_.rank.size
    rep = np.arange(n, dtype=np.int64)
    filled = np.flatnonzero(~scan_.empty)
    order = filled[np.lexsort((scan_.rank[filled], scan_.hashes[1, filled], scan_.hashes[0, filled]))]
    if order.size:
        new = np.ones(order.size, dtype=bool)
        new[1:] = (scan_.hashes[0, order[1:]] != scan_.hashes[0, order[:-1]]) | (
            scan_.hashes[1, order[1:]] != scan_.hashes[1, order[:-1]])
        group = np.cumsum(new) - 1
        rep[order] = order[new][group]
    return rep


def spill_sets(records: Any, rows: np.ndarray, params: DedupParams, work: Path,
               answers: bool) -> tuple[store.SpilledSets, store.SpilledSets | None]:
    """Pass 2: the shingle sets (signatures with verify=estimate) of `rows` (sorted), and their answers'
    sets, written to work files in row order."""
    texts = store.SpilledSets(work / "sets.u32")
    answer_sets = store.SpilledSets(work / "answers.u32") if answers else None
    columns = sorted(set(params.fields) | ({"output"} if answers else set()))
    for lo, batch in records.batches(columns):
        picked = rows[np.searchsorted(rows, lo) : np.searchsorted(rows, lo + batch.height)] - lo
        if picked.size == 0:
            continue
        chosen = batch[picked]
        write_features(texts, chosen.select(dedup_text(params.fields)).to_series(), params)
        if answer_sets is not None:
            write_features(answer_sets, chosen.select(dedup_text(("output",))).to_series(), params, exact=True)
    return texts.close(), (answer_sets.close() if answer_sets is not None else None)


def write_features(target: store.SpilledSets, text: pl.Series, params: DedupParams, exact: bool = False) -> None:
    if params.verify == "estimate" and not exact:
        for _, sig in map_batches(lambda batch: batch_signatures(batch, params), text, params):
            target.append(np.ascontiguousarray(sig.T).reshape(-1),
                          np.arange(sig.shape[1] + 1, dtype=np.int64) * params.num_perm)
        return
    for _, (values, offsets) in map_batches(lambda batch: shingle_sets(batch, params.ngram), text, params):
        target.append(values, offsets)


def near_local(records: Any, scan_: Scan, reps: np.ndarray, params: DedupParams, work: Path,
               seconds: dict[str, float]) -> NearResult:
    """find_near_duplicates over the texts of `reps` (in priority order), from band keys and spilled sets."""
    started = time.perf_counter()
    bands, _ = params.banding()
    left, right = candidate_pairs((scan_.keys[band, reps] for band in range(bands)), params.bucket_window,
                                  docs=np.arange(reps.size, dtype=np.int64))
    scan_.keys = None  # the largest array: free it before verification
    seconds["candidates"] = time.perf_counter() - started
    rows = np.sort(reps[np.unique(np.concatenate([left, right]))])
    sets, answer_sets = spill_sets(records, rows, params, work, answer_check(params))
    seconds["spill"] = time.perf_counter() - started - seconds["candidates"]
    length = params.num_perm if params.verify == "estimate" else None

    def measure(a: np.ndarray, b: np.ndarray, target: store.SpilledSets = sets, width: int | None = length):
        return store.pair_jaccard(target, np.searchsorted(rows, reps[a]), np.searchsorted(rows, reps[b]), width)

    jaccard = measure(left, right)
    ok = jaccard >= params.threshold
    if answer_sets is not None and ok.any():
        a, b = left[ok], right[ok]
        agree = measure(a, b, answer_sets, None) >= params.answer_threshold
        pa, pb = np.searchsorted(rows, reps[a]), np.searchsorted(rows, reps[b])
        ok[ok] = agree | ((answer_sets.sizes(pa) == 0) & (answer_sets.sizes(pb) == 0))
    result = cluster_result(reps.size, int(ok.size), left[ok], right[ok], jaccard[ok], measure)
    seconds["verify"] = time.perf_counter() - started - seconds["candidates"] - seconds["spill"]
    return result


def make_plan(records: Any, params: DedupParams, work: Path, near_fn: Callable | None = None) -> Plan:
    """Decide every row's fate. `near_fn(texts, params, answers)` replaces the local near step (Ray)."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    scan_ = scan(records, params, keep_texts=near_fn is not None)
    seconds["scan"] = time.perf_counter() - started
    peaks = {"scan": peak_mb()}
    n = scan_.rank.size
    rep = exact_representatives(scan_)
    reps = np.flatnonzero((rep == np.arange(n)) & ~scan_.empty)
    reps = reps[np.argsort(scan_.rank[reps], kind="stable")]  # priority order: keeper = smallest index
    if near_fn is None:
        near = near_local(records, scan_, reps, params, work, seconds)
    else:
        answers = None if scan_.answers is None else scan_.answers.gather(reps)
        near = near_fn(scan_.texts.gather(reps), params, answers)
    peaks["near"] = peak_mb()
    plan = decide(records.ids, scan_, rep, reps, near, params, seconds)
    plan.peak_mb = {**peaks, "decide": peak_mb()}
    return plan


def decide(ids: pl.Series, scan_: Scan, rep: np.ndarray, reps: np.ndarray, near: NearResult,
           params: DedupParams, seconds: dict[str, float]) -> Plan:
    """Per row: status, keeper row, Jaccard to the keeper, smallest row of the cluster; and the counts."""
    n = rep.size
    local = np.full(n, -1, dtype=np.int64)
    local[reps] = np.arange(reps.size)
    keeper, jaccard = np.arange(n, dtype=np.int64), np.ones(n)
    compared = local[rep] >= 0
    keeper[compared] = reps[near.keeper[local[rep[compared]]]]
    jaccard[compared] = near.jaccard_to_keeper[local[rep[compared]]]
    row = np.arange(n)
    status = np.where(keeper == row, KEPT, np.where(rep == keeper, EXACT, NEAR)).astype(np.int8)
    in_cluster = np.bincount(keeper, minlength=n)[keeper] > 1
    first = np.full(n, n, dtype=np.int64)
    np.minimum.at(first, keeper[in_cluster], row[in_cluster])
    cluster_row = np.where(in_cluster, first[keeper], -1)
    bands, rows = params.banding()
    stats = {"bands": bands, "rows": rows, "candidate_pairs": int(near.candidates),
             "verified_pairs": int(near.left.size), "empty_text": int(scan_.empty.sum()),
             "exact_duplicates": int((status == EXACT).sum()), "near_duplicates": int((status == NEAR).sum()),
             "clusters": int(np.unique(keeper[in_cluster]).size)}
    pairs = (reps[near.left], reps[near.right], near.jaccard)
    return Plan(ids, status, keeper, jaccard, cluster_row, pairs, stats, seconds)
