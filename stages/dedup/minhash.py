"""MinHash signatures of a batch of documents: `affine32` and `legacy` equal datasketch's
`MinHash.hashvalues`; `oph` is the one-permutation sketch of `onehash` (same shape, same uses).

datasketch (2.0) draws permutation parameters from `np.random.RandomState(seed)`
and supports two schemes, both reproduced here bit for bit:
- `affine32` (datasketch's default): the 32-bit shingle hash is pre-mixed with
  the MurmurHash3 finalizer, then permutation k is `a_k * h + b_k mod 2^32` with
  odd `a_k`.
- `legacy` (datasketch before 2.0): `((a_k * h + b_k) mod 2^64) mod (2^61 - 1)`,
  then the low 32 bits (the mod 2^64 is numpy's uint64 wrap-around, as in datasketch).
A document's signature value k is the minimum of permutation k over its shingle
hashes. A document without shingles (empty text) keeps datasketch's empty value
2^32 - 1 everywhere.

With numba installed, affine32 signatures come from a compiled loop (`hashmin`, about
2x the numpy path below). Otherwise, and for `legacy`, they are computed one permutation
at a time over a chunk of shingle hashes (one multiply, one add, one `minimum.reduceat`
per permutation); a chunk of 2^16 hashes keeps the temporaries in L2 (2^19 did not, and
ran at half the speed), and there is no Python loop per shingle or document.

`oph` (`onehash.py`) hashes each shingle once instead of once per permutation; its slots collide
with probability J as MinHash's do, but it is not datasketch's signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from stages.dedup import hashmin, onehash
from stages.dedup.shingles import shingle_hashes, text_windows

if TYPE_CHECKING:
    import polars as pl

Scheme = Literal["oph", "affine32", "legacy"]
SCHEMES: tuple[str, ...] = ("oph", "affine32", "legacy")
MAX_HASH = np.uint32(0xFFFFFFFF)
MERSENNE = np.uint64((1 << 61) - 1)
CHUNK_SHINGLES = 1 << 16  # shingle hashes per chunk: 256 KiB of uint32 temporaries, within L2


def permutations(num_perm: int, seed: int, scheme: Scheme = "affine32") -> tuple[np.ndarray, ...]:
    """The (a, b) parameters datasketch's `MinHash(num_perm, seed, scheme=...)` uses; for `oph`, the
    sketch's (a, b, order, rank) (`onehash.parameters`)."""
    if scheme == "oph":
        return onehash.parameters(num_perm, seed)
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        pairs = [(gen.randint(1, MERSENNE, dtype=np.uint64), gen.randint(0, MERSENNE, dtype=np.uint64))
                 for _ in range(num_perm)]
        return np.array([p[0] for p in pairs], dtype=np.uint64), np.array([p[1] for p in pairs], dtype=np.uint64)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (a bijection), as datasketch's `_fmix(h, 32)`."""
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _chunk_bounds(offsets: np.ndarray) -> list[tuple[int, int]]:
    """Split documents into runs of about CHUNK_SHINGLES shingles (a big document is its own run)."""
    bounds, start, n_docs = [], 0, len(offsets) - 1
    while start < n_docs:
        stop = int(np.searchsorted(offsets, offsets[start] + CHUNK_SHINGLES, side="right")) - 1
        stop = min(max(stop, start + 1), n_docs)
        bounds.append((start, stop))
        start = stop
    return bounds


def _permute_min(hashes: np.ndarray, starts: np.ndarray, a: np.ndarray, b: np.ndarray, scheme: Scheme,
                 out: np.ndarray) -> None:
    """out[k] = per-segment minimum of permutation k of `hashes`; segments begin at `starts`."""
    if scheme == "legacy":
        h = hashes.astype(np.uint64)
        tmp = np.empty_like(h)
        for k in range(len(a)):
            np.multiply(h, a[k], out=tmp)
            np.add(tmp, b[k], out=tmp)
            np.remainder(tmp, MERSENNE, out=tmp)
            np.bitwise_and(tmp, np.uint64(0xFFFFFFFF), out=tmp)
            out[k] = np.minimum.reduceat(tmp, starts)
        return
    h = fmix32(hashes.astype(np.uint32, copy=False))
    tmp = np.empty_like(h)
    for k in range(len(a)):
        np.multiply(h, a[k], out=tmp)
        np.add(tmp, b[k], out=tmp)
        out[k] = np.minimum.reduceat(tmp, starts)


