"""Stage `dedup`: remove exact and near duplicates, recording what each removed record duplicated.

Runs after `normalize`. Compares the dedup text of each record (the `fields` of
params.yaml: dedup, whitespace collapsed, joined by newlines; shingles fold case):
1. exact duplicates (same text) leave one record per text;
2. near duplicates among those: MinHash LSH over character n-grams proposes
   candidate pairs, each pair is verified by the exact Jaccard similarity of its
   shingle sets (or the signature estimate, verify=estimate), and clusters are
   the connected components of pairs at or above `threshold`.
Each cluster keeps one record by priority (human_verified, answer_from human,
longer output, smaller id; `stages/dedupe/keeper.py`). The others are rejected
with reason `dedup_exact` (same text as the kept record) or `dedup_near`, and a
detail naming the kept id. Records with an empty dedup text are kept and not
compared. `clusters.parquet` has one row per record of every cluster with more
than one member, the keeper included: id, cluster_id (smallest member id),
kept_id, jaccard_to_kept (1.0 for the keeper and for exact copies of it).

Example:
    python -m stages.dedup --in data/normalize/records.parquet --out data/dedup --metrics metrics/dedup.json
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import polars as pl

from stages.dedupe.config import DedupParams, parse_params
from stages.dedupe.keeper import priority_rank
from stages.dedupe.near import find_near_duplicates
from stages.dedupe.shingles import dedup_text
from stages.engine.config import EngineSettings, load_engine
from stages.lib.contract import write_stage_outputs
from stages.lib.errors import StageError, clear_errors
from stages.lib.io import write_parquet
from stages.lib.params import load_section
from stages.lib.record import RECORD_SCHEMA, reject_frame
from stages.lib.timings import write_timings

CLUSTERS_SCHEMA = pl.Schema({"id": pl.String, "cluster_id": pl.String, "kept_id": pl.String,
                             "jaccard_to_kept": pl.Float64})


@dataclass(frozen=True)
class DedupResult:
    """Kept and rejected records, the clusters table, the verified near pairs (id_a, id_b, jaccard), counts."""

    kept: pl.DataFrame
    rejected: pl.DataFrame
    clusters: pl.DataFrame
    pairs: pl.DataFrame
    stats: dict[str, Any]


def exact_representatives(text: pl.Series, rank: np.ndarray) -> np.ndarray:
    """For each row, the best-priority row with the same text (itself when unique or empty)."""
    rows = pl.DataFrame({"row": np.arange(text.len()), "rank": rank, "text": text})
    rep = rows.select(pl.when(pl.col("text") == "").then(pl.col("row"))
                      .otherwise(pl.col("row").sort_by("rank").first().over("text")))
    return rep.to_series().to_numpy()


def assign_keepers(text: pl.Series, rank: np.ndarray, params: DedupParams, answers: pl.Series | None = None,
                   near_fn: Callable = find_near_duplicates) -> tuple[np.ndarray, ...]:
    """Per row: its exact representative, the row kept for its cluster and the Jaccard similarity to it;
    then the candidate count and the verified pairs (row_a, row_b, jaccard). `answers` are the raw
    outputs: their dedup text is made for the compared rows only (one copy of the answers, not two)."""
    rep = exact_representatives(text, rank)
    reps = np.flatnonzero((rep == np.arange(text.len())) & (text.str.len_chars().to_numpy() > 0))
    reps = reps[np.argsort(rank[reps], kind="stable")]  # priority order: keeper = smallest index
    compared = None if answers is None else answers.gather(reps).to_frame("output").select(
        dedup_text(("output",))).to_series()
    near = near_fn(text.gather(reps), params, compared)
    local = np.full(text.len(), -1, dtype=np.int64)
    local[reps] = np.arange(reps.size)
    keeper, jaccard = np.arange(text.len()), np.ones(text.len())
    compared = local[rep] >= 0
    keeper[compared] = reps[near.keeper[local[rep[compared]]]]
    jaccard[compared] = near.jaccard_to_keeper[local[rep[compared]]]
    return rep, keeper, jaccard, np.array(near.candidates), reps[near.left], reps[near.right], near.jaccard


def near_function(engine: EngineSettings | None, source: str) -> Callable:
    """find_near_duplicates, or its Ray twin (same result) with engine: ray."""
    if engine is None or engine.kind == "local":
        return find_near_duplicates
    from stages.dedupe.distributed import find_near_duplicates_ray

    return functools.partial(find_near_duplicates_ray, engine=engine, source=source)


def dedup_records(records: pl.DataFrame, params: DedupParams, engine: EngineSettings | None = None,
                  source: str = "records") -> DedupResult:
    """Split records into kept and rejected (dedup_exact, dedup_near) and describe the clusters."""
    if records["id"].n_unique() != records.height:
        raise StageError("dedup: input ids are not unique; the kept id of a cluster would be ambiguous")
    text = records.select(dedup_text(params.fields)).to_series()
    answers = records.get_column("output") if "output" in params.fields else None
    rank = priority_rank(records)
    rep, keeper, jaccard, candidates, pair_a, pair_b, pair_jaccard = assign_keepers(text, rank, params, answers,
                                                                             near_function(engine, source))
    row = np.arange(records.height)
    status = np.where(keeper == row, "kept", np.where(rep == keeper, "dedup_exact", "dedup_near"))
    size = np.bincount(keeper, minlength=records.height)[keeper]
    tagged = records.with_columns(
        pl.Series("_status", status), pl.Series("_jaccard", jaccard), pl.Series("_in_cluster", size > 1),
        records["id"].gather(keeper).alias("_kept_id"),
    )
    exact = reject_frame(tagged.filter(pl.col("_status") == "dedup_exact"), "dedup_exact",
                         pl.format("exact duplicate of {}", pl.col("_kept_id")))
    label = "estimated jaccard" if params.verify == "estimate" else "jaccard"
    near = reject_frame(tagged.filter(pl.col("_status") == "dedup_near"), "dedup_near",
                        pl.format("near duplicate of {} ({} {})", pl.col("_kept_id"), pl.lit(label),
                                  pl.col("_jaccard").round(4)))
    clusters = tagged.filter("_in_cluster").select(
        "id", pl.col("id").min().over("_kept_id").alias("cluster_id"), pl.col("_kept_id").alias("kept_id"),
        pl.col("_jaccard").alias("jaccard_to_kept"),
    ).sort("id")
    bands, rows = params.banding()
    stats = {"bands": bands, "rows": rows, "candidate_pairs": int(candidates), "verified_pairs": int(pair_a.size),
             "empty_text": int((text.str.len_chars() == 0).sum()), "exact_duplicates": exact.height,
             "near_duplicates": near.height, "clusters": int(clusters["kept_id"].n_unique())}
    pairs = pl.DataFrame({"id_a": records["id"].gather(pair_a), "id_b": records["id"].gather(pair_b),
                          "jaccard": pair_jaccard})
    return DedupResult(tagged.filter(pl.col("_status") == "kept").select(RECORD_SCHEMA.names()),
                       pl.concat([exact, near]), clusters, pairs, stats)


def read_records(path: Path) -> pl.DataFrame:
    """Read the normalize stage's records; every record column must be there."""
    if not path.exists():
        raise StageError(f"{path}: input not found (run the normalize stage first)")
    frame = pl.read_parquet(path)
    missing = [name for name in RECORD_SCHEMA.names() if name not in frame.columns]
    if missing:
        raise StageError(f"{path}: missing record columns {missing}")
    return frame.select([pl.col(name).cast(dtype) for name, dtype in RECORD_SCHEMA.items()])


