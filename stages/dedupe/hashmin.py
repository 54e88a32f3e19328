"""Compiled hash-min for the affine32 scheme (numba), bit-identical to the numpy path in `minhash`.

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


def available() -> bool:
    return kernel() is not None


def affine_signatures(mixed: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray,
                      out: np.ndarray) -> None:
    """out[:, d] = min over document d's pre-mixed hashes of (a * h + b) mod 2^32 (untouched when empty)."""
    kernel()(mixed, offsets.astype(np.int64, copy=False), a.astype(np.uint32, copy=False),
             b.astype(np.uint32, copy=False), out)
