"""The calibration stage's run: the real scorers (familiarity's model, the judge's backend) and the reports.

`run_calibration` reads the judged candidates and clean's rejected records, builds and scores the
known-bad records (stages/judge/calibration.py) and writes `calibration.json` and `calibration.md` into
the reports folder (each atomically; the folder's other files, the judge's, are left alone) and the
overall AUCs to the metrics file. With
`calibration.enabled: false` or `max_records: 0` it writes the reports with no known-bad records and loads
no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from stages.judge.answers import Judgement
from stages.judge.calibration import Rows, Scorer, calibrate
from stages.judge.calibration_md import render
from stages.judge.known_bad import CalibrationParams
from stages.judge.rubric import load_rubric
from stages.judge.settings import JudgeParams
from stages.lib.errors import StageError
from stages.lib.io import write_json, write_text
from stages.lib.progress import quiet_libraries
from stages.llm.perplexity import FamiliarityParams


@dataclass(frozen=True)
class CalibrationPaths:
    records: Path  # the judge stage's records (ppl, ifd, judge_score)
    rejected: Path  # clean's rejected records (the repetition ones are known-bad)
    rubric: Path
    base_model: Path
    reports: Path
    metrics: Path  # metrics/calibration.json: the overall AUCs (`dvc metrics show`)


def familiarity_scorer(model_dir: Path, settings: FamiliarityParams) -> Scorer:
    """ppl and ifd of each row, as the familiarity stage computes them."""
    def score(rows: Rows) -> dict[str, list[float | None]]:
        from stages.llm.base import load_model, place, read_model_dir, resolve_device
        from stages.llm.perplexity import answer_perplexities

        model, tokenizer = load_model(read_model_dir(model_dir), settings.threads)
        model = place(model, resolve_device(settings.device, "familiarity.device"))
        found = answer_perplexities(model, tokenizer, rows, settings.batch_size, settings.max_length)
        return {"ppl": [s.ppl for s in found], "ifd": [s.ifd for s in found]}

    return score


def judge_scorer(settings: JudgeParams, rubric_path: Path, base_model: Path, seen: dict[str, Any]) -> Scorer:
    """The judge's overall score of each row (None where it gave no valid judgement), by the judge's backend;
    `seen` receives the model's name and the failures."""
    def score(rows: Rows) -> dict[str, list[float | None]]:
        from stages.judge.run import make_judge

        judge = make_judge(settings, load_rubric(rubric_path), base_model)
        outcomes = judge.judge(rows, lambda index, outcome: None)
        seen.update(model=judge.model, failures=dict(judge.stats.failures))
        return {"judge_score": [float(o.overall) if isinstance(o, Judgement) else None for o in outcomes]}

    return score


def run_calibration(settings: CalibrationParams, judge: JudgeParams, familiarity: FamiliarityParams,
                    paths: CalibrationPaths) -> dict[str, Any]:
    """Build, score and report; returns the report's data."""
    quiet_libraries()
    rubric = load_rubric(paths.rubric)  # a broken rubric stops here, before any model is loaded
    if not paths.records.is_file():
        raise StageError(f"{paths.records}: records not found")
    candidates = pl.read_parquet(paths.records)
    run = settings if settings.enabled else settings.model_copy(update={"max_records": 0})
    seen: dict[str, Any] = {}
    scorers = [familiarity_scorer(paths.base_model, familiarity)]
    if judge.enabled:
        scorers.append(judge_scorer(judge, paths.rubric, paths.base_model, seen))
    models = candidates["judge_model"].drop_nulls().unique().sort().to_list() if "judge_model" in candidates.columns \
        else []
    about = {"scores": {"ppl, ifd": str(paths.base_model), "judge_score": seen.get("model") or ", ".join(models)
                        or None},
             "rubric": rubric.sha256, "judge_enabled": judge.enabled}
    report, _ = calibrate(candidates, paths.rejected, run, scorers, about)
    report["scores"]["judge_score"] = seen.get("model") or report["scores"]["judge_score"]
    report["judge_failures"] = seen.get("failures", {})
    write_json(report, paths.reports / "calibration.json")
    write_text(render(report), paths.reports / "calibration.md")
    write_json(metrics_of(report), paths.metrics)
    return report


def metrics_of(report: dict[str, Any]) -> dict[str, Any]:
    """The overall figures: candidates, known-bad records per kind, each score's AUC and verdict per kind."""
    return {"candidates": report["counts"]["good"], "known_bad": report["counts"]["bad"],
            "auc": {score: {kind: cell["auc"] for kind, cell in where["overall"].items()}
                    for score, where in report["auc"].items()},
            "verdict": {score: {kind: cell["verdict"] for kind, cell in where["overall"].items()}
                        for score, where in report["auc"].items()}}
