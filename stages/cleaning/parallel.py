"""Run a per-row stage function on slices of a frame in worker processes.

Clean and normalize treat every record on its own, so a frame can be cut into
contiguous slices, each handled by a worker process, and the results joined.
The Python parts (fastText and OpenCC calls, ftfy, callbacks on the few rows a
hint selects) hold the GIL, so processes, not threads, are what use a second
core. Workers are started with "spawn" (polars is multi-threaded, and forking
a multi-threaded process can deadlock). Outputs stay deterministic: the stage
contract sorts rows by id and metrics are sums.

Small inputs (under `min_rows` per worker) run in the calling process: starting
a worker costs about a second of imports.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import polars as pl

R = TypeVar("R")
MIN_ROWS_PER_WORKER = 20_000


def default_workers(requested: int) -> int:
    """`requested`, or for 0 one worker per CPU core, at most 4."""
    if requested < 0:
        raise ValueError(f"--workers must be 0 (automatic) or a positive number, got {requested}")
    return requested or max(1, min(os.cpu_count() or 1, 4))


def slices(frame: pl.DataFrame, parts: int) -> list[pl.DataFrame]:
    size = -(-frame.height // parts)
    return [frame.slice(start, size) for start in range(0, frame.height, size)]


def map_slices(func: Callable[..., R], frame: pl.DataFrame, workers: int, args: tuple[Any, ...] = (),
               min_rows: int = MIN_ROWS_PER_WORKER) -> list[R]:
    """`func(slice, *args)` for each slice, in slice order; `func` must be a module-level function."""
    parts = max(1, min(workers, frame.height // max(min_rows, 1)))
    if parts == 1:
        return [func(frame, *args)]
    pieces = slices(frame, parts)
    with ProcessPoolExecutor(parts, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(func, piece, *args) for piece in pieces]
        return [future.result() for future in futures]


def sum_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Add up per-key counts; keys sorted."""
    total: dict[str, int] = {}
    for one in counts:
        for key, value in one.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))
