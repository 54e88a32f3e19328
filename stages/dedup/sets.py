"""Shingle *sets*: each text's shingle hashes sorted and de-duplicated, what verification intersects.

Texts are sorted a block at a time as rows of a padded matrix (numpy's row sort); filling the rows,
dropping repeats and placing the sets are compiled loops (`setkernels`) when numba is there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from stages.dedup import hashmin, setkernels
from stages.dedup.shingles import MAX32, U32, ragged_arange, shingle_hashes

ROW_BLOCK = 1 << 20  # cells of the padded (texts x longest text) matrix sorted at once


def unique_per_text(hashes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort and de-duplicate each text's hashes: the shingle *sets*, same layout as the input.

    Texts are taken in order of length, a block at a time, as rows of a padded
    matrix sorted along its rows (many short sorts are much faster than one
    global sort); the first `size` cells of a sorted row are the text's hashes.
    Filling the rows, dropping repeats and placing the sets are compiled loops when
    numba is there (the numpy forms below build int64 index arrays of every hash).
    """
    sizes = np.diff(offsets)
    order = np.argsort(sizes, kind="stable")
    widths = np.maximum(sizes[order], 1)
    unique_sizes = np.zeros_like(sizes)
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    lo = 0
    while lo < order.size:
        ends = np.arange(lo + 1, min(lo + max(ROW_BLOCK // int(widths[lo]), 1), order.size) + 1)
        cells = (ends - lo) * widths[ends - 1]  # rows x width of the block lo:end, increasing in end
        hi = int(ends[max(int(np.searchsorted(cells, ROW_BLOCK, side="right")) - 1, 0)])
        docs = order[lo:hi]
        matrix = _sorted_rows(hashes, offsets, docs, sizes[docs], int(widths[hi - 1]))
        kept, unique_sizes[docs] = _unique_rows(matrix, sizes[docs])
        blocks.append((docs, kept))
        lo = hi
    new_offsets = np.zeros(len(offsets), dtype=np.int64)
    np.cumsum(unique_sizes, out=new_offsets[1:])
    values = np.empty(int(new_offsets[-1]), dtype=U32)
    for docs, kept in blocks:
        if hashmin.available():
            setkernels.gather_ranges(kept, np.cumsum(unique_sizes[docs]) - unique_sizes[docs], unique_sizes[docs],
                                  values, new_offsets[docs])
        else:
            values[np.repeat(new_offsets[docs], unique_sizes[docs]) + ragged_arange(unique_sizes[docs])] = kept
    return values, new_offsets


def _sorted_rows(hashes: np.ndarray, offsets: np.ndarray, docs: np.ndarray, sizes: np.ndarray,
                 width: int) -> np.ndarray:
    """The hashes of `docs`, one row each, padded with MAX32 to `width` and sorted along the rows."""
    matrix = np.full((docs.size, width), MAX32, dtype=U32)
    if hashmin.available():
        setkernels.fill_rows_kernel()(hashes, offsets, docs, matrix)
    else:
        cols = ragged_arange(sizes)
        matrix.ravel()[np.repeat(np.arange(docs.size) * width, sizes) + cols] = hashes[np.repeat(offsets[docs], sizes) + cols]
    matrix.sort(axis=1)
    return matrix


def _unique_rows(matrix: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct values of each sorted row's first `size` cells, one row after another; their counts)."""
    if hashmin.available():
        kept, counts = np.empty(int(sizes.sum()), dtype=U32), np.empty(sizes.size, dtype=np.int64)
        return kept[: setkernels.unique_rows_kernel()(matrix, sizes, kept, counts)], counts
    keep = np.arange(matrix.shape[1])[None, :] < sizes[:, None]
    keep[:, 1:] &= matrix[:, 1:] != matrix[:, :-1]
    return matrix[keep], np.count_nonzero(keep, axis=1)


def shingle_sets(texts: Sequence[str] | pl.Series, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique shingle hashes per text, as (values uint32, offsets int64)."""
    return unique_per_text(*shingle_hashes(texts, ngram))
