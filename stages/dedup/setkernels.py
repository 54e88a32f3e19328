"""Compiled loops (numba) for shingle sets: filling and de-duplicating the padded rows that numpy sorts,
copying ranges (placing sets, reading spilled sets back), the intersection sizes of sorted sets; and
the LSH band keys.
Each equals the numpy path of its caller (`shingles`, `store`, `verify`, `lsh`), used when
`hashmin.available()` is False.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stages.dedup.hashmin import compiled


@compiled()
def merge_kernel(numba) -> Callable:
    """The compiled sorted-set intersection count, or None without numba. The merge does not branch on the
    comparison (a random merge mispredicted about every other step: 9 us per pair of 500-element sets)."""

    @numba.njit(nogil=True, cache=True)
    def intersections(values, offsets, left, right, out):  # pragma: no cover - compiled
        for p in range(left.size):
            i, i_end = offsets[left[p]], offsets[left[p] + 1]
            j, j_end = offsets[right[p]], offsets[right[p] + 1]
            count = 0
            while i < i_end and j < j_end:  # branch-free steps: which side advances is data, not a jump
                x, y = values[i], values[j]
                count += x == y
                i += x <= y
                j += y <= x
            out[p] = count

    return intersections


def intersection_sizes(values: np.ndarray, offsets: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """|set(left[i]) & set(right[i])| by a linear merge of the two sorted sets of each pair."""
    out = np.zeros(len(left), dtype=np.int64)
    merge_kernel()(values, offsets.astype(np.int64, copy=False), left.astype(np.int64, copy=False),
                   right.astype(np.int64, copy=False), out)
    return out


@compiled()
def gather_kernel(numba) -> Callable:
    """The compiled copy of ranges src[starts[i]:starts[i] + sizes[i]] one after another into out."""

    @numba.njit(nogil=True, cache=True)
    def gather(src, starts, sizes, out, at):  # pragma: no cover - compiled
        for i in range(starts.size):
            lo, k, to = starts[i], sizes[i], at[i]
            out[to : to + k] = src[lo : lo + k]

    return gather


def gather_ranges(src: np.ndarray, starts: np.ndarray, sizes: np.ndarray, out: np.ndarray,
                  at: np.ndarray | None = None) -> None:
    """out[at[i] : at[i] + sizes[i]] = src[starts[i] : starts[i] + sizes[i]]; `at` defaults to one range
    after another from 0."""
    sizes = sizes.astype(np.int64, copy=False)
    at = np.cumsum(sizes) - sizes if at is None else at.astype(np.int64, copy=False)
    gather_kernel()(src, starts.astype(np.int64, copy=False), sizes, out, at)


@compiled()
def fill_rows_kernel(numba) -> Callable:
    """The compiled copy of hashes[offsets[d]:offsets[d + 1]] into row r of `matrix` for d = docs[r]."""

    @numba.njit(nogil=True, cache=True)
    def fill_rows(hashes, offsets, docs, matrix):  # pragma: no cover - compiled
        for r in range(docs.size):
            lo, hi = offsets[docs[r]], offsets[docs[r] + 1]
            matrix[r, : hi - lo] = hashes[lo:hi]

    return fill_rows


@compiled()
def unique_rows_kernel(numba) -> Callable:
    """The compiled de-duplication of sorted rows: the distinct values of each row's first sizes[r] cells
    written one row after another into `out`, their number into counts[r]; returns the total."""

    @numba.njit(nogil=True, cache=True)
    def unique_rows(matrix, sizes, out, counts):  # pragma: no cover - compiled
        at = 0
        for r in range(sizes.size):
            start = at
            for j in range(sizes[r]):
                v = matrix[r, j]
                if j == 0 or v != matrix[r, j - 1]:
                    out[at] = v
                    at += 1
            counts[r] = at - start
        return at

    return unique_rows


@compiled()
def band_keys_kernel(numba) -> Callable:
    """The compiled LSH band keys of `lsh.band_keys` (splitmix64's finalizer over each band's rows), written
    into out (bands, docs): one pass per band without numpy's temporaries."""
    m1, m2, m3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)

    @numba.njit(nogil=True, cache=True)
    def band_keys(sig, bands, rows, out):  # pragma: no cover - compiled
        for band in range(bands):
            start = np.uint64(band) * m1
            for d in range(sig.shape[1]):
                acc = start
                for row in range(band * rows, (band + 1) * rows):
                    x = acc ^ np.uint64(sig[row, d])
                    x ^= x >> np.uint64(30)
                    x *= m2
                    x ^= x >> np.uint64(27)
                    x *= m3
                    acc = x ^ (x >> np.uint64(31))
                out[band, d] = acc

    return band_keys
