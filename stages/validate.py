"""Stage `validate`: check every record against an expectation suite and stop the pipeline on bad data.

Runs the Great Expectations suite `--suite` (default: the `records` suite,
schemas/expectations/records.json) on every row of `--in`, in an ephemeral
GX context (see stages/validation/). Always writes the report to `--reports`:
`<suite>.json` (the GX result), `<suite>.md` and `<suite>.html`, and the
expectation counts by severity to `--metrics`.

- A failed `critical` expectation stops the stage (exit 1) with one message
  listing each failed expectation, what GX observed and up to 10 offending
  record ids; nothing is written to `--out` (stale outputs are removed).
- `warning` and `info` expectations only report (printed and in the report).
- Otherwise the records pass through unchanged to `--out/records.parquet`
  (with an empty `rejected.parquet`, per the stage contract), so downstream
  stages read validated data only.

Parameters: `params.yaml: validate.min_rows` (suite parameter `min_rows`) and
the suite parameter `configured_sources`, the `subset` values of
`params.yaml: sources` (a cqia_jsonl source without `subset` contributes its
file stems). Reading `sources` too is deliberate, and declared in dvc.yaml:
a second copy of the list would drift from the configured sources.

Example:
    python -m stages.validate --in data/dedup/records.parquet --out data/validate \\
        --reports reports/validate --metrics metrics/validate.json
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.ingest.cqia import configured_subsets
from stages.ingest.sources import parse_sources
from stages.lib.contract import write_stage_outputs
from stages.lib.errors import StageError, clear_errors
from stages.lib.io import write_json
from stages.lib.params import load_section, require_keys
from stages.lib.record import RECORD_SCHEMA, empty_rejected
from stages.lib.timings import write_timings
from stages.validation import SuiteResult, failure_message, metrics, run_suite, write_reports
from stages.validation.report import summary_line, warning_lines
from stages.validation.suites import SUITES_DIR

DEFAULT_SUITE = SUITES_DIR / "records.json"


def suite_parameters(params_path: str | Path) -> dict[str, Any]:
    """Suite parameters from params.yaml: `min_rows` (validate section) and `configured_sources`."""
    settings = load_section("validate", params_path)
    require_keys(f"{params_path}: validate", settings, {"min_rows", "min_zh_share"}, {"min_rows"})
    min_rows = settings["min_rows"]
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
        raise ValueError(f"{params_path}: validate.min_rows: must be a whole number >= 0, got {min_rows!r}")
    sources = parse_sources(load_section("sources", params_path))
    return {"min_rows": min_rows, "configured_sources": configured_subsets(sources),
            **zh_share_parameter(settings, f"{params_path}: validate")}


def zh_share_parameter(section: dict[str, Any], where: str) -> dict[str, float]:
    """The suites' `min_zh_share` from a stage's section when set (0 for English data), else the suite default."""
    if section.get("min_zh_share") is None:
        return {}
    value = section["min_zh_share"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{where}.min_zh_share: must be a number in [0, 1], got {value!r}")
    return {"min_zh_share": float(value)}


def schema_problems(frame: pl.DataFrame) -> list[str]:
    """Record columns whose type differs from RECORD_SCHEMA (the suite checks presence and list shapes)."""
    return [f"{name} is {frame.schema[name]} (expected {dtype})" for name, dtype in RECORD_SCHEMA.items()
            if name in frame.schema and frame.schema[name] != dtype]


def validate(in_path: Path, out_dir: Path, reports_dir: Path, metrics_path: Path, suite: str | Path,
             parameters: dict[str, Any]) -> SuiteResult:
    """Run the suite, write reports and metrics; pass the records through only if no critical check failed."""
    started = time.perf_counter()
    if not in_path.is_file():
        raise StageError(f"{in_path}: input not found")
    frame = pl.read_parquet(in_path)
    result = run_suite(frame, suite, parameters)
    paths = write_reports(result, reports_dir, source=in_path.as_posix())
    if not result.success:
        for stale in (out_dir / "records.parquet", out_dir / "rejected.parquet"):
            stale.unlink(missing_ok=True)
        write_json({"rows_in": frame.height, **metrics(result)}, metrics_path)
        write_timings(metrics_path, started)
        raise StageError(failure_message(result, paths["md"].as_posix()))
    problems = schema_problems(frame)
    if problems:
        raise StageError(f"{in_path}: column types differ from the record schema: {'; '.join(problems)}")
    extra = tuple(c for c in frame.columns if c not in RECORD_SCHEMA)
    write_stage_outputs("validate", out_dir, metrics_path, kept=frame, rejected=empty_rejected(), rows_in=frame.height,
                        started=started, extra_columns=extra, extra_metrics=metrics(result))
    return result


@click.command()
@click.option("--in", "in_path", required=True, type=click.Path(path_type=Path), help="Records parquet to check.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Output directory for the validated records (written only when the suite passes).")
@click.option("--reports", "reports_dir", required=True, type=click.Path(path_type=Path),
              help="Directory for <suite>.json, .md and .html.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path), help="Metrics JSON.")
@click.option("--suite", default=str(DEFAULT_SUITE.relative_to(SUITES_DIR.parents[1])), show_default=True,
              help="Expectation suite file (GX 1.x suite JSON).")
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="Params file.")
@clear_errors
def cli(in_path: Path, out_dir: Path, reports_dir: Path, metrics_path: Path, suite: str, params_path: str) -> None:
    """Validate every record of --in against an expectation suite; exit 1 if a critical expectation fails.

    Always writes the report (<suite>.json, .md, .html under --reports) and --metrics; writes
    --out/records.parquet (the records, unchanged) only when no critical expectation failed.
    Warnings are printed and reported but do not stop the stage.

    \b
    Example:
      python -m stages.validate --in data/dedup/records.parquet --out data/validate \\
        --reports reports/validate --metrics metrics/validate.json
    """
    parameters = suite_parameters(params_path)
    result = validate(in_path, out_dir, reports_dir, metrics_path, suite, parameters)
    for line in warning_lines(result):
        click.echo(line, err=True)
    click.echo(f"validate: {summary_line(result)}; records written to {out_dir / 'records.parquet'}")


def main() -> None:
    cli(prog_name="python -m stages.validate")


if __name__ == "__main__":
    main()
