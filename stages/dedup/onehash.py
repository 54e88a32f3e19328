"""The `oph` sketch: one-permutation hashing with optimal densification, one hash per shingle.

MinHash (`affine32`) runs every shingle through all `num_perm` permutations: O(shingles x K) work.
One-permutation hashing (Li, Owen and Zhang, 2012) hashes each shingle once and splits the hash
range into K bins: per shingle hash h,

    v = mix(a * h + b mod 2^32)         (a, b: the first affine32 permutation of `seed`; mix: an
                                         xorshift-multiply-xorshift bijection)
    bin = floor(v * K / 2^32)           (multiply-shift: the bins are K consecutive ranges of v)
    sig[bin] = min(sig[bin], v)

so a document costs O(shingles + K). Two documents' values in one bin are equal exactly when the
smallest v of the union's shingles in that bin belongs to both, which happens with probability J
(their Jaccard similarity) when the union has a shingle there. A value identifies its bin (the bins
are ranges of v), so values of different bins never match.

Empty bins are filled by optimal densification (Shrivastava, ICML 2017): bin i takes the value of
the first non-empty bin in a probe sequence that depends only on i and the seed (`order[i]`, a
random permutation of the bins, drawn per bin). Two documents probing bin i stop at the first bin
non-empty in their union, or go past it; they agree only when both stop there and its minimum is
shared, so every slot still collides with probability J, and slots stay independent across bins.
The first non-empty bin of `order[i]` is found by walking it (about K / m steps for m non-empty
bins) or, when m * m < K, as the non-empty bin of least `rank[i, j]` (m steps): the same bin.

A shingle whose v is 2^32 - 1 (the empty marker) is ignored (probability 2^-32 per shingle; it only
makes a candidate less likely, and verification is exact). A document without shingles keeps 2^32 - 1
everywhere, as with the other schemes. bench/sketch_recall.py measures the candidate recall at the
threshold; bench/hashmin.py the cost per shingle next to affine32 and rensa.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from stages.dedup.hashmin import compiled

MAX_BINS = 1024  # the probe tables are (K, K): 4 MB at 1024
EMPTY = np.uint32(0xFFFFFFFF)


@functools.lru_cache(maxsize=8)
def probe_tables(num_bins: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, rank), each (K, K) int32: order[i] is bin i's probe sequence, rank[i, order[i, t]] = t.

    The priorities are our own integer hash of (seed, i, j), so the tables depend on nothing but the
    seed and K (no random generator whose stream could change between numpy versions)."""
    if not 1 <= num_bins <= MAX_BINS:
        raise ValueError(f"dedup: scheme oph supports num_perm up to {MAX_BINS}, got {num_bins}")
    i = np.arange(num_bins, dtype=np.uint64)[:, None]
    j = np.arange(num_bins, dtype=np.uint64)[None, :]
    key = np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) ^ (i << np.uint64(32)) ^ j
    key ^= key >> np.uint64(30)
    key *= np.uint64(0xBF58476D1CE4E5B9)
    key ^= key >> np.uint64(27)
    key *= np.uint64(0x94D049BB133111EB)
    key ^= key >> np.uint64(31)
    order = np.argsort(key, axis=1, kind="stable").astype(np.int32)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(num_bins, dtype=np.int32)[None, :].repeat(num_bins, 0), axis=1)
    return order, rank


MIX = np.uint32(0x21F0AAAD)  # xorshift 16, multiply, xorshift 15: one multiply (fmix32's two cost 2x the sketch)


def value_hash(hashes: np.ndarray, a: int, b: int) -> np.ndarray:
    """v = mix(a * h + b mod 2^32) of 32-bit shingle hashes (numpy; the kernel computes the same). The
    shingle hashes are XXH32 outputs already; the mix only keeps the bins from being a plain affine map."""
    v = hashes.astype(np.uint32) * np.uint32(a) + np.uint32(b)
    v ^= v >> np.uint32(16)
    v *= MIX
    return v ^ (v >> np.uint32(15))


def densify(sig: np.ndarray, order: np.ndarray) -> None:
    """Fill the empty bins (EMPTY) of each column of `sig` in place from the first non-empty bin of their
    probe sequence (columns with no non-empty bin stay empty): the numpy path of the kernel."""
    filled = sig != EMPTY
    todo = ~filled & filled.any(axis=0)[None, :]
    source = np.full(sig.shape, -1, dtype=np.int64)
    for t in range(order.shape[1]):
        if not todo.any():
            break
        bins, docs = np.nonzero(todo)
        probe = order[bins, t]
        hit = filled[probe, docs]
        source[bins[hit], docs[hit]] = probe[hit]
        todo[bins[hit], docs[hit]] = False
    bins, docs = np.nonzero(source >= 0)
    sig[bins, docs] = sig[source[bins, docs], docs]


