"""The `assemble` stage's work: candidates -> decontamination -> mix -> sft suite -> data/sft.

`assemble(...)` reads the candidate records (a row with a `parent_id` is a rewrite; the score columns
from the frame or a `--scores` parquet), removes candidates that overlap an evaluation question
(stages/sft/decontam.py), chooses the mix (selection by score: stages/sft/select.py) and split
(stages/sft/mix.py), runs the `sft`
expectation suite on the result (a critical failure removes the old set and writes only the suite's
reports), and writes the set (train.jsonl, eval.jsonl, manifest.json, README.md) with the contract
files and the reports (the suite's and kept_dropped.csv) through `write_stage_outputs`. The metrics carry the mean
and median `ppl` of the training split (`familiarity`), the familiarity paper's measure of the set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.lib.contract import rows_dropped, write_failure_reports, write_stage_outputs
from stages.lib.errors import StageError
from stages.lib.io import write_json, write_text
from stages.lib.record import RECORD_SCHEMA
from stages.sft.card import chat_rows, fingerprint, jsonl, upstream_outputs
from stages.sft.decontam import decontaminate
from stages.sft.hf_card import curation_steps, dataset_card, kept_dropped_csv, language_counts, review_summary
from stages.sft.mix import AssembleParams, choose
from stages.sft.score_summary import distributions, histogram_csv, judge_identity
from stages.sft.select import SCORES
from stages.validate import failure_message, run_suite, write_reports
from stages.validate.derived import record_languages
from stages.validate.report import summary_line


def read_records(path: Path, what: str) -> pl.DataFrame:
    if not path.exists():
        raise StageError(f"{path}: {what} not found")
    return pl.read_parquet(path)


PASSED = ("verified_by", "judge_model", "judge_rubric")  # string columns the card reads, null when absent


def read_scores(path: Path) -> pl.DataFrame:
    """`id` and the score columns of a `--scores` parquet (the others are not read)."""
    if not path.exists():
        raise StageError(f"{path}: scores not found")
    names = pl.read_parquet_schema(path)
    if "id" not in names:
        raise StageError(f"{path}: scores need an `id` column")
    return pl.read_parquet(path, columns=["id", *[n for n in SCORES if n in names]])


def candidates(frames: list[pl.DataFrame], scores: pl.DataFrame | None) -> pl.DataFrame:
    """Stack record frames; a row is a rewrite when it has a `parent_id` (kept for `rewrites: replace`); the score columns (`SCORES`: ppl,
    ifd, judge_score, score_quality; null where absent, NaN read as null) from the frame, a value in
    `scores` (a parquet with `id` and some of them, e.g. data/quality's score_quality) taking precedence;
    `PASSED` (the review stage's reviewers, the judge's model and rubric hash, for the card) when the frame
    has them."""
    parts = []
    for frame in frames:
        is_rewrite = pl.col("parent_id").is_not_null() if "parent_id" in frame.columns else pl.lit(False)
        parent = pl.col("parent_id").cast(pl.String) if "parent_id" in frame.columns else pl.lit(None, pl.String)
        text = {name: pl.col(name).cast(pl.String) if name in frame.columns else pl.lit(None, pl.String)
                for name in PASSED}
        parts.append(frame.select(*RECORD_SCHEMA.names(), is_rewrite.alias("is_rewrite"),
                                  *[_score(frame, name).alias(name) for name in SCORES],
                                  *[value.alias(name) for name, value in text.items()], parent.alias("parent_id")))
    stacked = pl.concat(parts, how="vertical")
    given = [name for name in SCORES if scores is not None and name in scores.columns]
    if not given:
        return stacked
    assert scores is not None
    joined = stacked.join(scores.select("id", *[_score(scores, n).alias(f"_{n}") for n in given]), on="id", how="left")
    return joined.with_columns(pl.coalesce(f"_{n}", n).alias(n) for n in given).drop(f"_{n}" for n in given)


def _score(frame: pl.DataFrame, name: str) -> pl.Expr:
    if name not in frame.columns:
        return pl.lit(None, pl.Float64)
    return pl.col(name).cast(pl.Float64).fill_nan(None)


def familiarity(kept: pl.DataFrame) -> dict[str, Any]:
    """How familiar the base model found the training split's answers before tuning: the mean and median
    answer-only ppl of its records that familiarity scored, and how many those are (`audit experiments`
    shows the mean beside each run's paired delta)."""
    ppl = kept.filter(pl.col("split") == "train")["ppl"].drop_nulls()
    return {"train_ppl_mean": round(ppl.mean(), 4) if ppl.len() else None,
            "train_ppl_median": round(ppl.median(), 4) if ppl.len() else None, "train_scored": ppl.len()}


def summary(kept: pl.DataFrame, params: AssembleParams, rows: list[dict], lock: Path) -> dict[str, Any]:
    counts = kept.group_by("source", "split").len().sort("source", "split")
    per_source: dict[str, dict[str, int]] = {}
    for row in counts.iter_rows(named=True):
        per_source.setdefault(row["source"], {})[row["split"]] = int(row["len"])
    licenses = kept.group_by("source").agg(pl.col("license").unique().sort()).sort("source")
    return {
        "sources": per_source,
        "licenses": {r["source"]: r["license"] for r in licenses.iter_rows(named=True)},
        "languages": language_counts(record_languages(kept).to_list()),
        "counts": {"train": int((kept["split"] == "train").sum()), "eval": int((kept["split"] == "eval").sum()),
                   "rewrites": int(kept["is_rewrite"].sum())},
        "params": params.mix(),
        "fingerprint": fingerprint(rows),
        "upstream": upstream_outputs(lock),
        "review": review_summary(kept),
        "judge": judge_identity(kept),
        "scores": distributions(kept),
    }


def check_sft(kept: pl.DataFrame, rows: list[dict[str, Any]], suite: str | Path, suite_params: dict[str, Any],
              outputs: tuple[Path, Path, Path]) -> Callable[[Path], None]:
    """Run the `sft` expectation suite on the set (records + messages + split); a critical failure stops
    the stage (the old set removed, the reports written: `outputs` = out, metrics, reports); else the
    writer of the suite's reports."""
    messages = pl.DataFrame({"id": [r["id"] for r in rows], "messages": [r["messages"] for r in rows]})
    result = run_suite(kept.join(messages, on="id", how="left"), suite, suite_params)

    def reports(folder: Path) -> None:
        write_reports(result, folder, "data/sft")

    if not result.success:
        write_failure_reports(*outputs, reports)
        raise StageError(failure_message(result, str(outputs[2] / f"{result.suite}.md")))
    click.echo(summary_line(result))
    return reports


def assemble(inputs: list[Path], scores: Path | None, out: Path, metrics_path: Path, params: AssembleParams,
             lock: Path, suite: str | Path, reports: Path, suite_params: dict[str, Any],
             eval_tasks: list[Path] | None = None, sources: list[Any] | tuple = ()) -> dict[str, Any]:
    """Build data/sft from the candidate records in `inputs`; returns the stage metrics."""
    started = time.perf_counter()
    frame = candidates([read_records(path, "records") for path in inputs], read_scores(scores) if scores else None)
    clean, contaminated, decontam_metrics = decontaminate(frame, list(eval_tasks or []), params.decontam)
    selected: dict[str, Any] = {}
    kept, rejected = choose(clean, params, selected)
    rejected = pl.concat([contaminated, rejected], how="diagonal_relaxed").select(rejected.columns)
    rows = chat_rows(kept, params.system_prompt)
    suite_reports = check_sft(kept, rows, suite, suite_params, (out, metrics_path, reports))
    split = dict(zip(kept["id"].to_list(), kept["split"].to_list()))
    info = summary(kept, params, rows, lock)
    steps = curation_steps(lock) + [{"stage": "assemble", "rows_in": frame.height, "rows_kept": kept.height,
                                     "rows_dropped": rows_dropped(rejected)}]

    def write_set(folder: Path) -> None:
        write_text(jsonl([r for r in rows if split[r["id"]] == "train"]), folder / "train.jsonl")
        write_text(jsonl([r for r in rows if split[r["id"]] == "eval"]), folder / "eval.jsonl")
        write_json({k: info[k] for k in ("fingerprint", "counts", "upstream", "params", "judge", "scores")},
                   folder / "manifest.json")
        write_text(dataset_card(info, list(sources), steps), folder / "README.md")

    def all_reports(folder: Path) -> None:
        suite_reports(folder)
        write_text(kept_dropped_csv(steps), folder / "kept_dropped.csv")
        write_text(histogram_csv(kept), folder / "score_histograms.csv")

    return write_stage_outputs("assemble", out, metrics_path, kept=kept, rejected=rejected,
                               rows_in=frame.height, started=started, extra_columns=("is_rewrite", *SCORES, "split"),
                               extra_metrics={"fingerprint": info["fingerprint"], "counts": info["counts"],
                                              "decontam": decontam_metrics, "select": selected,
                                              "familiarity": familiarity(kept)},
                               extra_files=write_set, reports_dir=reports, reports=all_reports)


def set_line(metrics: dict[str, Any]) -> str:
    """The stage's own figures after the contract summary line:
    `213 train, 31 eval (0 rewrites), fingerprint 44c8f450db4d`."""
    counts = metrics["counts"]
    return (f"{counts['train']} train, {counts['eval']} eval ({counts['rewrites']} rewrites), "
            f"fingerprint {metrics['fingerprint'][:12]}")
