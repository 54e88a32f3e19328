"""Character n-gram shingles of the dedup text, hashed with XXH32 (numpy, or compiled loops with numba).

Chinese has no spaces, so shingles are character n-grams of `ngram` code points,
not word tokens. A shingle's hash is XXH32 (seed 0) of its UTF-32-LE bytes. In
that encoding every code point is one 4-byte lane of XXH32, so the hashes of all
windows of a batch are computed with a few numpy passes over one code-point
array, with no Python call per shingle (with numba, `textkernels` computes the same values in
compiled loops). `shingle_hash` is the same function for a
single shingle: pass it to datasketch as `MinHash(hashfunc=shingle_hash)` to get
the same signatures as `stages.dedup.minhash`.

Shingles are case-insensitive: code points are lower-cased with a table of
Python's single-character lower-case mappings in the Basic Multilingual Plane
(`lower_text` is the same mapping for a Python string). A text shorter than
`ngram` (but not empty) is one shingle: the whole text, so it gets a signature of
its own. An empty text has no shingles.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import polars as pl
import xxhash

from stages.dedup import hashmin, setkernels, textkernels

U32 = np.uint32
MAX32 = U32(0xFFFFFFFF)
CHUNK = 1 << 16  # elements per numpy pass where temporaries should stay in the CPU cache
P1, P2, P3, P4, P5 = U32(0x9E3779B1), U32(0x85EBCA77), U32(0xC2B2AE3D), U32(0x27D4EB2F), U32(0x165667B1)


def dedup_text(fields: Sequence[str]) -> pl.Expr:
    """The text compared by dedup: in each field whitespace runs become one space and
    the ends are trimmed; fields are joined with a newline (null counts as empty).
    The text is "" when every field is empty or blank. (Letter case is folded later,
    on code points: polars' to_lowercase costs more than all of MinHash.)"""
    parts = [pl.col(name).fill_null("").str.replace_all(r"\s+", " ").str.strip_chars() for name in fields]
    blank = pl.all_horizontal([pl.col(name).fill_null("").str.strip_chars() == "" for name in fields])
    return pl.when(blank).then(pl.lit("")).otherwise(pl.concat_str(parts, separator="\n")).alias("text")


@functools.cache
def lower_map() -> dict[int, int]:
    """Code point -> lower-case code point, for BMP characters whose str.lower() is one other character."""
    codes = [c for c in range(1, 0x10000) if not 0xD800 <= c < 0xE000]
    # One str.lower() call over all characters, each between NULs (so no context rule applies).
    lowered = "\0".join(map(chr, codes)).lower().split("\0")
    return {c: ord(low) for c, low in zip(codes, lowered) if len(low) == 1 and ord(low) != c}


@functools.cache
def _lower_table() -> np.ndarray:
    table = np.arange(0x10000, dtype=U32)
    mapping = lower_map()
    table[np.fromiter(mapping.keys(), dtype=np.int64)] = np.fromiter(mapping.values(), dtype=U32)
    return table


def lower_text(text: str) -> str:
    """The case folding applied to code points before shingling, for one Python string."""
    return text.translate(lower_map())


def shingle_hash(shingle: str | bytes) -> int:
    """XXH32 (seed 0) of one shingle's UTF-32-LE bytes; bytes are taken as already encoded.
    (Shingles are taken from `lower_text(text)`.)"""
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


def arrow_codepoints(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """`codepoints` of a polars string Series, decoded from its Arrow buffers by the compiled kernel
    (no Python string per text: converting to Python strings and re-encoding them held the GIL for
    60% of a batch's sketch time, so the batch threads could not overlap)."""
    import pyarrow as pa

    array = texts.to_arrow()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    lengths = np.zeros(len(array), dtype=np.int64)
    if len(array) == 0:
        return np.zeros(0, dtype=U32), lengths
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, dtype=np.uint8)
    flat = np.empty(int(offsets[-1] - offsets[0]), dtype=U32)  # a code point takes at least one byte
    return flat[: textkernels.utf8_kernel()(data, offsets, _lower_table(), flat, lengths)], lengths


def codepoints(texts: Sequence[str] | pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """All texts' lower-cased code points as one uint32 array, and each text's length (a null is empty)."""
    if isinstance(texts, pl.Series):
        if hashmin.available():
            return arrow_codepoints(texts.fill_null(""))
        texts = texts.fill_null("").to_list()
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    flat = np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4").astype(U32, copy=False)
    lowered = np.empty_like(flat)
    table = _lower_table()
    if hashmin.available():
        textkernels.lower_kernel()(flat, table, lowered)  # compiled, same values
        return lowered, lengths
    for lo in range(0, flat.size, CHUNK):  # chunks: take() converts its indices to int64
        np.take(table, flat[lo : lo + CHUNK], out=lowered[lo : lo + CHUNK], mode="clip")
    astral = flat > U32(0xFFFF)
    lowered[astral] = flat[astral]
    return lowered, lengths


def window_hashes(flat: np.ndarray, ngram: int) -> np.ndarray:
    """XXH32 of every window of `ngram` consecutive code points of `flat`."""
    windows = flat.size - ngram + 1
    out = np.empty(max(windows, 0), dtype=U32)
    if windows > 0 and hashmin.available():
        textkernels.window_kernel(ngram)(flat, ngram, out)  # compiled, same values
        return out
    for lo in range(0, windows, CHUNK):
        hi = min(lo + CHUNK, windows)
        out[lo:hi] = xxh32_lanes([flat[lo + j : hi + j] for j in range(ngram)])
    return out


def shingle_hashes(texts: Sequence[str] | pl.Series, ngram: int) -> tuple[np.ndarray, np.ndarray]:
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
    if hashmin.available():  # copy each text's windows in place (the numpy masking below, compiled)
        long, short = lengths >= ngram, (lengths > 0) & (lengths < ngram)
        hashes = np.empty(int(offsets[-1]), dtype=U32)
        setkernels.gather_ranges(every, starts[long], counts[long], hashes, offsets[:-1][long])
        hashes[offsets[:-1][short]] = short_hashes(flat, starts, lengths, ngram)[short]
        return hashes, offsets
    # Drop the windows that run past the end of their text: the last ngram - 1 starts of each text.
    valid = np.ones(every.size, dtype=bool)
    tail = ends[:, None] - np.arange(1, ngram, dtype=np.int64)[None, :]
    valid[tail[(tail >= starts[:, None]) & (tail < every.size)]] = False
    hashes = every[valid]
    short = np.flatnonzero((lengths > 0) & (lengths < ngram))
    if short.size:
        hashes = np.insert(hashes, offsets[short] - np.arange(short.size), short_hashes(flat, starts, lengths, ngram)[short])
    return hashes, offsets


def short_hashes(flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray, ngram: int) -> np.ndarray:
    """Per text, the hash of the whole text when it is shorter than `ngram` (its one shingle); 0 otherwise."""
    out = np.zeros(lengths.size, dtype=U32)
    short = np.flatnonzero((lengths > 0) & (lengths < ngram))
    for length in np.unique(lengths[short]):
        pick = short[lengths[short] == length]
        out[pick] = xxh32_lanes([flat[starts[pick] + j] for j in range(int(length))])
    return out


def text_windows(texts: Sequence[str] | pl.Series, ngram: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What `hashmin.window_min_kernel` reads: XXH32 of every window of the batch's code points, each
    text's start and length in code points, and the whole-text hash of texts shorter than `ngram`."""
    flat, lengths = codepoints(texts)
    starts = np.cumsum(lengths) - lengths
    return window_hashes(flat, ngram), starts, lengths, short_hashes(flat, starts, lengths, ngram)


def ragged_arange(counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(c) for c in counts, without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0 or counts.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)