def numpy_signatures(hashes: np.ndarray, offsets: np.ndarray, a: int, b: int, order: np.ndarray,
                     out: np.ndarray) -> None:
    """out[:, d] = the densified one-permutation sketch of hashes[offsets[d]:offsets[d + 1]] (numpy path)."""
    num_bins = out.shape[0]
    v = value_hash(hashes, a, b)
    bins = ((v.astype(np.uint64) * np.uint64(num_bins)) >> np.uint64(32)).astype(np.int64)
    docs = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    keep = v != EMPTY
    np.minimum.at(out, (bins[keep], docs[keep]), v[keep])
    densify(out, order)


@compiled()
def window_kernel(numba) -> Callable:
    """The compiled sketch straight from a batch's window hashes (as `hashmin.window_min_kernel` reads
    them), or None without numba: one hash, one bin and one compare per shingle, then the densification."""
    mix = MIX
    BLOCK = 16  # noqa: N806 - documents per block of output

    # uint32 arithmetic throughout (numba widens mixed types to 64 bits), and a branch-free min: the
    # update `if v < buf[k]` is taken about half the time at random and cost 2x in mispredictions.
    @numba.njit(nogil=True, cache=True)
    def oph(every, starts, lengths, short, ngram, a, b, order, rank, out):  # pragma: no cover - compiled
        num_bins, n_docs = out.shape
        k64 = np.uint64(num_bins)
        buf = np.empty(num_bins, dtype=np.uint32)
        full = np.empty(num_bins, dtype=np.int64)
        block = np.empty((num_bins, BLOCK), dtype=np.uint32)  # written to `out` a cache line per slot
        for first in range(0, n_docs, BLOCK):
            last = min(first + BLOCK, n_docs)
            for d in range(first, last):
                for k in range(num_bins):
                    buf[k] = np.uint32(0xFFFFFFFF)
                length = lengths[d]
                lo = starts[d]
                hi = lo if length == 0 else (lo + length - ngram + 1 if length >= ngram else lo + 1)
                for i in range(lo, hi):
                    h = every[i] if length >= ngram else short[d]
                    v = np.uint32(a * h + b)
                    v = np.uint32(v ^ (v >> np.uint32(16)))
                    v = np.uint32(v * mix)
                    v = np.uint32(v ^ (v >> np.uint32(15)))
                    k = (np.uint64(v) * k64) >> np.uint64(32)
                    buf[k] = min(buf[k], v)
                m = 0
                for k in range(num_bins):
                    if buf[k] != np.uint32(0xFFFFFFFF):
                        full[m] = k
                        m += 1
                for k in range(num_bins):
                    value = buf[k]
                    if value == np.uint32(0xFFFFFFFF) and m > 0:
                        if m * m < num_bins:  # few non-empty bins: the one of least rank in k's sequence
                            src = full[0]
                            for j in range(1, m):
                                if rank[k, full[j]] < rank[k, src]:
                                    src = full[j]
                        else:  # walk k's sequence to its first non-empty bin
                            t = 0
                            while buf[order[k, t]] == np.uint32(0xFFFFFFFF):
                                t += 1
                            src = order[k, t]
                        value = buf[src]
                    block[k, d - first] = value
            for k in range(num_bins):
                for d in range(first, last):
                    out[k, d] = block[k, d - first]

    return oph


def parameters(num_bins: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What the sketch needs: (a, b) (one affine32 permutation of `seed`, as 1-element arrays) and the
    probe tables (order, rank); `minhash.permutations(K, seed, "oph")` returns this."""
    from stages.dedup.minhash import permutations

    a, b = permutations(1, seed, "affine32")
    return (a, b, *probe_tables(num_bins, seed))


def window_signatures(every: np.ndarray, starts: np.ndarray, lengths: np.ndarray, short: np.ndarray, ngram: int,
                      params: tuple[np.ndarray, ...], out: np.ndarray) -> None:
    """The compiled sketch of a batch from its window hashes (`shingles.text_windows`) into out (K, docs)."""
    a, b, order, rank = params
    window_kernel()(every, starts, lengths, short, ngram, np.uint32(a[0]), np.uint32(b[0]), order, rank, out)
