"""Run a record-wise stage function over the blocks of a Ray Dataset read from parquet files.

`map_files(files, fn, settings, stage)` reads the files with `ray.data.read_parquet` (the
paths must be readable by every worker: shared storage or an object store URI), applies
`fn(frame) -> (kept, rejected, extra_metrics)` to each batch of `block_rows` rows inside
`map_batches(batch_format="pyarrow")`, checks each batch's record contract, and returns the
concatenated kept and rejected frames and the summed metrics. Row order is whatever Ray
produced; the stage's `write_stage_outputs` sorts by id, so files are identical to local.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from stages.engine.batches import add_metrics
from stages.engine.config import EngineParams
from stages.engine.session import BlockFailure, connect, quiet_ray_data, stage_error
from stages.lib.errors import StageError

StageFn = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]]
METRICS = "_engine_metrics"
STATUS = "_engine_kept"


def describe(exc: Exception) -> str:
    """A stage's own errors as they are; anything else with its type."""
    return str(exc) if isinstance(exc, (StageError, ValueError)) else f"{type(exc).__name__}: {exc}"


def run_block(table: pa.Table, fn: StageFn, stage: str) -> pa.Table:
    """One batch: fn on its records, contract checked, kept and rejected rows in one table."""
    files = sorted(set(table.column("path").to_pylist())) if "path" in table.column_names else ["<input>"]
    where = ", ".join(files)
    frame = pl.from_arrow(table.drop_columns([c for c in ("path",) if c in table.column_names]))
    try:
        kept, rejected, extra = fn(frame)
    except Exception as exc:  # noqa: BLE001 - surfaced as one line naming the file
        raise BlockFailure(where, describe(exc)) from None
    if kept.height + rejected.height != frame.height:
        raise BlockFailure(where, f"{stage}: {frame.height} rows in, {kept.height} kept + {rejected.height} "
                                  "rejected out; a record was lost or duplicated")
    out = pl.concat([kept.with_columns(pl.lit(True).alias(STATUS)),
                     rejected.with_columns(pl.lit(False).alias(STATUS))], how="diagonal_relaxed")
    marks = [json.dumps(extra, sort_keys=True)] + [None] * (out.height - 1)
    return out.with_columns(pl.Series(METRICS, marks, dtype=pl.String)).to_arrow()


def parquet_rows(files: list[Path]) -> int:
    """Rows in the files, from their footers (the record contract's rows_in)."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in files)


def map_files(files: list[Path], fn: StageFn, settings: EngineParams,
              stage: str) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(kept, rejected, summed extra metrics) of fn over every record of `files`, on Ray."""
    try:
        ray = connect(settings)
        quiet_ray_data()
        ds = ray.data.read_parquet([str(f) for f in files], include_paths=True)
        ds = ds.map_batches(run_block, fn_kwargs={"fn": fn, "stage": stage}, batch_format="pyarrow",
                            batch_size=settings.ray.block_rows)
        tables = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
    except StageError:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, not a Ray traceback
        raise stage_error(stage, exc) from None
    if not tables:  # no rows at all: the local function on an empty frame gives the right columns
        kept, rejected, extra = fn(pl.read_parquet(files[0]).head(0))
        return kept, rejected, extra
    out = pl.concat([pl.from_arrow(t) for t in tables], how="diagonal_relaxed")
    extra: dict[str, Any] = {}
    for mark in out[METRICS].drop_nulls().to_list():
        extra = add_metrics(extra, json.loads(mark))
    out = out.drop(METRICS)
    kept = out.filter(pl.col(STATUS)).drop(STATUS, "reason", "detail", strict=False)
    rejected = out.filter(~pl.col(STATUS)).drop(STATUS)
    return kept, rejected, extra
