"""Stage `calibration`: how well ppl, ifd and the judge's score tell the candidates from known-bad records.

Builds known-bad records from the judged candidates (`--in`, data/judge/records.parquet): a sample's
answers swapped within their source, cut to their first 30%, replaced by the question; plus records clean
rejected for repetition (`--clean-rejected`). Scores them with familiarity's model (`--base-model`,
`params.yaml: familiarity`) and the judge's backend (`--rubric`, `params.yaml: judge`), and writes
`calibration.json` and `calibration.md` into `--reports` (reports/judge): the AUC of each score per kind
of known-bad record, overall and per source, with a 95% interval and a plain "no better than chance"
where it is; Spearman between the scores and with `human_verified`; the share kept per source at a few
thresholds; `--metrics` gets the overall AUCs. `params.yaml: calibration` caps the cost (max_records).
See stages/judge/README.md.

Example:
    python -m stages.calibration --in data/judge/records.parquet --clean-rejected data/clean/rejected.parquet \\
        --rubric schemas/judge/rubric.yaml --base-model models/base --reports reports/judge \\
        --metrics metrics/calibration.json
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.judge.calibration_md import summary_line
from stages.judge.calibration_run import CalibrationPaths, run_calibration
from stages.judge.known_bad import CalibrationParams
from stages.judge.settings import JudgeParams
from stages.lib.cli import (PATH, base_model_option, doc_summary, example, in_option, metrics_option, params_option,
                            reports_option, run_main)
from stages.lib.errors import clear_errors
from stages.lib.params import load_section
from stages.llm.perplexity import FamiliarityParams


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@params_option()
@in_option("Judged candidates (data/judge/records.parquet).")
@click.option("--clean-rejected", "clean_rejected", required=True, type=PATH,
              help="clean's rejected records (data/clean/rejected.parquet): the repetition ones are known-bad.")
@click.option("--rubric", "rubric_path", required=True, type=PATH, help="The judge's rubric file.")
@base_model_option()
@reports_option("Folder for calibration.json and calibration.md (reports/judge).")
@metrics_option()
@clear_errors
def cli(params_path: Path, in_path: Path, clean_rejected: Path, rubric_path: Path, base_model: Path,
        reports_dir: Path, metrics_path: Path) -> None:
    settings = load_section(CalibrationParams, params_path)
    paths = CalibrationPaths(in_path, clean_rejected, rubric_path, base_model, reports_dir, metrics_path)
    report = run_calibration(settings, load_section(JudgeParams, params_path),
                             load_section(FamiliarityParams, params_path), paths)
    click.echo(summary_line(report))


def main() -> None:
    run_main(cli, "stages.calibration")


if __name__ == "__main__":
    main()