def signatures(hashes: np.ndarray, offsets: np.ndarray, perms: tuple[np.ndarray, np.ndarray],
               scheme: Scheme = "affine32") -> np.ndarray:
    """Signatures of the documents whose shingle hashes are hashes[offsets[d]:offsets[d + 1]].

    Returns uint32 of shape (num_perm, n_docs): column d equals datasketch's
    `hashvalues` for document d (stored as uint32; legacy values fit in 32 bits).
    """
    n_docs = len(offsets) - 1
    if scheme == "oph":
        sig = np.full((perms[2].shape[0], n_docs), MAX_HASH, dtype=np.uint32)
        if hashmin.available():
            lengths = np.diff(offsets).astype(np.int64)
            onehash.window_signatures(hashes.astype(np.uint32, copy=False), offsets[:-1].astype(np.int64), lengths,
                                      np.zeros(n_docs, np.uint32), 1, perms, sig)
        else:
            onehash.numpy_signatures(hashes, offsets, int(perms[0][0]), int(perms[1][0]), perms[2], sig)
        return sig
    a, b = perms
    sig = np.full((len(a), n_docs), MAX_HASH, dtype=np.uint32)
    if scheme == "affine32" and hashmin.available():
        hashmin.affine_signatures(hashes, offsets, a, b, sig)
        return sig
    for lo, hi in _chunk_bounds(offsets):
        counts = np.diff(offsets[lo : hi + 1])
        filled = np.flatnonzero(counts > 0)
        if filled.size == 0:
            continue
        base = offsets[lo]
        chunk = hashes[base : offsets[hi]]
        starts = offsets[lo : hi][filled] - base
        block = np.empty((len(a), filled.size), dtype=np.uint64 if scheme == "legacy" else np.uint32)
        _permute_min(chunk, starts, a, b, scheme, block)
        sig[:, lo + filled] = block
    return sig


def text_signatures(texts: Sequence[str] | pl.Series, ngram: int, perms: tuple[np.ndarray, np.ndarray],
                    scheme: Scheme = "affine32") -> np.ndarray:
    """`signatures(*shingle_hashes(texts, ngram), perms, scheme)`, computed from the window hashes in one
    compiled pass when numba is there (affine32, oph), without building the shingle array."""
    if scheme == "legacy" or not hashmin.available():
        return signatures(*shingle_hashes(texts, ngram), perms, scheme)
    every, starts, lengths, short = text_windows(texts, ngram)
    if scheme == "oph":
        sig = np.full((perms[2].shape[0], len(texts)), MAX_HASH, dtype=np.uint32)
        onehash.window_signatures(every, starts, lengths, short, ngram, perms, sig)
        return sig
    a, b = perms
    sig = np.full((len(a), len(texts)), MAX_HASH, dtype=np.uint32)
    hashmin.window_min_kernel()(every, starts, lengths, short, ngram, a.astype(np.uint32, copy=False),
                                b.astype(np.uint32, copy=False), sig)
    return sig


def estimated_jaccard(sig: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Share of equal signature values for each pair (datasketch's `MinHash.jaccard`)."""
    out = np.empty(len(left), dtype=np.float64)
    step = max(1, (1 << 22) // max(sig.shape[0], 1))
    for lo in range(0, len(left), step):
        hi = lo + step
        same = sig[:, left[lo:hi]] == sig[:, right[lo:hi]]
        out[lo:hi] = np.count_nonzero(same, axis=0) / sig.shape[0]
    return out
