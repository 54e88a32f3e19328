"""Exact Jaccard similarity of candidate pairs, from per-document shingle sets.

Sets are stored CSR-style: document d's sorted, distinct shingle hashes are
values[offsets[d]:offsets[d + 1]]. With numba, a compiled loop merges the two sorted sets of each
pair (`setkernels`). Without it, for a batch of pairs, each side's sets are
gathered into one array tagged with the pair number in the high 32 bits, which
makes both arrays globally sorted. A stable sort of their concatenation is then
a single linear merge of two runs, and every shingle the two sides of a pair
share shows up as two equal neighbours. No Python loop per pair or per shingle.
"""

from __future__ import annotations

import numpy as np

from stages.dedup import hashmin, setkernels
from stages.dedup.shingles import ragged_arange

BATCH_ELEMENTS = 1 << 22  # set elements gathered per batch (32 MiB of uint64 per side)


def _tagged(values: np.ndarray, offsets: np.ndarray, docs: np.ndarray, out: np.ndarray) -> None:
    """Write the sets of `docs` into `out`, each element tagged (pair << 32 | hash)."""
    sizes = offsets[docs + 1] - offsets[docs]
    np.left_shift(np.repeat(np.arange(len(docs), dtype=np.uint64), sizes), np.uint64(32), out=out)
    out |= values[np.repeat(offsets[docs], sizes) + ragged_arange(sizes)]


def _batch_intersections(values: np.ndarray, offsets: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    n_left = int((offsets[left + 1] - offsets[left]).sum())
    both = np.empty(n_left + int((offsets[right + 1] - offsets[right]).sum()), dtype=np.uint64)
    _tagged(values, offsets, left, both[:n_left])
    _tagged(values, offsets, right, both[n_left:])
    both.sort(kind="stable")  # two sorted runs: one merge
    shared = both[1:][both[1:] == both[:-1]]
    return np.bincount((shared >> np.uint64(32)).astype(np.int64), minlength=len(left))


def intersection_sizes(values: np.ndarray, offsets: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """|set(left[i]) & set(right[i])| for every pair i (compiled merge with numba, else in batches of about
    BATCH_ELEMENTS)."""
    if hashmin.available():
        return setkernels.intersection_sizes(values, offsets, left, right)
    sizes = (offsets[left + 1] - offsets[left]) + (offsets[right + 1] - offsets[right])
    ends = np.cumsum(sizes)
    out = np.zeros(len(left), dtype=np.int64)
    lo = 0
    while lo < len(left):
        base = ends[lo - 1] if lo else 0
        hi = max(int(np.searchsorted(ends, base + BATCH_ELEMENTS, side="right")), lo + 1)
        out[lo:hi] = _batch_intersections(values, offsets, left[lo:hi], right[lo:hi])
        lo = hi
    return out


def exact_jaccard(values: np.ndarray, offsets: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Jaccard |A & B| / |A | B| of each pair's shingle sets (0.0 when both sets are empty)."""
    inter = intersection_sizes(values, offsets, left, right)
    union = (offsets[left + 1] - offsets[left]) + (offsets[right + 1] - offsets[right]) - inter
    return np.divide(inter, union, out=np.zeros(len(left), dtype=np.float64), where=union > 0)
