"""Which record each record is a duplicate of, decided without holding the records in memory.

Pass 1 reads the records a batch at a time and keeps per record only compact arrays (`ScanArrays`):
a 128-bit hash of its dedup text (exact duplicates), its priority keys (the keeper), and the LSH
band keys of its signature (21 x 8 bytes with the default banding). Exact groups, the priority order
and the candidate pairs come from those arrays. Pass 2 (`spill.spill_sets`) reads the records again
and writes the shingle sets (or signatures) of just the records in a candidate pair to a work file;
pairs are measured a chunk at a time from it (`store.py`) and judged by `decision.near_pairs`, which
also takes the clusters (connected components of the verified pairs). `local.py` runs the passes in
this process (reusing a record's arrays and the measured pairs from the index when there is one);
with `engine: ray` they run as Ray tasks over the input's row groups (`distributed.py`): this process
keeps the same compact arrays and the pairs, never the texts.

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

from stages.dedup import store
from stages.dedup.config import DedupParams
from stages.dedup.decision import NearResult, near_pairs
from stages.dedup.keeper import priority_keys, priority_rank
from stages.dedup.shingles import dedup_text

KEPT, EXACT, NEAR = 0, 1, 2
HASH_SEEDS = (0x5EED0001D1CE0001, 0x0DD50002BEEF0002)  # two seeded 64-bit polars hashes: 128 bits per text


@dataclass
class Scan:
    """Pass 1's per-row arrays; the band keys only when the near step runs here (not on Ray). `arrays` has
    what the index keeps per record (`ScanArrays`), `fresh` the rows computed in this run (not reused)."""

    hashes: np.ndarray  # (2, n) uint64
    empty: np.ndarray
    rank: np.ndarray
    keys: np.ndarray | None = None  # (bands, n) uint64
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    fresh: np.ndarray | None = None


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


@dataclass(frozen=True)
class Steps:
    """Where pass 1 and the near step run: `scan(records, params)` and `near(records, scan, reps, params,
    work, seconds)`. `local.LocalSteps` runs both in this process; `distributed.ray_steps` on Ray."""

    scan: Callable[..., Scan]
    near: Callable[..., NearResult]


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (for the benchmark's phase breakdown): VmHWM, the
    high-water mark of this program's own memory (ru_maxrss also counts the memory of the process that
    forked it before exec: a 3.6 GB benchmark driver showed up as its child's peak)."""
    import resource

    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def text_hashes(text: pl.Series) -> np.ndarray:
    """(2, n) uint64: two independently seeded 64-bit hashes of each text (equal texts, equal pair)."""
    return np.stack([text.hash(seed).to_numpy() for seed in HASH_SEEDS])


def scan_columns(params: DedupParams) -> list[str]:
    return sorted(set(params.fields) | {"human_verified", "answer_from", "output"})


def fingerprints(batch: pl.DataFrame, params: DedupParams) -> np.ndarray:
    """(2, n) uint64: two seeded hashes of each record's `scan_columns`, all that pass 1 reads of it (the
    index reuses a record's arrays only while its id and fingerprint are unchanged)."""
    row = pl.struct(scan_columns(params))
    return np.stack([batch.select(row.hash(seed)).to_series().to_numpy() for seed in HASH_SEEDS])


def scan_text(batch: pl.DataFrame, params: DedupParams) -> tuple[dict[str, np.ndarray], pl.Series]:
    """The polars part of pass 1 for one batch: text hashes, emptiness, priority keys, whether the answer
    is blank (its dedup text would be empty); and the dedup text."""
    text = batch.select(dedup_text(params.fields)).to_series()
    prio = priority_keys(batch)
    found = {"hashes": text_hashes(text), "empty": (text.str.len_bytes() == 0).to_numpy(),
             "verified": prio["verified"].to_numpy(), "human": prio["human"].to_numpy(),
             "chars": prio["output_chars"].to_numpy(),
             "answer_empty": (batch["output"].fill_null("").str.strip_chars() == "").to_numpy()}
    return found, text


class ScanArrays:
    """Pass 1's arrays for n rows, filled batch by batch (`put`: rows lo.., or the given rows) in any order,
    then `finish`ed."""

    def __init__(self, n: int, bands: int | None) -> None:
        self.arrays = {"hashes": np.empty((2, n), dtype=np.uint64), "empty": np.empty(n, dtype=bool),
                       "verified": np.empty(n, dtype=bool), "human": np.empty(n, dtype=bool),
                       "chars": np.empty(n, dtype=np.int64), "answer_empty": np.empty(n, dtype=bool),
                       "fp": np.zeros((2, n), dtype=np.uint64)}
        if bands is not None:
            self.arrays["keys"] = np.empty((bands, n), dtype=np.uint64)

    def put(self, lo: int | np.ndarray, found: dict[str, np.ndarray]) -> None:
        for name, values in found.items():
            at = slice(lo, lo + values.shape[-1]) if isinstance(lo, int) else lo
            self.arrays[name][..., at] = values

    def finish(self) -> Scan:
        a = self.arrays
        return Scan(a["hashes"], a["empty"], priority_rank(a["verified"], a["human"], a["chars"]), a.pop("keys", None),
                    arrays=a)


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


def verify_candidates(left: np.ndarray, right: np.ndarray, rows: np.ndarray, reps: np.ndarray,
                      sets: store.Store, answer_sets: store.Store | None, params: DedupParams,
                      run: store.Runner = store.run_here) -> NearResult:
    """`decision.near_pairs` over the candidate pairs (indices into `reps`), reading the spilled sets of
    `rows` (the sorted rows of every record in a pair); `run` runs the chunks of pairs (here, or on Ray)."""
    length = params.num_perm if params.verify == "estimate" else None
    texts = store.StoredSets(sets, rows, reps, length, run)
    answers = store.StoredSets(answer_sets, rows, reps, None, run) if answer_sets is not None else None
    return near_pairs(reps.size, left, right, texts, answers, params)


def pair_rows(left: np.ndarray, right: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """The sorted rows of the records in any candidate pair."""
    return np.sort(reps[np.unique(np.concatenate([left, right]))])


def make_plan(records: Any, params: DedupParams, work: Path, steps: Steps | None = None) -> Plan:
    """Decide every row's fate, with pass 1 and the near step run by `steps` (here by default, or on Ray)."""
    if steps is None:
        from stages.dedup.local import LocalSteps  # local builds on this module

        steps = LocalSteps(None, None, work)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    scan_ = steps.scan(records, params)
    seconds["scan"] = time.perf_counter() - started
    peaks = {"scan": peak_mb()}
    n = scan_.rank.size
    rep = exact_representatives(scan_)
    reps = np.flatnonzero((rep == np.arange(n)) & ~scan_.empty)
    reps = reps[np.argsort(scan_.rank[reps], kind="stable")]  # priority order: keeper = smallest index
    near = steps.near(records, scan_, reps, params, work, seconds)
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
