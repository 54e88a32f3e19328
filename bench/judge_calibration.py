"""The judge's AUC with a real local model, on the shipped sample's candidates (issue 24 item 4).

The calibration stage judges every candidate (the good side) and every known-bad record; with SmolLM2 on
this CPU that is 4.7 s a call on a quiet core (15-35 s under load), about half an hour for the sample's
362 answered candidates. This bench judges a small,
spread sample instead: `--records` candidates (calibration's `good_sample`, round-robin over the sources)
and the known-bad versions of them of the `--kinds` asked (stages/judge/known_bad.py `corrupt`), through
the judge stage's own backend (`params.yaml: judge`, forced on; `transformers` with `model: base` uses
`--base-model`). It prints, per kind, the AUC of `judge_score` with its 95% interval and verdict
(stages/judge/separation.py), the failures per reason, and seconds per call; `--json` writes the same.

    python bench/judge_calibration.py --records 24 --kinds swapped            # 48 calls, ~4 min on a quiet core
    python bench/judge_calibration.py --records 8 --kinds swapped,truncated --sources zhihu,douban
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import click  # noqa: E402
import polars as pl  # noqa: E402


def judged(judge, frame: pl.DataFrame, label: str) -> list[float | None]:
    from stages.judge.answers import Judgement

    rows = frame.select("instruction", "input", "output").rows()
    started = time.perf_counter()

    def report(index: int, outcome) -> None:
        score = outcome.overall if isinstance(outcome, Judgement) else type(outcome).__name__
        click.echo(f"{label} {index + 1}/{len(rows)}: {score} ({time.perf_counter() - started:.0f} s)", err=True)

    outcomes = judge.judge(rows, report)
    return [float(o.overall) if isinstance(o, Judgement) else None for o in outcomes]


@click.command(help=__doc__.split("\n\n")[0], epilog="\b\nExamples:\n" + __doc__.split("\n\n")[-1])
@click.option("--candidates", type=click.Path(path_type=Path), default=ROOT / "data/judge/records.parquet",
              show_default=True, help="The judged candidates (a `dvc repro judge` output).")
@click.option("--params", "params_path", type=click.Path(path_type=Path), default=ROOT / "params.yaml",
              show_default=True, help="Its judge and calibration sections are used (the judge forced on).")
@click.option("--base-model", type=click.Path(path_type=Path), default=ROOT / "models/base", show_default=True,
              help="The model `judge.transformers.model: base` names.")
@click.option("--rubric", type=click.Path(path_type=Path), default=ROOT / "schemas/judge/rubric.yaml",
              show_default=True, help="The judge's rubric file.")
@click.option("--records", default=24, show_default=True, help="Good candidates sampled.")
@click.option("--kinds", default="swapped", show_default=True, help="Known-bad kinds, comma-separated.")
@click.option("--sources", default="", help="Only these sources (comma-separated; default all).")
@click.option("--threads", default=1, show_default=True, help="torch threads.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write the results here too.")
def main(candidates: Path, params_path: Path, base_model: Path, rubric: Path, records: int, kinds: str,
         sources: str, threads: int, json_path: Path | None) -> None:
    import torch

    from stages.judge.calibration import CALIBRATED
    from stages.judge.known_bad import CalibrationParams, corrupt, good_sample
    from stages.judge.rubric import load_rubric
    from stages.judge.run import make_judge
    from stages.judge.separation import separation
    from stages.judge.settings import JudgeParams
    from stages.lib.params import load_section

    torch.set_num_threads(threads)
    frame = pl.read_parquet(candidates)
    if sources:
        frame = frame.filter(pl.col("source").is_in(sources.split(",")))
    calibration = load_section(CalibrationParams, params_path).model_copy(update={"max_records": records})
    good = good_sample(frame, calibration)
    bad = corrupt(good, calibration.truncate_share).filter(pl.col("kind").is_in(kinds.split(",")))
    settings = load_section(JudgeParams, params_path).model_copy(update={"enabled": True})
    judge = make_judge(settings, load_rubric(rubric), base_model)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    good_scores = judged(judge, good, "good")
    bad_scores = judged(judge, bad, "bad")
    seconds = time.perf_counter() - started
    bad = bad.with_columns(pl.Series("judge_score", bad_scores, dtype=pl.Float64))
    result = {
        "model": judge.model, "candidates": str(candidates), "records": good.height,
        "sources": sorted(good["source"].unique().to_list()),
        "calls": good.height + bad.height, "seconds_per_call": round(seconds / max(1, good.height + bad.height), 1),
        "failures": dict(judge.stats.failures), "load_start_end": [round(load, 2), round(os.getloadavg()[0], 2)],
        "good_scores": good_scores,
        "auc": {kind: separation(good_scores, bad.filter(pl.col("kind") == kind)["judge_score"].to_list(),
                                 CALIBRATED["judge_score"], calibration.min_gap) for kind in kinds.split(",")},
    }
    click.echo(json.dumps(result, ensure_ascii=False, indent=1))
    if json_path:
        json_path.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
