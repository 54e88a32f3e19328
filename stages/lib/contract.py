"""The stage contract: kept records, rejected records with reasons, metrics.

Every stage ends by calling `write_stage_outputs`, which
- checks the invariant rows_in == rows_kept + sum(rows_dropped),
- sorts both frames by `id` (then reason and detail) so output is deterministic,
- writes `<out_dir>/records.parquet`, `<out_dir>/rejected.parquet` (and the
  stage's other files, via `extra_files`) into a fresh folder that replaces
  `out_dir` by one rename (stages/lib/io.py `output_dir`), so the folder holds
  one run's complete set or nothing new;
- writes the stage's reports (`reports`, into a fresh `reports_dir`), which is
  swapped in right after the data folder (`output_dirs`): a run that fails
  leaves the old data with the old reports, never new reports beside old data;
- writes the metrics JSON last. The old metrics file is removed just before the
  folder is swapped in, so a metrics file, when present, always describes the
  folder next to it: a run killed before the swap leaves the old folder (and
  its metrics, or none), one killed after it the new folder without metrics.
  Wall time goes to a timings file (`stages/lib/timings.py`), not the metrics.

A stage that stops on a verdict about its new data (a failed expectation suite) calls
`write_failure_reports`: the old set and its metrics are removed, then the reports that explain
the failure are written, so they never sit beside data they do not describe.

A stage whose records do not fit in memory calls `write_stage_outputs_streaming` instead: it
takes (kept, rejected) batches that arrive in id order and writes the same files (same parquet
settings and row groups, the same checks, the same folder swap and metrics) holding one row group
at a time. Its files are byte-identical to `write_stage_outputs`'s when a file has at most one row
group (131,072 rows). Beyond that the data, row groups and encodings are the same, but polars splits
the data pages of list and struct columns by the size of the in-memory buffer a row group is sliced
from, which for a whole frame is the whole column, so those page boundaries (not the values) can
differ: they did for a test frame with non-empty lists, not for the 1M-record dedup benchmark. The
streaming files do not depend on how the batches were cut (tests/lib/test_contract.py).

Filters follow datatrove's shape: a `Filter` names a reason code and a boolean
polars expression that is true for rows to drop. `split_by_filters` applies a
list of them in order (the first matching reason wins) in one vectorised pass,
so counting and rejected-output writing live here and nowhere else.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.errors import StageError
from stages.lib.io import (PARQUET_OPTIONS, atomic_path, output_dir, output_dirs, refuse_unsafe, remove_stale_temps,
                           write_json, write_parquet)
from stages.lib.record import RECORD_SCHEMA, REJECTED_SCHEMA
from stages.lib.timings import write_timings


@dataclass(frozen=True)
class Filter:
    """Drop rows where `drop_when` is true, with `reason` and a `detail` text.

    `drop_when` is evaluated on the whole frame (it may use window expressions); `detail` only on the
    dropped rows, so it must be row-wise (column values, literals).
    """

    reason: str
    drop_when: pl.Expr
    detail: pl.Expr = field(default_factory=lambda: pl.lit(""))


def split_by_filters(frame: pl.DataFrame, filters: list[Filter]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (kept, rejected); each rejected row carries the first matching reason."""
    if not filters or frame.is_empty():
        return frame, frame.head(0).with_columns(
            pl.lit(None, pl.String).alias("reason"), pl.lit(None, pl.String).alias("detail")
        )
    which: pl.Expr = pl.lit(None, dtype=pl.Int32)
    for index, flt in reversed(list(enumerate(filters))):
        which = pl.when(flt.drop_when.fill_null(False)).then(pl.lit(index, dtype=pl.Int32)).otherwise(which)
    tagged = frame.with_columns(which.alias("_filter"))
    kept = tagged.filter(pl.col("_filter").is_null()).drop("_filter")
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    detail: pl.Expr = pl.lit(None, dtype=pl.String)
    for index, flt in enumerate(filters):
        chosen = pl.col("_filter") == index
        reason = pl.when(chosen).then(pl.lit(flt.reason)).otherwise(reason)
        detail = pl.when(chosen).then(flt.detail.cast(pl.String)).otherwise(detail)
    rejected = tagged.filter(pl.col("_filter").is_not_null())
    rejected = rejected.with_columns(reason.alias("reason"), detail.alias("detail")).drop("_filter")
    return kept, rejected


def rows_dropped(rejected: pl.DataFrame) -> dict[str, int]:
    if rejected.is_empty():
        return {}
    counts = rejected.group_by("reason").len().sort("reason")
    return {row["reason"]: int(row["len"]) for row in counts.iter_rows(named=True)}


def check_invariant(stage: str, rows_in: int, rows_kept: int, dropped: dict[str, int]) -> None:
    total = rows_kept + sum(dropped.values())
    if rows_in != total:
        raise StageError(
            f"{stage}: rows_in ({rows_in}) != rows_kept ({rows_kept}) + rows_dropped ({total - rows_kept}); "
            "a record was lost or duplicated"
        )


