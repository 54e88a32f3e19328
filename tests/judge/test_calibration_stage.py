"""`python -m stages.calibration` end to end on the tiny model: known-bad records scored by the real familiarity
scorer and the real local judge, the reports written, the same bytes on a rerun."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import yaml
from click.testing import CliRunner

from stages.calibration import cli
from stages.lib.record import records_frame
from tests.judge.test_local import RUBRIC, SETTINGS, model_dir, one_thread  # noqa: F401 - fixtures
from tests.lib.test_record import sample_row
from tests.llm.fixtures import curated_frame


def inputs(tmp_path: Path) -> tuple[Path, Path]:
    frame = curated_frame()
    n = frame.height
    candidates = tmp_path / "judged.parquet"
    frame.with_columns(pl.Series("ppl", [2.0 + i for i in range(n)], dtype=pl.Float64),
                       pl.Series("ifd", [0.5 + i / 100 for i in range(n)], dtype=pl.Float64),
                       pl.Series("judge_score", [float(1 + i % 9) for i in range(n)]),
                       pl.lit("tiny").alias("judge_model")).write_parquet(candidates)
    rejected = tmp_path / "rejected.parquet"
    rows = [sample_row() | {"id": f"zhihu-r{i}", "source": "zhihu", "output": "对对对。" * 30} for i in range(2)]
    records_frame(rows).with_columns(pl.lit("clean_char_repetition").alias("reason"),
                                     pl.lit("").alias("detail")).write_parquet(rejected)
    return candidates, rejected


def run(tmp_path: Path, model: Path, reports: str) -> tuple[str, dict, bytes]:
    candidates, rejected = inputs(tmp_path)
    params = {"judge": SETTINGS, "familiarity": {"batch_size": 4, "max_length": 512, "threads": 1},
              "calibration": {"max_records": 8}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--params", str(tmp_path / "params.yaml"), "--in", str(candidates),
                                      "--clean-rejected", str(rejected), "--rubric", str(RUBRIC),
                                      "--base-model", str(model), "--reports", str(tmp_path / reports),
                                      "--metrics", str(tmp_path / reports / "m.json")])
    assert result.exit_code == 0, result.output
    report = tmp_path / reports / "calibration.json"
    return result.output, json.loads(report.read_text()), report.read_bytes() + (tmp_path / reports /
                                                                                 "calibration.md").read_bytes()


def test_the_stage_scores_known_bad_records_with_the_real_scorers(tmp_path, model_dir):  # noqa: F811
    line, report, first = run(tmp_path, model_dir, "a")
    # 8 candidates with an answer (zhihu 3, exam 2, douban 2, wiki 1): wiki's one has nothing to swap with
    assert report["counts"] == {"good": 8, "bad": {"swapped": 7, "truncated": 8, "question_as_answer": 8,
                                                   "repetition": 2},
                                "bad_unscored": {"ppl": 0, "ifd": 0, "judge_score": 0},
                                "compared": {s: ["douban", "exam", "wiki", "zhihu"] for s in ("ppl", "ifd", "judge_score")}}
    assert report["judge_failures"] == {} and report["rubric"] and report["scores"]["judge_score"]
    overall = report["auc"]["ppl"]["overall"]
    assert overall["swapped"]["n_good"] == 8 and overall["swapped"]["n_bad"] == 7
    assert 0 <= overall["all"]["auc"] <= 1 and overall["all"]["verdict"] in {"separates", "chance", "inverted"}
    assert line.startswith("calibration: 25 known-bad records; AUC (all kinds) ppl ")
    assert (tmp_path / "a" / "calibration.md").read_text().startswith("# Calibration of the scores")
    metrics = json.loads((tmp_path / "a" / "m.json").read_text())
    assert metrics["known_bad"] == report["counts"]["bad"] and metrics["auc"]["ppl"]["all"] == overall["all"]["auc"]
    _, _, again = run(tmp_path, model_dir, "b")
    assert again == first
