"""Per-record arrays spilled to a file, and the Jaccard similarity of pairs read back a chunk at a time.

Verification needs, for every record in a candidate pair, its sorted shingle-hash set (or its
signature with verify=estimate; its answer's set for the answer check). Those are written to a
file in row order while the input is read (`SpilledSets.append`), then pairs are verified in
chunks of `CHUNK_PAIRS`: each chunk reads the arrays of just its records into a compact CSR block,
so memory holds one chunk, not every set (about 2 KB per record
of 500 characters). With `engine: ray` every spill task writes its own file; `PartedSets` reads
them as one store, and the chunks are verified by Ray tasks (`stored_pair_jaccard(..., run=...)`).
`StoredSets` is how the near-duplicate decision (`decision.near_pairs`) reads a store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages.dedup import hashmin, setkernels
from stages.dedup.minhash import estimated_jaccard
from stages.dedup.shingles import ragged_arange
from stages.dedup.verify import exact_jaccard

CHUNK_PAIRS = 1 << 16  # pairs verified at once (their records' sets: up to ~250 MB)
GAP = 1 << 14  # values (64 KB) between two records' sets that are read rather than skipped


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
        self._handle = None  # a closed store is picklable: Ray tasks read it
        sizes = np.concatenate(self._sizes) if self._sizes else np.zeros(0, dtype=np.int64)
        self.offsets = np.zeros(sizes.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.offsets[1:])
        self._sizes = []
        return self

    def sizes(self, docs: np.ndarray) -> np.ndarray:
        return self.offsets[docs + 1] - self.offsets[docs]

    def gather(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, offsets) of `docs` (sorted positions in append order), as a compact CSR block.

        The file is read with `preadv` into one buffer, neighbouring records (gaps up to `GAP`
        values) in one call. Not with a memory map: the kernel maps whole page-cache folios around
        each touched page, so a few thousand scattered reads made most of the file resident in this
        process (900 MB of a 1 GB file for 4,000 touches)."""
        sizes = self.sizes(docs)
        offsets = np.zeros(docs.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        values = np.empty(int(offsets[-1]), dtype=np.uint32)
        if values.size == 0:
            return values, offsets
        starts, ends = self.offsets[docs], self.offsets[docs] + sizes
        new_run = np.ones(docs.size, dtype=bool)
        new_run[1:] = starts[1:] - ends[:-1] > GAP
        first = np.flatnonzero(new_run)
        run_lo, run_hi = starts[first], np.maximum.reduceat(ends, first)
        run_at = np.zeros(first.size + 1, dtype=np.int64)
        np.cumsum(run_hi - run_lo, out=run_at[1:])
        buffer = np.empty(int(run_at[-1]), dtype=np.uint32)
        with open(self.path, "rb") as handle:
            fd = handle.fileno()
            for lo, at, length in zip(run_lo.tolist(), run_at[:-1].tolist(), (run_hi - run_lo).tolist()):
                view = memoryview(buffer[at : at + length]).cast("B")
                if os.preadv(fd, [view], lo * 4) != length * 4:
                    raise OSError(f"{self.path}: short read")
        run = np.cumsum(new_run) - 1
        in_buffer = run_at[run] + (starts - run_lo[run])
        if hashmin.available():
            setkernels.gather_ranges(buffer, in_buffer, sizes, values)
        else:
            values[:] = buffer[np.repeat(in_buffer, sizes) + ragged_arange(sizes)]
        return values, offsets


class PartedSets:
    """Several closed `SpilledSets` read as one store: position i of the whole is in the part holding it
    (parts in order, as the spill tasks wrote their row groups)."""

    def __init__(self, parts: list[SpilledSets]) -> None:
        self.parts = parts
        counts = np.array([part.offsets.size - 1 for part in parts], dtype=np.int64)
        self.first = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.first[1:])

    def _split(self, docs: np.ndarray) -> list[tuple[SpilledSets, np.ndarray]]:
        cuts = np.searchsorted(docs, self.first)
        return [(part, docs[cuts[i] : cuts[i + 1]] - self.first[i]) for i, part in enumerate(self.parts)
                if cuts[i + 1] > cuts[i]]

    def sizes(self, docs: np.ndarray) -> np.ndarray:
        """Set sizes of `docs` (positions in any order)."""
        which = np.searchsorted(self.first, docs, side="right") - 1
        out = np.zeros(docs.size, dtype=np.int64)
        for i, part in enumerate(self.parts):
            mine = which == i
            if mine.any():
                out[mine] = part.sizes(docs[mine] - self.first[i])
        return out

    def gather(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, offsets) of `docs` (sorted positions), as `SpilledSets.gather`."""
        blocks = [part.gather(local) for part, local in self._split(docs)]
        sizes = np.concatenate([np.diff(offsets) for _, offsets in blocks]) if blocks else np.zeros(0, np.int64)
        offsets = np.zeros(sizes.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        values = np.concatenate([v for v, _ in blocks]) if blocks else np.zeros(0, dtype=np.uint32)
        return values, offsets


class RowStore:
    """Closed `SpilledSets` of several sorted runs of rows (the records read by the scan, then others spilled
    when a pair needs them), read as one store of the sets of `rows` (all their rows, sorted):
    position i holds row rows[i]."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, SpilledSets]] = []
        self.rows = np.zeros(0, dtype=np.int64)

    def add(self, rows: np.ndarray, sets: SpilledSets) -> None:
        if rows.size:
            self.parts.append((rows, sets))
            self.rows = np.sort(np.concatenate([part for part, _ in self.parts]))

    def missing(self, rows: np.ndarray) -> np.ndarray:
        """The rows of `rows` (sorted, unique) that no part holds."""
        return rows[~np.isin(rows, self.rows)]

    def _locate(self, positions: np.ndarray) -> list[tuple[SpilledSets, np.ndarray, np.ndarray]]:
        rows = self.rows[positions]
        found = []
        for part_rows, sets in self.parts:
            mine = np.flatnonzero(np.isin(rows, part_rows))
            if mine.size:
                found.append((sets, mine, np.searchsorted(part_rows, rows[mine])))
        return found

    def sizes(self, positions: np.ndarray) -> np.ndarray:
        out = np.zeros(positions.size, dtype=np.int64)
        for sets, mine, local in self._locate(positions):
            out[mine] = sets.sizes(local)
        return out

    def gather(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, offsets) of `positions` (sorted), as `SpilledSets.gather`."""
        blocks = [(mine, *sets.gather(local)) for sets, mine, local in self._locate(positions)]
        sizes = np.zeros(positions.size, dtype=np.int64)
        for mine, _, offsets in blocks:
            sizes[mine] = np.diff(offsets)
        offsets = np.zeros(positions.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        values = np.empty(int(offsets[-1]), dtype=np.uint32)
        for mine, part_values, part_offsets in blocks:
            values[np.repeat(offsets[mine], sizes[mine]) + ragged_arange(sizes[mine])] = part_values
        return values, offsets


Store = SpilledSets | PartedSets | RowStore
Runner = Callable[[Callable, list[tuple]], list[np.ndarray]]  # runs fn(*args) for each args: here or on Ray


def run_here(fn: Callable, calls: list[tuple]) -> list[np.ndarray]:
    return [fn(*args) for args in calls]


def chunk_jaccard(store: Store, signature_length: int | None, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaccard of the pairs (a, b) of one chunk, from the arrays of just their records."""
    docs = np.unique(np.concatenate([a, b]))
    values, offsets = store.gather(docs)
    la, lb = np.searchsorted(docs, a), np.searchsorted(docs, b)
    if signature_length is not None:
        return estimated_jaccard(values.reshape(docs.size, signature_length).T, la, lb)
    return exact_jaccard(values, offsets, la, lb)


