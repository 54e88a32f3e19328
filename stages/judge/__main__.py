"""Stage `judge`: an LLM judge scores every SFT candidate against a rubric (dimensions and an overall 1-10).

Reads the candidates (`--in`: curated records and rewrites, data/familiarity/records.parquet), the
rubric (`--rubric`, schemas/judge/rubric.yaml, and the answer schema it names), the base model
(`--base-model`, for backend transformers with `model: base`) and `params.yaml: judge`
(stages/judge/settings.py). Every record with a non-blank output is judged; judgements are cached in
`--cache` by (record text, rubric file hash, model identity, decoding settings), so a run that changes
nothing the judge reads makes no call.

Columns added: `judge_score` (overall), `judge_<dimension>` per rubric dimension, `judge_verdict`
(keep/review/discard), `judge_rationale`, `judge_model`, `judge_rubric` (the rubric's sha256); every
other column passes through (ppl and the rest). Records with a blank output are kept unjudged (nulls),
and so is every record with `judge.enabled: false`. Rejected: `judge_invalid_output` (no valid answer
after `judge.attempts` answers; the last problem and the start of the raw answer in `detail`),
`judge_backend_error` (a request failed after its retries), `judge_secret_in_output` (an answer held
the API key). An unreachable endpoint or a broken rubric stops the stage in one line and writes
nothing. Metrics add calls, cache hits, failures per kind, prompt and completion tokens;
`--reports` gets judge_by_source.csv. See stages/judge/README.md.

Example:
    python -m stages.judge --in data/familiarity/records.parquet --rubric schemas/judge/rubric.yaml \\
        --base-model models/base --cache cache/judge --out data/judge --metrics metrics/judge.json \\
        --reports reports/judge
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.judge.run import JudgePaths, run_judge
from stages.judge.settings import JudgeParams
from stages.lib.cli import (PATH, base_model_option, doc_summary, echo_summary, example, in_option, metrics_option,
                            out_option, params_option, reports_option, run_main)
from stages.lib.errors import clear_errors
from stages.lib.params import load_section


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@params_option()
@in_option("Candidate records (data/familiarity/records.parquet).")
@click.option("--rubric", "rubric_path", required=True, type=PATH, help="Rubric file (YAML or JSON).")
@base_model_option("Base model folder (used by backend transformers with model: base).")
@click.option("--cache", "cache_dir", required=True, type=PATH, help="Judgement cache folder.")
@out_option()
@metrics_option()
@reports_option("Folder for judge_by_source.csv.")
@clear_errors
def cli(params_path: Path, in_path: Path, rubric_path: Path, base_model: Path, cache_dir: Path, out_dir: Path,
        metrics_path: Path, reports_dir: Path) -> None:
    settings = load_section(JudgeParams, params_path)
    paths = JudgePaths(in_path, rubric_path, base_model, cache_dir, out_dir, metrics_path, reports_dir)
    metrics = run_judge(settings, paths)
    median = "n/a" if metrics["score_median"] is None else f"{metrics['score_median']:.2f}"
    echo_summary("judge", metrics, f"{metrics['judged']} judged, median score {median}; "
                                   f"cache {metrics['cache_hits']} hits, {metrics['cache_misses']} misses")


def main() -> None:
    run_main(cli, "stages.judge")


if __name__ == "__main__":
    main()
