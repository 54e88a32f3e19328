"""The judge's summary per source: `reports/judge/judge_by_source.csv` (a `dvc plots` bar chart) and the
metrics' score figures.

One row per `source` of the judged records: `n`, `mean_score`, `median_score`, `p25_score`,
`p75_score` (rounded to 4 decimals) and the count of each verdict, sorted by source. Written
atomically; an empty table (nothing judged) keeps its header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from stages.judge.rubric import VERDICTS, Rubric
from stages.lib.io import atomic_path


def by_source(judged: pl.DataFrame) -> pl.DataFrame:
    score = pl.col("judge_score")
    return (
        judged.group_by("source")
        .agg(pl.len().alias("n"), score.mean().alias("mean_score"), score.median().alias("median_score"),
             score.quantile(0.25, interpolation="linear").alias("p25_score"),
             score.quantile(0.75, interpolation="linear").alias("p75_score"),
             *[(pl.col("judge_verdict") == v).sum().alias(v) for v in VERDICTS])
        .with_columns(pl.col(pl.Float64).round(4), pl.col("n", *VERDICTS).cast(pl.Int64))
        .sort("source")
    )


def write_summary(kept: pl.DataFrame, rubric: Rubric, reports_dir: Path) -> dict[str, Any]:
    """Write judge_by_source.csv for the judged records among `kept`; the metrics' score figures."""
    judged = kept.filter(pl.col("judge_score").is_not_null())
    with atomic_path(Path(reports_dir) / "judge_by_source.csv") as tmp:
        by_source(judged).write_csv(tmp)
    scores = judged["judge_score"]
    return {"score_median": round(float(scores.median()), 4) if scores.len() else None,
            "verdicts": {v: int((judged["judge_verdict"] == v).sum()) for v in VERDICTS},
            "dimension_medians": {name: round(float(judged[f"judge_{name}"].median()), 4) if scores.len() else None
                                  for name in rubric.names}}