def stored_pair_jaccard(store: Store, left: np.ndarray, right: np.ndarray, signature_length: int | None,
                        run: Runner = run_here) -> np.ndarray:
    """Jaccard of each pair of positions: exact over sorted sets, or the share of equal signature values
    when the store holds signatures of `signature_length` values. Pairs go in chunks of CHUNK_PAIRS in
    order of `left` (one side of a chunk is one stretch of the file, read in few calls); `run` runs the
    chunks (one after another here; as Ray tasks with engine: ray); results come in the pairs' order."""
    order = np.argsort(left, kind="stable")
    picks = [order[lo : lo + CHUNK_PAIRS] for lo in range(0, left.size, CHUNK_PAIRS)]
    out = np.zeros(left.size, dtype=np.float64)
    for pick, found in zip(picks, run(chunk_jaccard, [(store, signature_length, left[p], right[p]) for p in picks])):
        out[pick] = found
    return out


@dataclass(frozen=True)
class StoredSets:
    """`decision.PairSets` of the records compared (numbered in priority order: record i is row reps[i])
    from a store holding the sets of `rows` (sorted) in row order: exact sets, or signatures of
    `signature_length` values; `run` runs the chunks of pairs (here, or on Ray)."""

    store: Store
    rows: np.ndarray
    reps: np.ndarray
    signature_length: int | None = None
    run: Runner = run_here

    def position(self, docs: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.rows, self.reps[docs])

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return stored_pair_jaccard(self.store, self.position(a), self.position(b), self.signature_length, self.run)

    def empty(self, docs: np.ndarray) -> np.ndarray:
        return self.store.sizes(self.position(docs)) == 0
