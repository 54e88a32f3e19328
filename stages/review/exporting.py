"""`python -m stages.review export`: the review queue as Label Studio tasks and Argilla records.

The queue (params `review.queue`, stages/review/params.py) is chosen from `--in` (the review stage's
output, so a record edited by an earlier review is shown as it now reads). Every task carries the record
id, `sha256` (`text_sha256` of exactly the text shown), the git revision it was exported from, the
guidelines version and why it was queued. Score columns (`ppl`, `ifd`, `score_quality`, `judge_*`) become
Label Studio `predictions` and Argilla `suggestions`/metadata; a judge verdict (`judge_verdict`: keep or
discard) pre-selects the decision it implies.

Writes into `--out` (replaced as a whole): `label_studio.json` (import it into a project made with
schemas/review/label_config.xml) and `argilla.json` (records for `rg.Record.from_dict`; settings in
schemas/review/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.errors import StageError
from stages.lib.io import output_dir, write_text
from stages.lib.sampling import hash_rank
from stages.review.content import TEXT_FIELDS, revision, text_sha256_expr
from stages.review.decisions import read_decisions
from stages.review.params import QueueParams, ReviewParams

JUDGE_VERDICT = "judge_verdict"  # the judge stage's verdict column: keep | review | discard
VERDICT_DECISION = {"keep": "accept", "discard": "reject"}  # what a verdict says in our decision words


def score_columns(frame: pl.DataFrame) -> list[str]:
    """Numeric columns that score a record: ppl, ifd, score_quality and the judge's."""
    return [name for name, dtype in frame.schema.items() if dtype.is_numeric()
            and (name in ("ppl", "ifd", "score_quality") or name.startswith(("ifd_", "judge_")))]


def choose(frame: pl.DataFrame, queue: QueueParams, ids: list[str]) -> pl.DataFrame:
    """The queued rows with a `queued` column naming why (sample, judge, nearest, ids), sorted by id."""
    parts = []
    if queue.per_source:
        rank = hash_rank(queue.seed).rank("ordinal").over("source")
        parts.append(frame.filter(rank <= queue.per_source).with_columns(pl.lit("sample").alias("queued")))
    if queue.judge_verdicts and JUDGE_VERDICT in frame.columns:
        parts.append(frame.filter(pl.col(JUDGE_VERDICT).is_in(queue.judge_verdicts))
                     .with_columns(pl.format("judge {}", pl.col(JUDGE_VERDICT)).alias("queued")))
    near = queue.nearest
    if near.count:
        if near.column not in frame.columns or not frame.schema[near.column].is_numeric():
            raise StageError(f"review.queue.nearest.column: {near.column!r} is not a numeric column of the records")
        distance = (pl.col(near.column) - near.threshold).abs()
        parts.append(frame.filter(pl.col(near.column).is_not_null()).sort(distance, "id").head(near.count)
                     .with_columns(pl.lit(f"nearest {near.column}={near.threshold}").alias("queued")))
    wanted = sorted({*queue.ids, *ids})
    unknown = sorted(set(wanted) - set(frame["id"].to_list()))
    if unknown:
        raise StageError(f"ids not in the records: {', '.join(unknown[:5])}" + (" ..." if len(unknown) > 5 else ""))
    if wanted:
        parts.append(frame.filter(pl.col("id").is_in(wanted)).with_columns(pl.lit("ids").alias("queued")))
    if not parts:
        return frame.head(0).with_columns(pl.lit(None, pl.String).alias("queued"))
    stacked = pl.concat(parts, how="vertical_relaxed")
    return stacked.group_by("id", maintain_order=True).agg(
        pl.all().exclude("queued").first(), pl.col("queued").unique().sort().str.join(", ")).sort("id")


def predictions(row: dict[str, Any], scores: list[str]) -> list[dict[str, Any]]:
    """Label Studio predictions: one per score; the judge's pre-selects its decision."""
    found = []
    for name in scores:
        if row.get(name) is None or name.startswith("judge_"):
            continue
        found.append({"model_version": name, "score": float(row[name]), "result": []})
    verdict = row.get(JUDGE_VERDICT)
    if verdict is not None or row.get("judge_score") is not None:
        label = " ".join(["judge", *filter(None, [row.get("judge_model")]),
                          *(f"rubric {r}" for r in filter(None, [row.get("judge_rubric")]))])
        choice = VERDICT_DECISION.get(verdict or "")
        result = [{"from_name": "decision", "to_name": "output", "type": "choices",
                   "value": {"choices": [choice]}}] if choice else []
        found.append({"model_version": label, "score": float(row.get("judge_score") or 0.0), "result": result})
    return found


def shown_scores(row: dict[str, Any], scores: list[str]) -> str:
    shown = [f"{name} {row[name]:.4g}" for name in scores if row.get(name) is not None]
    verdict = row.get(JUDGE_VERDICT)
    return " · ".join(shown + ([f"judge verdict {verdict}"] if verdict else [])) or "no scores"


def tasks(queued: pl.DataFrame, guidelines: str, rev: str) -> tuple[list[dict], list[dict]]:
    """(Label Studio tasks, Argilla records) of the queued rows."""
    scores = score_columns(queued)
    studio, argilla = [], []
    for row in queued.iter_rows(named=True):
        texts = {name: row[name] or "" for name in TEXT_FIELDS}
        meta = {"record_id": row["id"], "sha256": row["sha256"], "source": row["source"], "revision": rev,
                "guidelines": guidelines, "queued": row["queued"]}
        values = {name: float(row[name]) for name in scores if row.get(name) is not None}
        studio.append({"data": {**meta, **texts, "shown_scores": shown_scores(row, scores), "scores": values},
                       "predictions": predictions(row, scores)})
        suggestion = {}
        choice = VERDICT_DECISION.get(row.get(JUDGE_VERDICT) or "")
        if choice:
            suggestion["decision"] = {"value": choice, "score": row.get("judge_score"),
                                      "agent": f"judge {row.get('judge_model') or ''}".strip()}
        argilla.append({"id": f"{row['id']}:{row['sha256'][:12]}", "fields": {k: v for k, v in texts.items() if v},
                        "metadata": {**meta, **values}, "suggestions": suggestion, "responses": {}, "vectors": {}})
    return studio, argilla


def export_queue(settings: ReviewParams, records: Path, decisions: Path, out: Path, ids: list[str]) -> dict[str, Any]:
    """Choose the queue from `records`, write the two files into `out`; returns counts."""
    if not records.is_file():
        raise StageError(f"{records}: records not found")
    frame = pl.read_parquet(records).with_columns(text_sha256_expr().alias("sha256"))
    queued = choose(frame, settings.queue, ids)
    reviewed = 0
    if not settings.queue.include_reviewed:
        seen = {(d.id, d.sha256) for d in read_decisions(decisions)[0]}
        current = [(i, s) in seen for i, s in zip(queued["id"].to_list(), queued["sha256"].to_list())]
        reviewed = sum(current)
        queued = queued.filter(~pl.Series(current, dtype=pl.Boolean)) if current else queued
    studio, argilla = tasks(queued, settings.guidelines, revision(Path(".")))
    with output_dir(out) as fresh:
        write_text(json.dumps(studio, ensure_ascii=False, indent=1) + "\n", fresh / "label_studio.json")
        write_text(json.dumps(argilla, ensure_ascii=False, indent=1) + "\n", fresh / "argilla.json")
    why = queued["queued"].str.split(", ").explode().value_counts().sort("queued") if queued.height else None
    return {"tasks": queued.height, "already_reviewed": reviewed,
            "why": {} if why is None else dict(why.iter_rows())}