def sort_for_output(frame: pl.DataFrame, *, rejected: bool) -> pl.DataFrame:
    keys = ["id", "reason", "detail"] if rejected else ["id"]
    return frame.sort(keys, nulls_last=True, maintain_order=True)


def conform(frame: pl.DataFrame, schema: pl.Schema, extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """Select the contract columns in schema order (plus stage-specific `extra` columns)."""
    missing = [name for name in schema.names() if name not in frame.columns]
    if missing:
        raise StageError(f"internal: frame lacks contract columns {missing}")
    return frame.select(
        *[pl.col(name).cast(dtype) for name, dtype in schema.items()],
        *[pl.col(name) for name in extra],
    )


def write_stage_outputs(
    stage: str,
    out_dir: str | Path,
    metrics_path: str | Path,
    *,
    kept: pl.DataFrame,
    rejected: pl.DataFrame,
    rows_in: int,
    started: float,
    extra_columns: tuple[str, ...] = (),
    extra_metrics: dict[str, Any] | None = None,
    extra_files: Callable[[Path], None] | None = None,
    reports_dir: str | Path | None = None,
    reports: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """Check the invariant, then write records, rejected rows, reports and metrics atomically.

    `extra_files(folder)` writes the stage's other output files into the fresh folder, `reports(folder)`
    its reports into a fresh folder that replaces `reports_dir` right after the data folder.
    """
    kept = sort_for_output(conform(kept, RECORD_SCHEMA, extra_columns), rejected=False)
    # a stage that rejects nothing (or rejects before computing a column) gets null extra columns
    rejected = rejected.with_columns(pl.lit(None, kept.schema[c]).alias(c) for c in extra_columns
                                     if c not in rejected.columns)
    rejected = sort_for_output(conform(rejected, REJECTED_SCHEMA, extra_columns), rejected=True)
    dropped = rows_dropped(rejected)
    check_invariant(stage, rows_in, kept.height, dropped)
    metrics_path = Path(metrics_path)
    refuse_unsafe(metrics_path)
    remove_stale_temps(metrics_path)
    with stage_dirs(out_dir, reports_dir, reports) as fresh:
        if extra_files is not None:
            extra_files(fresh)
        write_parquet(kept, fresh / "records.parquet")
        write_parquet(rejected, fresh / "rejected.parquet")
        metrics_path.unlink(missing_ok=True)  # from here until the new one is written: no metrics, no mix
    return _write_metrics(metrics_path, rows_in, kept.height, dropped, extra_metrics, started)


@contextmanager
def stage_dirs(out_dir: str | Path, reports_dir: str | Path | None,
               reports: Callable[[Path], None] | None) -> Iterator[Path]:
    """A fresh data folder; with `reports`, its reports written into a fresh `reports_dir` first. Both are
    swapped in when the block succeeds, the data first (`output_dirs`)."""
    if reports is None or reports_dir is None:
        with output_dir(out_dir) as fresh:
            yield fresh
        return
    with output_dirs(out_dir, reports_dir) as (fresh, fresh_reports):
        reports(fresh_reports)
        yield fresh


def write_failure_reports(out_dir: str | Path, metrics_path: str | Path, reports_dir: str | Path,
                          reports: Callable[[Path], None]) -> None:
    """A stage stopped by a verdict on its new data: remove the old set and its metrics, then write the
    reports that explain why (as a whole, into `reports_dir`)."""
    out_dir, metrics_path = Path(out_dir), Path(metrics_path)
    for path in (out_dir, metrics_path):
        refuse_unsafe(path, "folder" if path == out_dir else "file")
    if out_dir.is_dir():
        shutil.rmtree(out_dir)
    metrics_path.unlink(missing_ok=True)
    with output_dir(reports_dir) as fresh:
        reports(fresh)


def _write_metrics(metrics_path: Path, rows_in: int, rows_kept: int, dropped: dict[str, int],
                   extra: dict[str, Any] | None, started: float) -> dict[str, Any]:
    """metrics/<stage>.json (rows in, kept, dropped per reason, the stage's extras) and its timings file."""
    metrics: dict[str, Any] = {"rows_in": rows_in, "rows_kept": rows_kept, "rows_dropped": dropped, **(extra or {})}
    write_json(metrics, metrics_path)
    write_timings(metrics_path, started)  # not a metric: keeps metrics deterministic
    return metrics


ROW_GROUP = PARQUET_OPTIONS["row_group_size"]


def row_groups(frames: Iterable[pl.DataFrame], size: int = ROW_GROUP) -> Iterator[pl.DataFrame]:
    """The rows of `frames` re-cut into frames of exactly `size` rows (the last one shorter), each in
    freshly allocated buffers of its own size, whatever the incoming batches were."""
    pending: list[pl.DataFrame] = []
    have = 0
    for frame in frames:
        if frame.height:
            pending.append(frame)
            have += frame.height
        while have >= size:
            taken, need = [], size
            while need:
                head = pending[0]
                part = head.slice(0, need)
                taken.append(part)
                need -= part.height
                if part.height == head.height:
                    pending.pop(0)
                else:
                    pending[0] = head.slice(part.height)
            have -= size
            yield fresh(taken)
    if have:
        yield fresh(pending)


def fresh(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """One frame of these rows in new buffers (a slice of a larger frame would keep the larger buffer,
    which changes how polars pages nested columns)."""
    frame = pl.concat(parts, rechunk=False) if len(parts) > 1 else parts[0]
    return frame.select(pl.all().gather(pl.int_range(frame.height, dtype=pl.UInt32)))


def write_parquet_stream(frames: Iterable[pl.DataFrame], target: str | Path, schema: pl.Schema) -> None:
    """Write frames (one after the other) as one parquet file, atomically, with `write_parquet`'s fixed
    settings and row groups, holding one row group at a time."""
    from polars.io.plugins import register_io_source

    failure: list[BaseException] = []

    def source(with_columns: Any, predicate: Any, n_rows: Any, batch_size: Any) -> Iterator[pl.DataFrame]:
        try:
            empty = True
            for group in row_groups(frames):
                empty = False
                yield group
            if empty:
                yield pl.DataFrame(schema=schema)
        except BaseException as exc:  # polars would wrap it: keep the original for the caller
            failure.append(exc)
            raise

    with atomic_path(target) as tmp:
        try:
            register_io_source(source, schema=schema).sink_parquet(tmp, engine="streaming", **PARQUET_OPTIONS)
        except Exception:
            if failure:
                raise failure[0] from None
            raise


@dataclass
class _Counts:
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    last_id: str | None = None


def _in_id_order(frame: pl.DataFrame, counts: _Counts, what: str) -> pl.DataFrame:
    """The batch sorted as the contract sorts; its first id must follow the previous batch's last."""
    frame = sort_for_output(frame, rejected=what == "rejected")
    if frame.height:
        first = frame["id"][0]
        if counts.last_id is not None and first is not None and first <= counts.last_id:
            raise StageError(f"internal: {what} batches are not in id order ({first!r} after {counts.last_id!r})")
        counts.last_id = frame["id"][-1]
    return frame


def write_stage_outputs_streaming(
    stage: str,
    out_dir: str | Path,
    metrics_path: str | Path,
    *,
    batches: Iterable[tuple[pl.DataFrame, pl.DataFrame]],
    rows_in: int,
    started: float,
    extra_metrics: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
    extra_files: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """`write_stage_outputs` for (kept, rejected) batches in id order: records.parquet is written while
    the batches arrive, rejected rows go to a spill file in the fresh folder and are written after;
    the invariant is checked before the folder is swapped in. `extra_metrics` may be a function,
    called after the last batch (for counts gathered while writing)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    kept_counts, rejected_counts = _Counts(), _Counts()
    metrics_path = Path(metrics_path)
    refuse_unsafe(metrics_path)
    remove_stale_temps(metrics_path)
    with output_dir(out_dir) as fresh_dir:
        spill_path = fresh_dir / ".rejected.spill.arrow"
        spill_schema = pl.DataFrame(schema=REJECTED_SCHEMA).to_arrow().schema
        # the spill file is closed on errors too (a full disk must not leave it open)
        with pa.OSFile(str(spill_path), "wb") as sink, ipc.new_file(sink, spill_schema) as spill:

            def kept_frames() -> Iterator[pl.DataFrame]:
                for kept, rejected in batches:
                    rejected = _in_id_order(conform(rejected, REJECTED_SCHEMA), rejected_counts, "rejected")
                    for reason, n in rows_dropped(rejected).items():
                        rejected_counts.dropped[reason] = rejected_counts.dropped.get(reason, 0) + n
                    if rejected.height:
                        spill.write_table(rejected.to_arrow())
                    kept = _in_id_order(conform(kept, RECORD_SCHEMA), kept_counts, "kept")
                    kept_counts.kept += kept.height
                    yield kept

            write_parquet_stream(kept_frames(), fresh_dir / "records.parquet", RECORD_SCHEMA)
        dropped = dict(sorted(rejected_counts.dropped.items()))
        check_invariant(stage, rows_in, kept_counts.kept, dropped)
        with pa.OSFile(str(spill_path)) as source:  # plain reads: a memory map would count the file as resident
            reader = ipc.open_file(source)
            write_parquet_stream((pl.from_arrow(reader.get_batch(i)) for i in range(reader.num_record_batches)),
                                 fresh_dir / "rejected.parquet", REJECTED_SCHEMA)
        spill_path.unlink()
        if extra_files is not None:
            extra_files(fresh_dir)
        metrics_path.unlink(missing_ok=True)  # from here until the new one is written: no metrics, no mix
    extra = extra_metrics() if callable(extra_metrics) else extra_metrics
    return _write_metrics(metrics_path, rows_in, kept_counts.kept, dropped, extra, started)
