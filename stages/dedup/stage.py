"""The dedup stage as one call: `run_dedup(in, out, metrics, params, engine)`, and `dedup_records` for a
frame in memory (tests, benchmarks). Both decide with `plan.make_plan` and cut the outputs with
`tag_batch`, so they give the same rows.

`run_dedup` never holds the records: it reads the input in batches (three passes: keys, candidate
texts, outputs) and writes records, rejected and clusters through the streaming stage contract
(`stages.lib.contract.write_stage_outputs_streaming`); work files live in a temporary folder (under
$TMPDIR) that is removed at the end, and an OS error on them (a full disk) names that folder.
With `index` (a folder), the local engine reuses what that index holds and writes the next one
(`index.py`, `local.py`); the outputs are the same with or without it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from stages.dedup import index as index_files
from stages.dedup.config import DedupParams
from stages.dedup.local import LocalSteps
from stages.dedup.plan import EXACT, KEPT, NEAR, Plan, Steps, make_plan, peak_mb
from stages.dedup.source import FrameRecords, ParquetRecords
from stages.engine.config import EngineParams
from stages.lib.contract import write_parquet_stream, write_stage_outputs_streaming
from stages.lib.errors import naming
from stages.lib.progress import tracker
from stages.lib.record import RECORD_SCHEMA, reject_frame
from stages.lib.timings import write_timings

CLUSTERS_SCHEMA = pl.Schema({"id": pl.String, "cluster_id": pl.String, "kept_id": pl.String,
                             "jaccard_to_kept": pl.Float64})
CLUSTER_ROWS = 1 << 20  # rows of the plan turned into clusters rows at a time


@dataclass(frozen=True)
class DedupResult:
    """Kept and rejected records, the clusters table, the verified near pairs (id_a, id_b, jaccard), counts."""

    kept: pl.DataFrame
    rejected: pl.DataFrame
    clusters: pl.DataFrame
    pairs: pl.DataFrame
    stats: dict[str, Any]


@dataclass(frozen=True)
class DedupRun:
    """What `run_dedup` returns besides the metrics: the verified pairs (ids) and phase seconds."""

    pairs: pl.DataFrame
    stats: dict[str, Any]
    seconds: dict[str, float]
    peak_mb: dict[str, float]


def steps(engine: EngineParams | None, source: str, work: Path) -> Steps | LocalSteps:
    """Where pass 1 and the near step run: here (`local.LocalSteps`, no index), or on Ray (same result)."""
    if engine is None or engine.kind == "local":
        return LocalSteps(None, None, work)
    from stages.dedup.distributed import ray_steps

    return ray_steps(engine, source)


def open_index(path: Path | None, params: DedupParams, engine: EngineParams | None, source: str,
               work: Path) -> tuple[Steps | LocalSteps, Path | None, dict]:
    """The local steps reusing the index at `path` when it can serve (one line on stderr and a full
    computation when it cannot), the folder the next index goes to, and the metrics' note on the index."""
    if path is None or (engine is not None and engine.kind != "local"):
        note = {"used": False, "reason": "engine ray keeps no band keys"} if path is not None else {}
        return steps(engine, source, work), (index_files.staging(path) if path is not None else None), note
    known, reason = index_files.reusable(path, params)
    if known is None:
        print(f"dedup: not reusing the index: {reason}; computing every record", file=sys.stderr)
    partial = index_files.staging(path)
    return LocalSteps(known, partial, work), partial, {"used": known is not None, "reason": reason or None}


def keep_index(path: Path, partial: Path, found: Steps | LocalSteps, params: DedupParams, ids: pl.Series) -> dict:
    """Write the next index from this run (an empty one on Ray) and swap it in; its counts for the metrics."""
    if not isinstance(found, LocalSteps):
        index_files.finish_empty(path, partial, params, ids.head(0))
        return {}
    arrays = found.scan_.arrays
    filled = ~arrays["empty"]
    present = pl.DataFrame({"h0": arrays["hashes"][0, filled], "h1": arrays["hashes"][1, filled]})
    index_files.finish(path, partial, params, ids, arrays, found.texts.merged(present), found.answers.merged(present))
    found.scan_ = None  # its arrays are not needed to write the outputs
    return found.counts


