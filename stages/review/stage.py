"""The `review` DVC stage (`python -m stages.review apply`): decisions applied to the records.

Reads the records (`--in`) and review/decisions.jsonl (`--decisions`; a bad line is reported, one line
each, and counted as `invalid`: it costs only that decision), resolves every record's decisions
(stages/review/applying.py) and writes through the stage contract: records.parquet (every input
column, plus `verified_by` and `verified_at`), rejected.parquet (`review_rejected`), and
`decisions.parquet`, one row per decision with its status (applied, stale, superseded, overruled,
unknown_id), which `audit trace` and `audit summary` read. Metrics: rows in/kept/dropped, decisions per
status, and the verified share per source; reports/review/agreement.{json,md} (stages/review/agreement.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.lib.contract import write_stage_outputs
from stages.lib.errors import StageError
from stages.lib.io import write_json, write_parquet, write_text
from stages.lib.record import RECORD_SCHEMA, reject_frame
from stages.review.agreement import agreement, agreement_markdown
from stages.review.applying import EDIT_TRANSFORM, Outcome, resolve
from stages.review.content import TEXT_FIELDS, text_sha256
from stages.review.decisions import LOG_FILE, read_decisions
from stages.review.exporting import JUDGE_VERDICT

STATUSES = ("applied", "stale", "superseded", "overruled", "unknown_id")
LOG_SCHEMA = {name: pl.String for name in ("id", "sha256", "decision", "edits", "reason", "note", "reviewer",
                                            "reviewed_at", "tool", "task_id", "annotation_id", "guidelines",
                                            "revision", "status", "status_detail", "current_sha256")}


def outcome_frame(outcomes: dict[str, Outcome]) -> pl.DataFrame:
    rows = [{"id": rid, **{f"_new_{k}": o.edits.get(k) for k in TEXT_FIELDS}, "_edited": bool(o.edits),
             "_by": ",".join(o.verified_by) or None, "_at": o.verified_at, "_rejected": o.rejected}
            for rid, o in outcomes.items()]
    schema = {"id": pl.String, **{f"_new_{k}": pl.String for k in TEXT_FIELDS}, "_edited": pl.Boolean,
              "_by": pl.String, "_at": pl.String, "_rejected": pl.String}
    return pl.DataFrame(rows, schema=schema)


def applied(frame: pl.DataFrame, outcomes: dict[str, Outcome]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, rejected): edits, verification and rejects of `outcomes` applied to `frame`."""
    joined = frame.join(outcome_frame(outcomes), on="id", how="left")
    edited = pl.col("_edited").fill_null(False)
    verified = pl.col("_by").is_not_null()
    joined = joined.with_columns(
        *[pl.coalesce(f"_new_{k}", k).alias(k) for k in TEXT_FIELDS],
        pl.when(edited).then(pl.col("transforms").list.concat(pl.lit([EDIT_TRANSFORM])))
        .otherwise(pl.col("transforms")).alias("transforms"),
        pl.when(verified).then(True).otherwise(pl.col("human_verified")).alias("human_verified"),
        pl.col("_by").alias("verified_by"), pl.col("_at").alias("verified_at"))
    rejected = joined.filter(pl.col("_rejected").is_not_null())
    kept = joined.filter(pl.col("_rejected").is_null())
    extra = [c for c in joined.columns if c not in RECORD_SCHEMA.names() and not c.startswith("_")]
    rejected = pl.concat([reject_frame(rejected, "review_rejected", pl.col("_rejected")),
                          rejected.select(extra)], how="horizontal")
    return kept.select(*RECORD_SCHEMA.names(), *extra), rejected


def verified_share(kept: pl.DataFrame) -> dict[str, Any]:
    counts = kept.group_by("source").agg(pl.len().alias("rows"), pl.col("verified_by").is_not_null().sum().alias("reviewed"),
                                         pl.col("human_verified").fill_null(False).sum().alias("human_verified"))
    return {row["source"]: {"rows": row["rows"], "reviewed": row["reviewed"], "human_verified": row["human_verified"],
                            "reviewed_share": round(row["reviewed"] / row["rows"], 4)}
            for row in counts.sort("source").iter_rows(named=True)}


def run_review(records: Path, decisions_path: Path, out: Path, reports: Path, metrics_path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    if not records.is_file():
        raise StageError(f"{records}: records not found")
    if not decisions_path.is_file():
        raise StageError(f"{decisions_path}: decisions file not found (create it empty: it is append-only)")
    frame = pl.read_parquet(records)
    decisions, problems = read_decisions(decisions_path)
    for problem in problems:
        click.echo(problem, err=True)
    decided = frame.filter(pl.col("id").is_in(sorted({d.id for d in decisions})))
    texts = {row["id"]: {k: row[k] for k in TEXT_FIELDS} for row in decided.iter_rows(named=True)}
    outcomes, log = resolve(texts, decisions)
    kept, rejected = applied(frame, outcomes)
    log_frame = pl.DataFrame(log, schema=LOG_SCHEMA)
    status = {s: int((log_frame["status"] == s).sum()) for s in STATUSES}
    sources = dict(zip(frame["id"].to_list(), frame["source"].to_list()))
    input_sha = {rid: text_sha256(*(t[k] for k in TEXT_FIELDS)) for rid, t in texts.items()}
    verdicts = (dict(zip(decided["id"].to_list(), decided[JUDGE_VERDICT].to_list()))
                if JUDGE_VERDICT in frame.columns else None)
    report = agreement(log, sources, input_sha, verdicts)
    write_json(report, reports / "agreement.json")
    write_text(agreement_markdown(report), reports / "agreement.md")
    extra = tuple(c for c in kept.columns if c not in RECORD_SCHEMA.names())
    return write_stage_outputs(
        "review", out, metrics_path, kept=kept, rejected=rejected, rows_in=frame.height, started=started,
        extra_columns=extra, extra_files=lambda folder: write_parquet(log_frame, folder / LOG_FILE),
        extra_metrics={"decisions": {"lines": len(decisions) + len(problems), "invalid": len(problems), **status},
                       "records_decided": len(outcomes), "edited": sum(bool(o.edits) for o in outcomes.values()),
                       "verified_by_source": verified_share(kept),
                       "kappa": report["reviewers"]["overall"]["kappa"]})


def review_line(metrics: dict[str, Any]) -> str:
    d = metrics["decisions"]
    return (f"{d['lines']} decisions: {d['applied']} applied, {d['stale']} stale, {d['superseded']} superseded, "
            f"{d['overruled']} overruled, {d['unknown_id']} unknown id, {d['invalid']} invalid")
