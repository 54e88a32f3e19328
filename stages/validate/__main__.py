"""Stage `validate`: check every record against an expectation suite and stop the pipeline on bad data.

Runs the Great Expectations suite `--suite` (default: the `records` suite,
schemas/expectations/records.json) on every row of `--in`, in an ephemeral
GX context (see stages/validate/). Always writes the report to `--reports`:
`<suite>.json` (the GX result), `<suite>.md` and `<suite>.html`, and the
expectation counts by severity to `--metrics`.

- A failed `critical` expectation stops the stage (exit 1) with one message
  listing each failed expectation, what GX observed and up to 10 offending
  record ids; nothing is written to `--out` (stale outputs are removed).
- `warning` and `info` expectations only report (printed and in the report).
- Otherwise the records pass through unchanged to `--out/records.parquet`
  (with an empty `rejected.parquet`, per the stage contract), so downstream
  stages read validated data only.

Parameters: `params.yaml: validate.min_rows` (suite parameter `min_rows`),
`validate.min_zh_share` (when set) and the suite parameter `configured_sources`,
the `subset` values of `params.yaml: sources` (a cqia_jsonl source without
`subset` contributes its file stems). Reading `sources` too is deliberate, and
declared in dvc.yaml: a second copy of the list would drift from the configured
sources (`ValidateParams` in stages/validate/suites.py; the run is
stages/validate/stage.py).

Example:
    python -m stages.validate --in data/dedup/records.parquet --out data/validate \\
        --reports reports/validate --metrics metrics/validate.json \\
        --suite schemas/expectations/records.json
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.lib.cli import (doc_summary, echo_summary, example, in_option, metrics_option, out_option, params_option,
                            reports_option, run_main)
from stages.lib.errors import clear_errors
from stages.validate.report import summary_line, warning_lines
from stages.validate.stage import DEFAULT_SUITE, suite_parameters, validate_records
from stages.validate.suites import SUITES_DIR


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@in_option("Records parquet to check.")
@out_option("Output folder for the validated records (written only when the suite passes).")
@reports_option("Folder for <suite>.json, .md and .html.")
@metrics_option()
@click.option("--suite", default=str(DEFAULT_SUITE.relative_to(SUITES_DIR.parents[1])), show_default=True,
              help="Expectation suite file (GX 1.x suite JSON).")
@params_option()
@clear_errors
def cli(in_path: Path, out_dir: Path, reports_dir: Path, metrics_path: Path, suite: str, params_path: Path) -> None:
    result, metrics = validate_records(in_path, out_dir, reports_dir, metrics_path, suite,
                                       suite_parameters(params_path))
    for line in warning_lines(result):
        click.echo(line, err=True)
    echo_summary("validate", metrics, f"{summary_line(result)}; records written to {out_dir / 'records.parquet'}")


def main() -> None:
    run_main(cli, "stages.validate")


if __name__ == "__main__":
    main()
