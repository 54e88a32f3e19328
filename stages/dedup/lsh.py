"""LSH banding: choose bands x rows, hash each band of a signature, list candidate pairs.

A pair with Jaccard s shares at least one band with probability
1 - (1 - s^rows)^bands. datasketch's optimiser (`_optimal_param`, weights
(0.5, 0.5)) balances false positives against false negatives; at threshold 0.8
and 128 permutations it picks 9 x 13, which makes a pair at exactly 0.8 a
candidate only 40% of the time. Here every candidate is verified afterwards, so
the banding is tuned for recall instead: among b x r <= num_perm with
P(candidate | s = threshold) >= min_recall, take the one with the smallest
false-positive area (datasketch's own integral), i.e. the least verification work.

Band keys are a 64-bit mix of the band's `rows` signature values. Two different
bands collide with probability about 2^-64 per pair; such a pair is only an extra
candidate, which verification rejects.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import polars as pl
from scipy.integrate import quad

from stages.dedup import hashmin, setkernels
from stages.dedup.shingles import ragged_arange

M1 = np.uint64(0x9E3779B97F4A7C15)
M2 = np.uint64(0xBF58476D1CE4E5B9)
M3 = np.uint64(0x94D049BB133111EB)


def candidate_probability(s: float, bands: int, rows: int) -> float:
    """Probability that a pair with Jaccard `s` shares at least one band."""
    return 1.0 - (1.0 - s ** float(rows)) ** float(bands)


def false_positive_area(threshold: float, bands: int, rows: int) -> float:
    """datasketch's `_false_positive_probability`: candidate probability integrated over [0, threshold]."""
    return quad(lambda s: candidate_probability(s, bands, rows), 0.0, threshold)[0]


def false_negative_area(threshold: float, bands: int, rows: int) -> float:
    """datasketch's `_false_negative_probability`: miss probability integrated over [threshold, 1]."""
    return quad(lambda s: 1.0 - candidate_probability(s, bands, rows), threshold, 1.0)[0]


def datasketch_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """datasketch's `_optimal_param`: the (bands, rows) minimising the weighted error areas."""
    best, opt = float("inf"), (0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = false_positive_area(threshold, bands, rows)
            fn = false_negative_area(threshold, bands, rows)
            error = fp * weights[0] + fn * weights[1]
            if error < best:
                best, opt = error, (bands, rows)
    return opt


@functools.lru_cache(maxsize=64)
def recall_params(threshold: float, num_perm: int, min_recall: float) -> tuple[int, int]:
    """The (bands, rows) with P(candidate | threshold) >= min_recall and the least false-positive area.

    For each row count the most bands that fit is best for recall; rows grow
    until the recall target is missed. Raises ValueError if even rows=1 misses it.
    """
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm // 2 + 1):
        bands = num_perm // rows
        if candidate_probability(threshold, bands, rows) < min_recall:
            continue
        area = false_positive_area(threshold, bands, rows)
        if best is None or area < best[0]:
            best = (area, bands, rows)
    if best is None:
        raise ValueError(f"dedup: no banding of {num_perm} permutations reaches min_candidate_recall {min_recall} "
                         f"at threshold {threshold}; raise num_perm or lower min_candidate_recall")
    return best[1], best[2]


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection on uint64 with full avalanche."""
    x = x ^ (x >> np.uint64(30))
    x *= M2
    x ^= x >> np.uint64(27)
    x *= M3
    return x ^ (x >> np.uint64(31))


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 of shape (bands, n_docs): the bucket key of each band of each signature (a compiled loop with
    numba, `setkernels.band_keys_kernel`, equal to the numpy one below)."""
    keys = np.empty((bands, sig.shape[1]), dtype=np.uint64)
    if hashmin.available():
        setkernels.band_keys_kernel()(np.ascontiguousarray(sig), bands, rows, keys)
        return keys
    for band in range(bands):
        acc = np.full(sig.shape[1], (band * int(M1)) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
        for row in range(band * rows, (band + 1) * rows):
            acc = _mix64(acc ^ sig[row].astype(np.uint64))
        keys[band] = acc
    return keys


def bucket_pairs(keys: np.ndarray, docs: np.ndarray, window: int) -> np.ndarray:
    """Pairs of documents that share a key, encoded as uint64 (left << 32 | right), left < right.

    Each document is paired with the next `window` documents of its bucket (in
    document order): every pair when a bucket has at most window + 1 members,
    and a bounded number of pairs per document in huge template buckets.
    """
    shared = pl.Series(keys).is_duplicated().to_numpy()  # hash pass; most keys are unique
    keys, docs = keys[shared], docs[shared]
    order = np.lexsort((docs, keys))
    sorted_keys, sorted_docs = keys[order], docs[order]
    new_run = np.ones(sorted_keys.size, dtype=bool)
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new_run[1:])
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_start, sorted_keys.size))
    run_end = np.repeat(run_start + run_len, run_len)
    counts = np.minimum(run_end - 1 - np.arange(sorted_keys.size), window)
    left = np.repeat(np.arange(sorted_keys.size), counts)
    right = left + 1 + ragged_arange(counts)
    lo, hi = sorted_docs[left].astype(np.uint64), sorted_docs[right].astype(np.uint64)
    return (lo << np.uint64(32)) | hi


def candidate_pairs(keys: np.ndarray | Iterable[np.ndarray], window: int,
                    docs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs (left, right), left < right, that share a bucket in any band; sorted.

    `keys` is (bands, n) from `band_keys`, or any iterable of its rows (one band at a time, so a
    caller can pick columns band by band without copying the whole table; then give `docs`);
    `docs` (default 0..n-1) are the documents' indices, so key tables of several batches can be
    concatenated.
    """
    docs = np.arange(keys.shape[1], dtype=np.int64) if docs is None else docs
    found = [bucket_pairs(band, docs, window) for band in keys]
    pairs = np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint64)
    if pairs.size:
        keep = np.ones(pairs.size, dtype=bool)
        np.not_equal(pairs[1:], pairs[:-1], out=keep[1:])
        pairs = pairs[keep]
    return (pairs >> np.uint64(32)).astype(np.int64), (pairs & np.uint64(0xFFFFFFFF)).astype(np.int64)
