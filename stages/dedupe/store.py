"""Per-record arrays spilled to a file, and the Jaccard similarity of pairs read back a chunk at a time.

Verification needs, for every record in a candidate pair, its sorted shingle-hash set (or its
signature with verify=estimate; its answer's set for the answer check). Those are written to a
file in row order while the input is read (`SpilledSets.append`), then pairs are verified in
chunks of `CHUNK_PAIRS`: each chunk maps the file, copies the arrays of just its records into a
compact CSR block and unmaps it, so memory holds one chunk, not every set (about 2 KB per record
of 500 characters).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from stages.dedupe import hashmin
from stages.dedupe.minhash import estimated_jaccard
from stages.dedupe.shingles import ragged_arange
from stages.dedupe.verify import exact_jaccard

CHUNK_PAIRS = 1 << 15


class SpilledSets:
    """uint32 arrays of records, in the order appended; `offsets` after `close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._sizes: list[np.ndarray] = []
        self.offsets = np.zeros(1, dtype=np.int64)

    def append(self, values: np.ndarray, offsets: np.ndarray) -> None:
        values.astype(np.uint32, copy=False).tofile(self._handle)
        self._sizes.append(np.diff(offsets))

    def close(self) -> SpilledSets:
        self._handle.close()
        sizes = np.concatenate(self._sizes) if self._sizes else np.zeros(0, dtype=np.int64)
        self.offsets = np.zeros(sizes.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.offsets[1:])
        self._sizes = []
        return self

    def sizes(self, docs: np.ndarray) -> np.ndarray:
        return self.offsets[docs + 1] - self.offsets[docs]

    def gather(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, offsets) of `docs` (positions in append order), as a compact CSR block."""
        sizes = self.sizes(docs)
        offsets = np.zeros(docs.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        values = np.empty(int(offsets[-1]), dtype=np.uint32)
        if values.size:
            mapped = np.memmap(self.path, dtype=np.uint32, mode="r")
            if hashmin.available():
                hashmin.gather_ranges(np.asarray(mapped), self.offsets[docs], sizes, values)
            else:
                values[:] = mapped[np.repeat(self.offsets[docs], sizes) + ragged_arange(sizes)]
            del mapped  # unmap: the pages leave this process
        return values, offsets


def chunked(left: np.ndarray, right: np.ndarray, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """fn over chunks of CHUNK_PAIRS pairs, concatenated."""
    out = [fn(left[lo : lo + CHUNK_PAIRS], right[lo : lo + CHUNK_PAIRS]) for lo in range(0, left.size, CHUNK_PAIRS)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float64)


def pair_jaccard(store: SpilledSets, left: np.ndarray, right: np.ndarray, signature_length: int | None) -> np.ndarray:
    """Jaccard of each pair of positions: exact over sorted sets, or the share of equal signature values
    when the store holds signatures of `signature_length` values."""

    def chunk(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        docs = np.unique(np.concatenate([a, b]))
        values, offsets = store.gather(docs)
        la, lb = np.searchsorted(docs, a), np.searchsorted(docs, b)
        if signature_length is not None:
            return estimated_jaccard(values.reshape(docs.size, signature_length).T, la, lb)
        return exact_jaccard(values, offsets, la, lb)

    return chunked(left, right, chunk)
