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

    # Rotations are written out: a jitted helper captured here made numba's cache miss in every new
    # process (the kernel was compiled again, 0.25 s, and a new cache file written each time).
    @numba.njit(nogil=True, cache=True)
    def windows(flat, ngram, out):  # pragma: no cover - compiled
        for i in range(out.size):
            if ngram >= 4:
                a0, a1 = (p1 + p2) & m32, p2
                a2, a3 = np.uint64(0), (np.uint64(1 << 32) - p1) & m32
                for s in range(ngram // 4):
                    base = i + 4 * s
                    a0 = (a0 + np.uint64(flat[base]) * p2) & m32
                    a0 = ((((a0 << np.uint64(13)) | (a0 >> np.uint64(19))) & m32) * p1) & m32
                    a1 = (a1 + np.uint64(flat[base + 1]) * p2) & m32
                    a1 = ((((a1 << np.uint64(13)) | (a1 >> np.uint64(19))) & m32) * p1) & m32
                    a2 = (a2 + np.uint64(flat[base + 2]) * p2) & m32
                    a2 = ((((a2 << np.uint64(13)) | (a2 >> np.uint64(19))) & m32) * p1) & m32
                    a3 = (a3 + np.uint64(flat[base + 3]) * p2) & m32
                    a3 = ((((a3 << np.uint64(13)) | (a3 >> np.uint64(19))) & m32) * p1) & m32
                h = (((a0 << np.uint64(1)) | (a0 >> np.uint64(31))) + ((a1 << np.uint64(7)) | (a1 >> np.uint64(25)))
                     + ((a2 << np.uint64(12)) | (a2 >> np.uint64(20))) + ((a3 << np.uint64(18)) | (a3 >> np.uint64(14)))
                     ) & m32
            else:
                h = p5
            h = (h + np.uint64(4 * ngram)) & m32
            for j in range(4 * (ngram // 4), ngram):
                h = (h + np.uint64(flat[i + j]) * p3) & m32
                h = ((((h << np.uint64(17)) | (h >> np.uint64(15))) & m32) * p4) & m32
            h ^= h >> np.uint64(15)
            h = (h * p2) & m32
            h ^= h >> np.uint64(13)
            h = (h * p3) & m32
            h ^= h >> np.uint64(16)
            out[i] = np.uint32(h)

    return windows


def available() -> bool:
    return kernel() is not None


@functools.lru_cache(maxsize=1)
def window_min_kernel() -> Callable | None:
    """The compiled hash-min straight from the window hashes of a batch, or None without numba.

    Document d's shingles are the windows starting at starts[d] .. starts[d] + lengths[d] - ngram of
    `every` (XXH32 of each window of the batch's code points), or the one hash short[d] when the text
    is shorter than ngram; each is mixed with fmix32 and run through the permutations as in
    `affine_min`. No array of the document's shingles is built: the masking, the insertion of the
    short texts' hashes and the fmix32 pass over all hashes (about 40% of the numpy-side time of a
    batch) are gone."""
    try:
        import numba
    except ImportError:
        return None
    m32 = np.uint64(0xFFFFFFFF)
    c1, c2 = np.uint64(0x85EBCA6B), np.uint64(0xC2B2AE35)

    @numba.njit(nogil=True, cache=True)
    def window_min(every, starts, lengths, short, ngram, a, b, out):  # pragma: no cover - compiled
        n_perm = a.size
        buf = np.empty(n_perm, dtype=np.uint32)
        for d in range(lengths.size):
            length = lengths[d]
            if length == 0:
                continue
            lo = starts[d]
            hi = lo + length - ngram + 1 if length >= ngram else lo + 1
            for k in range(n_perm):
                buf[k] = np.uint32(0xFFFFFFFF)
            for i in range(lo, hi):
                h = np.uint64(every[i]) if length >= ngram else np.uint64(short[d])
                h ^= h >> np.uint64(16)
                h = (h * c1) & m32
                h ^= h >> np.uint64(13)
                h = (h * c2) & m32
                h ^= h >> np.uint64(16)
                x = np.uint32(h)
                for k in range(n_perm):
                    v = np.uint32(a[k] * x + b[k])
                    if v < buf[k]:
                        buf[k] = v
            for k in range(n_perm):
                out[k, d] = buf[k]

    return window_min


@functools.lru_cache(maxsize=1)
def lower_kernel() -> Callable | None:
    """The compiled case folding of code points through a BMP table (astral code points unchanged)."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def lower(flat, table, out):  # pragma: no cover - compiled
        for i in range(flat.size):
            c = flat[i]
            out[i] = table[c] if c < 0x10000 else c

    return lower


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


@functools.lru_cache(maxsize=1)
def fill_rows_kernel() -> Callable | None:
    """The compiled copy of hashes[offsets[d]:offsets[d + 1]] into row r of `matrix` for d = docs[r]."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def fill_rows(hashes, offsets, docs, matrix):  # pragma: no cover - compiled
        for r in range(docs.size):
            lo, hi = offsets[docs[r]], offsets[docs[r] + 1]
            matrix[r, : hi - lo] = hashes[lo:hi]

    return fill_rows


@functools.lru_cache(maxsize=1)
def unique_rows_kernel() -> Callable | None:
    """The compiled de-duplication of sorted rows: the distinct values of each row's first sizes[r] cells
    written one row after another into `out`, their number into counts[r]; returns the total."""
    try:
        import numba
    except ImportError:
        return None

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


@functools.lru_cache(maxsize=1)
def utf8_kernel() -> Callable | None:
    """The compiled UTF-8 decoding of an Arrow string array's buffers into case-folded code points, or None
    without numba. `count(data, offsets, lengths)` fills each string's length in code points (bytes that
    do not continue a character); `decode(data, offsets, table, out)` writes the code points, folded
    through the BMP table (astral ones unchanged). The input is valid UTF-8 (Arrow strings are)."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def count(data, offsets, lengths):  # pragma: no cover - compiled
        for d in range(lengths.size):
            n = 0
            for i in range(offsets[d], offsets[d + 1]):
                if (data[i] & 0xC0) != 0x80:
                    n += 1
            lengths[d] = n

    @numba.njit(nogil=True, cache=True)
    def decode(data, offsets, table, out):  # pragma: no cover - compiled
        at = 0
        i = offsets[0]
        end = offsets[offsets.size - 1]
        while i < end:
            b0 = np.uint32(data[i])
            if b0 < 0x80:
                c = b0
                i += 1
            elif b0 < 0xE0:
                c = ((b0 & 0x1F) << 6) | (np.uint32(data[i + 1]) & 0x3F)
                i += 2
            elif b0 < 0xF0:
                c = ((b0 & 0x0F) << 12) | ((np.uint32(data[i + 1]) & 0x3F) << 6) | (np.uint32(data[i + 2]) & 0x3F)
                i += 3
            else:
                c = (((b0 & 0x07) << 18) | ((np.uint32(data[i + 1]) & 0x3F) << 12)
                     | ((np.uint32(data[i + 2]) & 0x3F) << 6) | (np.uint32(data[i + 3]) & 0x3F))
                i += 4
            out[at] = table[c] if c < 0x10000 else c
            at += 1

    return count, decode
