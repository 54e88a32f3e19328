"""Run a record-wise stage function over a frame in batches, in this process, with progress.

`map_batches(frame, fn, desc)` applies `fn(batch) -> (kept, rejected, extra_metrics)` to each slice of
`BATCH_ROWS` rows in order and returns the concatenated kept and rejected frames and the summed metrics
(`add_metrics`), as `stages.engine.frames.map_files` does over Ray's blocks: the functions are
record-wise and the stages sort their outputs by id, so the files are the same however the records are
cut. The progress tracker (`stages.lib.progress`) advances once per batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from stages.lib.progress import tracker

BATCH_ROWS = 20_000  # a few seconds of clean or normalize per batch on one busy core
StageFn = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]]


def add_metrics(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Sum nested count dictionaries (`transforms`, `pii`, `opencc_records`)."""
    for key, value in part.items():
        if isinstance(value, dict):
            total[key] = add_metrics(dict(total.get(key, {})), value)
        else:
            total[key] = total.get(key, 0) + value
    return total


def map_batches(frame: pl.DataFrame, fn: StageFn, desc: str) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(kept, rejected, summed extra metrics) of `fn` over `frame`, `BATCH_ROWS` records at a time."""
    kept, rejected, extra = [], [], {}
    with tracker(desc, total=frame.height, unit="record") as shown:
        for batch in list(frame.iter_slices(BATCH_ROWS)) or [frame]:
            batch_kept, batch_rejected, batch_extra = fn(batch)
            kept.append(batch_kept)
            rejected.append(batch_rejected)
            extra = add_metrics(extra, batch_extra)
            shown.update(batch.height)
    return pl.concat(kept, how="vertical_relaxed"), pl.concat(rejected, how="vertical_relaxed"), extra
