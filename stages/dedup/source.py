"""The records dedup reads, as batches in id order that can be read more than once.

The stage makes three passes over its input without holding it: band keys and hashes, then the
texts of the records that are candidates, then the outputs. `ParquetRecords` reads a parquet file a
row group at a time, in batches of at most `READ_ROWS` rows; `FrameRecords` serves a frame already in memory (tests,
`dedup_records`). Both put rows in id order, which is the order of every output file: normalize
writes its records sorted by id, so the file is read as it is; any other input is sorted by id
once into a work file first (in memory: only inputs that do not come from normalize need it).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from stages.lib.errors import StageError
from stages.lib.record import RECORD_SCHEMA

READ_ROWS = 65_536  # rows per batch read from the input file


def wanted(rows: np.ndarray, lo: int, hi: int) -> bool:
    """Some row of `rows` (sorted) is in lo..hi - 1."""
    return bool(np.searchsorted(rows, hi) > np.searchsorted(rows, lo))


def conform_records(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select([pl.col(name).cast(dtype) for name, dtype in RECORD_SCHEMA.items() if name in frame.columns])


def check_ids(ids: pl.Series, where: str) -> bool:
    """True when the ids are strictly increasing (sorted, unique); StageError when some repeat."""
    if ids.null_count():
        raise StageError(f"{where}: a record has no id")
    if ids.len() < 2 or bool((ids.slice(1) > ids.slice(0, ids.len() - 1)).all()):
        return True
    if ids.n_unique() != ids.len():
        raise StageError("dedup: input ids are not unique; the kept id of a cluster would be ambiguous")
    return False


class FrameRecords:
    """Records already in memory, sorted by id."""

    def __init__(self, frame: pl.DataFrame, batch_rows: int | None = None) -> None:
        if not check_ids(frame["id"], "records"):
            frame = frame.sort("id")
        self.frame, self.batch_rows = conform_records(frame), batch_rows or READ_ROWS
        self.ids = self.frame["id"]
        self.read_seconds = 0.0

    def batches(self, columns: Sequence[str] | None = None,
                rows: np.ndarray | None = None) -> Iterator[tuple[int, pl.DataFrame]]:
        frame = self.frame if columns is None else self.frame.select(columns)
        for lo in range(0, max(frame.height, 1), self.batch_rows):
            if rows is None or wanted(rows, lo, lo + self.batch_rows):
                yield lo, frame.slice(lo, self.batch_rows)


class ParquetRecords:
    """A parquet file of records, read in batches of `batch_rows` (sorted by id into `work` first if
    it is not in id order)."""

    def __init__(self, path: Path, work: Path, batch_rows: int | None = None) -> None:
        import pyarrow.parquet as pq

        if not path.exists():
            raise StageError(f"{path}: input not found (run the normalize stage first)")
        started = time.perf_counter()
        names = pq.read_schema(path).names
        missing = [name for name in RECORD_SCHEMA.names() if name not in names]
        if missing:
            raise StageError(f"{path}: missing record columns {missing}")
        ids = pl.scan_parquet(path).select(pl.col("id").cast(pl.String)).collect().to_series()
        self.source = str(path)  # named in errors, also when the rows are read from a sorted copy
        if not check_ids(ids, str(path)):
            sorted_path = work / "records-by-id.parquet"
            pl.scan_parquet(path).select(RECORD_SCHEMA.names()).sort("id").sink_parquet(sorted_path)
            path, ids = sorted_path, ids.sort()
        self.path, self.ids, self.batch_rows = path, ids.rename("id"), batch_rows or READ_ROWS
        self.read_seconds = time.perf_counter() - started

    def batches(self, columns: Sequence[str] | None = None,
                rows: np.ndarray | None = None) -> Iterator[tuple[int, pl.DataFrame]]:
        """(row offset, frame) for each batch; with `rows` (sorted), only the row groups holding one of them
        are read. The next row group is read in a background thread while the caller works on this one;
        `read_seconds` adds up the time the caller waited for input."""
        names = list(columns) if columns is not None else RECORD_SCHEMA.names()
        frames = prefetched(self._frames(names, rows))
        some = False
        while True:
            started = time.perf_counter()
            found = next(frames, None)
            self.read_seconds += time.perf_counter() - started
            if found is None:
                break
            some = True
            yield found
        if not some and rows is None:
            yield 0, pl.DataFrame(schema={name: RECORD_SCHEMA[name] for name in names})

    def _frames(self, names: list[str], rows: np.ndarray | None) -> Iterator[tuple[int, pl.DataFrame]]:
        # One row group at a time: `iter_batches` with pyarrow's default pre-buffering kept every row
        # group it had read (RSS grew by the file's size: 1.6 GB after reading 1 GB of parquet).
        for group in self.groups():
            if rows is not None and not wanted(rows, group.first, group.first + group.rows):
                continue
            frame = group.read(names)
            for lo in range(0, frame.height, self.batch_rows):
                yield group.first + lo, frame.slice(lo, self.batch_rows)
            del frame

    def groups(self) -> list[RowGroup]:
        """The file's row groups, each with its first row: the units of work of the Ray engine's tasks."""
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as file:
            sizes = [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)]
        firsts = [0, *itertools.accumulate(sizes)][:-1]
        return [RowGroup(str(self.path), g, first, size, self.source) for g, (first, size) in enumerate(zip(firsts, sizes))]


@dataclass(frozen=True)
class RowGroup:
    """Row group `group` of a records file (on storage every worker reads): rows first..first + rows - 1
    in id order; `source` is the stage's input file, named in errors."""

    path: str
    group: int
    first: int
    rows: int
    source: str

    def read(self, columns: Sequence[str]) -> pl.DataFrame:
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path) as file:
            return conform_records(pl.from_arrow(file.read_row_group(self.group, columns=list(columns))))


def prefetched(frames: Iterator[Any]) -> Iterator[Any]:
    """The items of `frames`, produced one ahead in a background thread; its exception is raised here.
    Closing this generator early stops the thread."""
    items: queue.Queue = queue.Queue(maxsize=1)
    stop, done = threading.Event(), object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in frames:
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer
            put(exc)
        put(done)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
