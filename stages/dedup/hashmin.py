"""Compiled hash-min (numba) for the affine32 scheme, straight from a batch's window hashes
(`window_min_kernel`), or from an array of shingle hashes (`affine_signatures`: windows of one hash).
The other compiled loops live in `textkernels` (UTF-8 decoding, case folding, XXH32 of windows) and
`setkernels` (shingle sets and their intersections).

All are bit-identical to the numpy paths in `minhash`, `shingles`, `verify` and `store`, which run
without numba: `available()` is the one switch every caller checks (tests set it to False to run the
numpy paths).

Per document, per shingle hash h (mixed with fmix32), per permutation k:
sig[k] = min(sig[k], (a[k] * h + b[k]) mod 2^32). The loop over k is the innermost one, so
the 128 permutations of one shingle stay in registers and vector lanes, and a document's
running minimum (512 bytes) stays in L1: no temporaries, no memory traffic per permutation.
`nogil=True` lets the stage's batch threads run it on every core. The compiled code is
cached under `__pycache__` (ignored by git and DVC), so only the first run pays ~1 s; a kernel must
not capture another jitted function, or numba's cache misses in every new process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np


def compiled(maxsize: int = 1) -> Callable[[Callable[..., Callable]], Callable[..., Callable | None]]:
    """A kernel factory: `build(numba, *args)` makes the compiled function(s); the factory, called with
    `*args`, returns them (built once per args, up to `maxsize` of them kept), or None without numba."""

    def wrap(build: Callable[..., Callable]) -> Callable[..., Callable | None]:
        @functools.lru_cache(maxsize=maxsize)
        @functools.wraps(build)
        def factory(*args: object) -> Callable | None:
            try:
                import numba
            except ImportError:
                return None
            return build(numba, *args)

        return factory

    return wrap


def available() -> bool:
    """numba is importable: the compiled loops of this module, `textkernels` and `setkernels` run."""
    return window_min_kernel() is not None


@compiled()
def window_min_kernel(numba) -> Callable:
    """The compiled hash-min straight from the window hashes of a batch, or None without numba.

    Document d's shingles are the windows starting at starts[d] .. starts[d] + lengths[d] - ngram of
    `every` (XXH32 of each window of the batch's code points), or the one hash short[d] when the text
    is shorter than ngram; each is mixed with fmix32 and run through the permutations as in
    `affine_signatures`. No array of the document's shingles is built: the masking, the insertion of the
    short texts' hashes and the fmix32 pass over all hashes (about 40% of the numpy-side time of a
    batch) are gone."""
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


def affine_signatures(hashes: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray,
                      out: np.ndarray) -> None:
    """out[:, d] = min over document d's shingle hashes hashes[offsets[d]:offsets[d + 1]] of
    (a * fmix32(h) + b) mod 2^32 (untouched when empty): the window kernel with windows of one hash."""
    offsets = offsets.astype(np.int64, copy=False)
    lengths = np.diff(offsets)
    window_min_kernel()(hashes.astype(np.uint32, copy=False), offsets[:-1], lengths, np.zeros(lengths.size, np.uint32),
                        1, a.astype(np.uint32, copy=False), b.astype(np.uint32, copy=False), out)
