"""Compiled loops (numba) over the code points of a batch of texts: UTF-8 decoding from Arrow buffers with
the case folding, the case folding alone, and XXH32 of every window (a kernel compiled per n-gram size).
Each equals the numpy path in `shingles` (used when `hashmin.available()` is False).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stages.dedup.hashmin import compiled


UNROLLED = 16  # n-gram sizes up to this get a kernel compiled for their size


def window_kernel(ngram: int) -> Callable | None:
    """The compiled XXH32 (seed 0) of every window of `ngram` 32-bit lanes, `kernel(flat, ngram, out)`, or
    None without numba: `unrolled_kernel(ngram)` up to UNROLLED lanes, else the loop over the lanes."""
    return unrolled_kernel(ngram) if ngram <= UNROLLED else looped_kernel()


@compiled(maxsize=UNROLLED)
def unrolled_kernel(numba, ngram: int) -> Callable:
    """XXH32 of every window with the window size fixed when compiling: the stripes and tail lanes are
    straight-line code in 32-bit arithmetic, which LLVM vectorises across windows (about 10x the looped
    kernel at 5-grams). numba caches one compiled copy per size (the captured sizes are in its cache key)."""
    u32 = np.uint32
    p1, p2, p3, p4, p5 = u32(0x9E3779B1), u32(0x85EBCA77), u32(0xC2B2AE3D), u32(0x27D4EB2F), u32(0x165667B1)
    v0, v3 = u32((0x9E3779B1 + 0x85EBCA77) & 0xFFFFFFFF), u32((-0x9E3779B1) & 0xFFFFFFFF)
    stripes, tail, size = ngram // 4, ngram % 4, u32(4 * ngram)

    @numba.njit(nogil=True, cache=True)
    def windows(flat, _ngram, out):  # pragma: no cover - compiled
        for i in range(out.size):
            if stripes > 0:
                a0, a1, a2, a3 = v0, p2, u32(0), v3
                for s in range(stripes):
                    at = i + 4 * s
                    a0 = u32(a0 + u32(flat[at] * p2))
                    a0 = u32(u32((a0 << u32(13)) | (a0 >> u32(19))) * p1)
                    a1 = u32(a1 + u32(flat[at + 1] * p2))
                    a1 = u32(u32((a1 << u32(13)) | (a1 >> u32(19))) * p1)
                    a2 = u32(a2 + u32(flat[at + 2] * p2))
                    a2 = u32(u32((a2 << u32(13)) | (a2 >> u32(19))) * p1)
                    a3 = u32(a3 + u32(flat[at + 3] * p2))
                    a3 = u32(u32((a3 << u32(13)) | (a3 >> u32(19))) * p1)
                h = u32(u32((a0 << u32(1)) | (a0 >> u32(31))) + u32((a1 << u32(7)) | (a1 >> u32(25)))
                        + u32((a2 << u32(12)) | (a2 >> u32(20))) + u32((a3 << u32(18)) | (a3 >> u32(14))))
            else:
                h = p5
            h = u32(h + size)
            at = i + 4 * stripes
            if tail >= 1:  # the lanes after the stripes, written out (a loop here was not vectorised)
                h = u32(h + u32(flat[at] * p3))
                h = u32(u32((h << u32(17)) | (h >> u32(15))) * p4)
            if tail >= 2:
                h = u32(h + u32(flat[at + 1] * p3))
                h = u32(u32((h << u32(17)) | (h >> u32(15))) * p4)
            if tail >= 3:
                h = u32(h + u32(flat[at + 2] * p3))
                h = u32(u32((h << u32(17)) | (h >> u32(15))) * p4)
            h = u32(h ^ (h >> u32(15)))
            h = u32(h * p2)
            h = u32(h ^ (h >> u32(13)))
            h = u32(h * p3)
            out[i] = u32(h ^ (h >> u32(16)))

    return windows


@compiled()
def looped_kernel(numba) -> Callable:
    """XXH32 of every window of any size: the same reference algorithm as `shingles.xxh32_lanes`, one window
    at a time, in uint64 registers masked to 32 bits (so every product and sum wraps mod 2^32 exactly as
    uint32 arithmetic does)."""
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


@compiled()
def lower_kernel(numba) -> Callable:
    """The compiled case folding of code points through a BMP table (astral code points unchanged)."""

    @numba.njit(nogil=True, cache=True)
    def lower(flat, table, out):  # pragma: no cover - compiled
        for i in range(flat.size):
            c = flat[i]
            out[i] = table[c] if c < 0x10000 else c

    return lower


@compiled()
def utf8_kernel(numba) -> Callable:
    """The compiled UTF-8 decoding of an Arrow string array's buffers into case-folded code points, or None
    without numba: `decode(data, offsets, table, out, lengths)` writes the code points of every string one
    after another into `out` (at least as long as the bytes), folded through the BMP table (astral ones
    unchanged), each string's length in code points into `lengths`, and returns their total. One pass:
    counting the lengths first was a second pass over the bytes (a third of the decoding time). The input
    is valid UTF-8 (Arrow strings are)."""

    @numba.njit(nogil=True, cache=True)
    def decode(data, offsets, table, out, lengths):  # pragma: no cover - compiled
        at = 0
        for d in range(lengths.size):
            first = at
            i, end = offsets[d], offsets[d + 1]
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
            lengths[d] = at - first
        return at

    return decode
