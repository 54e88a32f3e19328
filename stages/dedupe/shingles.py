"""Character n-gram shingles of the dedup text, hashed with XXH32 in numpy.

Chinese has no spaces, so shingles are character n-grams of `ngram` code points,
not word tokens. A shingle's hash is XXH32 (seed 0) of its UTF-32-LE bytes. In
that encoding every code point is one 4-byte lane of XXH32, so the hashes of all
windows of a batch are computed with a few numpy passes over one code-point
array, with no Python call per shingle. `shingle_hash` is the same function for a
single shingle: pass it to datasketch as `MinHash(hashfunc=shingle_hash)` to get
the same signatures as `stages.dedupe.minhash`.

A text shorter than `ngram` (but not empty) is one shingle: the whole text, so it
gets a signature of its own. An empty text has no shingles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import xxhash

U32 = np.uint32
P1, P2, P3, P4, P5 = U32(0x9E3779B1), U32(0x85EBCA77), U32(0xC2B2AE3D), U32(0x27D4EB2F), U32(0x165667B1)


def dedup_text(fields: Sequence[str]) -> pl.Expr:
    """The text compared by dedup: each field lower-cased, whitespace runs collapsed
    to one space and trimmed, fields joined with a newline (null counts as empty).
    The text is "" when every field is empty."""
    parts = [
        pl.col(name).fill_null("").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
        for name in fields
    ]
    joined = pl.concat_str(parts, separator="\n")
    return pl.when(joined.str.strip_chars("\n") == "").then(pl.lit("")).otherwise(joined).alias("text")


def shingle_hash(shingle: str | bytes) -> int:
    """XXH32 (seed 0) of one shingle's UTF-32-LE bytes; bytes are taken as already encoded."""
    data = shingle if isinstance(shingle, bytes) else shingle.encode("utf-32-le")
    return xxhash.xxh32_intdigest(data, seed=0)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << U32(r)) | (x >> U32(32 - r))


def xxh32_lanes(lanes: Sequence[np.ndarray]) -> np.ndarray:
    """XXH32 (seed 0) of inputs made of len(lanes) little-endian 32-bit words.

    `lanes[j][i]` is word j of input i; all lanes have the same length. This is
    the reference algorithm (xxhash spec, 16-byte stripes then 4-byte words then
    the avalanche) written as whole-array uint32 arithmetic, which wraps mod 2^32.
    """
    n = len(lanes)
    size = len(lanes[0])
    if n >= 4:
        inits = ((int(P1) + int(P2)) & 0xFFFFFFFF, int(P2), 0, (-int(P1)) & 0xFFFFFFFF)
        accs = [np.full(size, init, dtype=U32) for init in inits]
        for stripe in range(n // 4):
            for k, acc in enumerate(accs):
                acc += lanes[4 * stripe + k] * P2
                acc[:] = _rotl(acc, 13)
                acc *= P1
        h = _rotl(accs[0], 1) + _rotl(accs[1], 7) + _rotl(accs[2], 12) + _rotl(accs[3], 18)
    else:
        h = np.full(size, P5, dtype=U32)
    h += U32(4 * n)
    for j in range(4 * (n // 4), n):
        h += lanes[j] * P3
        h = _rotl(h, 17) * P4
    h ^= h >> U32(15)
    h *= P2
    h ^= h >> U32(13)
    h *= P3
    h ^= h >> U32(16)
    return h


def codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts' code points as one uint32 array, and each text's length."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    flat = np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4").astype(U32, copy=False)
    return flat, lengths


CHUNK = 1 << 16  # windows hashed per numpy pass: the temporaries stay in the CPU cache


def window_hashes(flat: np.ndarray, ngram: int) -> np.ndarray:
    """XXH32 of every window of `ngram` consecutive code points of `flat`."""
    windows = flat.size - ngram + 1
    out = np.empty(max(windows, 0), dtype=U32)
    for lo in range(0, windows, CHUNK):
        hi = min(lo + CHUNK, windows)
        out[lo:hi] = xxh32_lanes([flat[lo + j : hi + j] for j in range(ngram)])
    return out


def shingle_hashes(texts: Sequence[str], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every shingle of every text, in text order (repeats kept).

    Returns (hashes uint32, offsets int64 of len(texts) + 1): text d's shingles
    are hashes[offsets[d]:offsets[d + 1]]. Windows never cross text boundaries.
    """
    flat, lengths = codepoints(texts)
    counts = np.where(lengths >= ngram, lengths - ngram + 1, np.minimum(lengths, 1))
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    ends = np.cumsum(lengths)
    starts = ends - lengths
    every = window_hashes(flat, ngram)
    # A window is valid when it starts in a text and ends in the same text.
    owner_end = np.repeat(ends, lengths)[: every.size]
    hashes = every[np.arange(every.size) + ngram <= owner_end]
    short = np.flatnonzero((lengths > 0) & (lengths < ngram))
    if short.size:
        values = np.empty(short.size, dtype=U32)
        for length in np.unique(lengths[short]):
            pick = lengths[short] == length
            values[pick] = xxh32_lanes([flat[starts[short[pick]] + j] for j in range(int(length))])
        hashes = np.insert(hashes, offsets[short] - np.arange(short.size), values)
    return hashes, offsets


def unique_per_text(hashes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort and de-duplicate each text's hashes: the shingle *sets*, same layout as the input."""
    owner = np.repeat(np.arange(len(offsets) - 1, dtype=np.uint64), np.diff(offsets))
    keys = np.sort((owner << np.uint64(32)) | hashes.astype(np.uint64))
    first = np.ones(keys.size, dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    keys = keys[first]
    values = (keys & np.uint64(0xFFFFFFFF)).astype(U32)
    sizes = np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=len(offsets) - 1)
    new_offsets = np.zeros(len(offsets), dtype=np.int64)
    np.cumsum(sizes, out=new_offsets[1:])
    return values, new_offsets


def shingle_sets(texts: Sequence[str], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique shingle hashes per text, as (values uint32, offsets int64)."""
    return unique_per_text(*shingle_hashes(texts, ngram))
