"""Compiled loops (numba): shingle hashing (XXH32 of each window), hash-min for the affine32 scheme,
and set intersections for verification.

Both are bit-identical to the numpy paths in `minhash` and `verify`, which run without numba.

Per document, per shingle hash h (already pre-mixed with fmix32), per permutation k:
sig[k] = min(sig[k], (a[k] * h + b[k]) mod 2^32). The loop over k is the innermost one, so
the 128 permutations of one shingle stay in registers and vector lanes, and a document's
running minimum (512 bytes) stays in L1: no temporaries, no memory traffic per permutation.
`nogil=True` lets the stage's batch threads run it on every core. The compiled code is
cached under `__pycache__` (ignored by git and DVC), so only the first run pays ~1 s.
When numba is not importable, `available()` is False and `minhash` uses numpy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np


@functools.lru_cache(maxsize=1)
def kernel() -> Callable | None:
    """The compiled loop, or None without numba."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def affine_min(h, offsets, a, b, out):  # pragma: no cover - compiled
        n_perm = a.size
        buf = np.empty(n_perm, dtype=np.uint32)
        for d in range(offsets.size - 1):
            lo, hi = offsets[d], offsets[d + 1]
            if lo == hi:
                continue
            for k in range(n_perm):
                buf[k] = np.uint32(0xFFFFFFFF)
            for i in range(lo, hi):
                x = h[i]
                for k in range(n_perm):
                    v = np.uint32(a[k] * x + b[k])
                    if v < buf[k]:
                        buf[k] = v
            for k in range(n_perm):
                out[k, d] = buf[k]

    return affine_min


@functools.lru_cache(maxsize=1)
def merge_kernel() -> Callable | None:
    """The compiled sorted-set intersection count, or None without numba."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def intersections(values, offsets, left, right, out):  # pragma: no cover - compiled
        for p in range(left.size):
            i, i_end = offsets[left[p]], offsets[left[p] + 1]
            j, j_end = offsets[right[p]], offsets[right[p] + 1]
            count = 0
            while i < i_end and j < j_end:
                x, y = values[i], values[j]
                if x == y:
                    count += 1
                    i += 1
                    j += 1
                elif x < y:
                    i += 1
                else:
                    j += 1
            out[p] = count

    return intersections


def intersection_sizes(values: np.ndarray, offsets: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """|set(left[i]) & set(right[i])| by a linear merge of the two sorted sets of each pair."""
    out = np.zeros(len(left), dtype=np.int64)
    merge_kernel()(values, offsets.astype(np.int64, copy=False), left.astype(np.int64, copy=False),
                   right.astype(np.int64, copy=False), out)
    return out


@functools.lru_cache(maxsize=1)
def window_kernel() -> Callable | None:
    """The compiled XXH32 (seed 0) of every window of `ngram` 32-bit lanes, or None without numba.

    The same reference algorithm as `shingles.xxh32_lanes`, one window at a time, in uint64 registers
    masked to 32 bits (so every product and sum wraps mod 2^32 exactly as uint32 arithmetic does)."""
    try:
        import numba
    except ImportError:
        return None
    m32 = np.uint64(0xFFFFFFFF)
    p1, p2, p3 = np.uint64(0x9E3779B1), np.uint64(0x85EBCA77), np.uint64(0xC2B2AE3D)
    p4, p5 = np.uint64(0x27D4EB2F), np.uint64(0x165667B1)

    @numba.njit(inline="always")
    def rotl(x, r):  # pragma: no cover - compiled
        return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & m32

    @numba.njit(nogil=True, cache=True)
    def windows(flat, ngram, out):  # pragma: no cover - compiled
        for i in range(out.size):
            if ngram >= 4:
                a0, a1 = (p1 + p2) & m32, p2
                a2, a3 = np.uint64(0), (np.uint64(1 << 32) - p1) & m32
                for s in range(ngram // 4):
                    base = i + 4 * s
                    a0 = (rotl((a0 + np.uint64(flat[base]) * p2) & m32, 13) * p1) & m32
                    a1 = (rotl((a1 + np.uint64(flat[base + 1]) * p2) & m32, 13) * p1) & m32
                    a2 = (rotl((a2 + np.uint64(flat[base + 2]) * p2) & m32, 13) * p1) & m32
                    a3 = (rotl((a3 + np.uint64(flat[base + 3]) * p2) & m32, 13) * p1) & m32
                h = (rotl(a0, 1) + rotl(a1, 7) + rotl(a2, 12) + rotl(a3, 18)) & m32
            else:
                h = p5
            h = (h + np.uint64(4 * ngram)) & m32
            for j in range(4 * (ngram // 4), ngram):
                h = (h + np.uint64(flat[i + j]) * p3) & m32
                h = (rotl(h, 17) * p4) & m32
            h ^= h >> np.uint64(15)
            h = (h * p2) & m32
            h ^= h >> np.uint64(13)
            h = (h * p3) & m32
            h ^= h >> np.uint64(16)
            out[i] = np.uint32(h)

    return windows


def available() -> bool:
    return kernel() is not None


def affine_signatures(mixed: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray,
                      out: np.ndarray) -> None:
    """out[:, d] = min over document d's pre-mixed hashes of (a * h + b) mod 2^32 (untouched when empty)."""
    kernel()(mixed, offsets.astype(np.int64, copy=False), a.astype(np.uint32, copy=False),
             b.astype(np.uint32, copy=False), out)


@functools.lru_cache(maxsize=1)
def gather_kernel() -> Callable | None:
    """The compiled copy of ranges src[starts[i]:starts[i] + sizes[i]] one after another into out."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def gather(src, starts, sizes, out):  # pragma: no cover - compiled
        at = 0
        for i in range(starts.size):
            lo, k = starts[i], sizes[i]
            out[at : at + k] = src[lo : lo + k]
            at += k

    return gather


def gather_ranges(src: np.ndarray, starts: np.ndarray, sizes: np.ndarray, out: np.ndarray) -> None:
    """out = concatenation of src[starts[i] : starts[i] + sizes[i]] (a memory-mapped src reads only those pages)."""
    gather_kernel()(src, starts.astype(np.int64, copy=False), sizes.astype(np.int64, copy=False), out)