def tag_batch(batch: pl.DataFrame, lo: int, plan: Plan, params: DedupParams) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, rejected) rows of one batch of records (rows lo..lo + height of the plan)."""
    hi = lo + batch.height
    status = plan.status[lo:hi]
    tagged = batch.with_columns(pl.Series("_status", status), pl.Series("_jaccard", plan.jaccard[lo:hi]),
                                plan.ids.gather(plan.keeper[lo:hi]).alias("_kept_id"))
    exact = reject_frame(tagged.filter(pl.col("_status") == EXACT), "dedup_exact",
                         pl.format("exact duplicate of {}", pl.col("_kept_id")))
    label = "estimated jaccard" if params.verify == "estimate" else "jaccard"
    near = reject_frame(tagged.filter(pl.col("_status") == NEAR), "dedup_near",
                        pl.format("near duplicate of {} ({} {})", pl.col("_kept_id"), pl.lit(label),
                                  pl.col("_jaccard").round(4)))
    return batch.filter(pl.Series(status == KEPT)).select(RECORD_SCHEMA.names()), pl.concat([exact, near])


def cluster_frames(plan: Plan) -> Iterator[pl.DataFrame]:
    """clusters.parquet's rows in id order, a slice of the plan at a time."""
    for lo in range(0, max(plan.status.size, 1), CLUSTER_ROWS):
        rows = lo + np.flatnonzero(plan.cluster_row[lo : lo + CLUSTER_ROWS] >= 0)
        yield pl.DataFrame({"id": plan.ids.gather(rows), "cluster_id": plan.ids.gather(plan.cluster_row[rows]),
                            "kept_id": plan.ids.gather(plan.keeper[rows]), "jaccard_to_kept": plan.jaccard[rows]},
                           schema=CLUSTERS_SCHEMA)


def counted(parts: tuple[pl.DataFrame, pl.DataFrame], shown: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A batch's (kept, rejected), counted as done on the progress `shown`."""
    shown.update(parts[0].height + parts[1].height)
    return parts


def pairs_frame(plan: Plan) -> pl.DataFrame:
    row_a, row_b, jaccard = plan.pairs
    return pl.DataFrame({"id_a": plan.ids.gather(row_a), "id_b": plan.ids.gather(row_b), "jaccard": jaccard})


def dedup_records(records: pl.DataFrame, params: DedupParams, engine: EngineParams | None = None,
                  source: str = "records") -> DedupResult:
    """Split records (in memory) into kept and rejected (dedup_exact, dedup_near) and describe the clusters."""
    frames = FrameRecords(records)
    with tempfile.TemporaryDirectory(prefix="dedup-") as work:
        readable = frames
        if engine is not None and engine.kind == "ray":  # Ray tasks read the records from a file
            frames.frame.write_parquet(Path(work) / "records.parquet")
            readable = ParquetRecords(Path(work) / "records.parquet", Path(work))
        plan = make_plan(readable, params, Path(work), steps(engine, source, Path(work)))
    parts = [tag_batch(batch, lo, plan, params) for lo, batch in frames.batches()]
    return DedupResult(pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts]),
                       pl.concat(list(cluster_frames(plan))), pairs_frame(plan), plan.stats)


def run_dedup(in_path: Path, out_dir: Path, metrics_path: Path, params: DedupParams,
              engine: EngineParams | None = None, index: Path | None = None) -> tuple[dict, DedupRun]:
    """Read, deduplicate and write records/rejected/clusters parquet files, the metrics and the timings
    (phases: `read`, the input reading of the passes that decide; `dedup`, the rest of deciding and
    writing the index); with `index`, reuse it and write the next one (metrics: `dedup_index`)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dedup-") as work, naming(f"{work} (dedup's work folder)"):
        records = ParquetRecords(Path(in_path), Path(work))
        found, partial, note = open_index(index, params, engine, str(in_path), Path(work))
        plan = make_plan(records, params, Path(work), found)
        if index is not None:
            note |= keep_index(index, partial, found, params, records.ids)
        read = records.read_seconds
        decided = time.perf_counter()
        with tracker("dedup: write", total=int(plan.status.size), unit="record") as shown:
            batches = (counted(tag_batch(batch, lo, plan, params), shown) for lo, batch in records.batches())
            metrics = write_stage_outputs_streaming(
                "dedup", out_dir, metrics_path, batches=batches, rows_in=plan.status.size, started=started,
                extra_metrics={"dedup": plan.stats, **({"dedup_index": note} if index is not None else {})},
                extra_files=lambda out: write_parquet_stream(cluster_frames(plan), out / "clusters.parquet",
                                                             CLUSTERS_SCHEMA))
    seconds = {**plan.seconds, "read": read, "dedup": decided - started - read,
               "write": time.perf_counter() - decided}
    write_timings(metrics_path, started, {"read": read, "dedup": decided - started - read})
    return metrics, DedupRun(pairs_frame(plan), plan.stats, seconds, {**plan.peak_mb, "write": peak_mb()})