def run_dedup(in_path: Path, out_dir: Path, metrics_path: Path, params: DedupParams,
              engine: EngineSettings | None = None) -> tuple[dict, DedupResult]:
    """Read, deduplicate, write records/rejected/clusters parquet files the metrics and the phase timings."""
    started = time.perf_counter()
    records = read_records(in_path)
    read_done = time.perf_counter()
    result = dedup_records(records, params, engine, str(in_path))
    dedup_done = time.perf_counter()
    metrics = write_stage_outputs("dedup", out_dir, metrics_path, kept=result.kept, rejected=result.rejected,
                                  rows_in=records.height, started=started, extra_metrics={"dedup": result.stats},
                                  extra_files=lambda out: write_parquet(result.clusters, out / "clusters.parquet"))
    write_timings(metrics_path, started, {"read": read_done - started, "dedup": dedup_done - read_done})
    return metrics, result


@click.command()
@click.option("--in", "in_path", required=True, type=click.Path(path_type=Path), help="Input records parquet.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path), help="Metrics JSON.")
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="Params file.")
@clear_errors
def cli(in_path: Path, out_dir: Path, metrics_path: Path, params_path: str) -> None:
    """Remove exact and near duplicates from IN; write OUT/{records,rejected,clusters}.parquet.

    Example: python -m stages.dedup --in data/normalize/records.parquet --out data/dedup
    --metrics metrics/dedup.json
    """
    params = parse_params(load_section("dedup", params_path), f"{params_path}: dedup")
    metrics, _ = run_dedup(in_path, out_dir, metrics_path, params, load_engine(params_path))
    dropped = metrics["rows_dropped"]
    click.echo(f"dedup: {metrics['rows_in']} in, {metrics['rows_kept']} kept, "
               f"{dropped.get('dedup_exact', 0)} exact and {dropped.get('dedup_near', 0)} near duplicates removed")


if __name__ == "__main__":
    cli(prog_name="python -m stages.dedup")
