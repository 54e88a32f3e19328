"""The validate stage's run: the `records` suite on every record, reports, then pass-through or stop.

`validate_records` always writes the reports and the metrics; it writes the records (unchanged, with
an empty `rejected.parquet`, per the stage contract) only when no critical expectation failed, and
removes the old output folder otherwise, so downstream stages read validated data only. The reports
are swapped in with the records (stages/lib/contract.py), so they never describe other data.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

from stages.ingest.subsets import configured_sources
from stages.lib.contract import write_failure_reports, write_stage_outputs
from stages.lib.errors import StageError
from stages.lib.io import write_json
from stages.lib.params import load_section
from stages.lib.record import RECORD_SCHEMA, empty_rejected
from stages.lib.timings import write_timings
from stages.validate.report import failure_message, metrics, write_reports
from stages.validate.runner import SuiteResult, run_suite
from stages.validate.suites import SUITES_DIR, ValidateParams, clean_bounds

DEFAULT_SUITE = SUITES_DIR / "records.json"


def suite_parameters(params_path: str | Path) -> dict[str, Any]:
    """The `records` suite's parameters: `validate.min_rows` (and `min_zh_share`), `configured_sources`,
    and `max_chars`, `chinese_sources` from `clean`."""
    settings = load_section(ValidateParams, params_path)
    subsets = configured_sources(params_path)
    return settings.suite_parameters(subsets, clean_bounds(params_path, subsets))


def schema_problems(frame: pl.DataFrame) -> list[str]:
    """Record columns whose type differs from RECORD_SCHEMA (the suite checks presence and list shapes)."""
    return [f"{name} is {frame.schema[name]} (expected {dtype})" for name, dtype in RECORD_SCHEMA.items()
            if name in frame.schema and frame.schema[name] != dtype]


def validate_records(in_path: Path, out_dir: Path, reports_dir: Path, metrics_path: Path, suite: str | Path,
                     parameters: dict[str, Any]) -> tuple[SuiteResult, dict[str, Any]]:
    """Run the suite, write reports and metrics; pass the records through only if no critical check failed."""
    started = time.perf_counter()
    if not in_path.is_file():
        raise StageError(f"{in_path}: input not found")
    frame = pl.read_parquet(in_path)
    result = run_suite(frame, suite, parameters)

    def reports(folder: Path) -> None:
        write_reports(result, folder, source=in_path.as_posix())

    if not result.success:
        write_failure_reports(out_dir, metrics_path, reports_dir, reports)
        write_json({"rows_in": frame.height, **metrics(result)}, metrics_path)
        write_timings(metrics_path, started)
        raise StageError(failure_message(result, (reports_dir / f"{result.suite}.md").as_posix()))
    problems = schema_problems(frame)
    if problems:
        raise StageError(f"{in_path}: column types differ from the record schema: {'; '.join(problems)}")
    extra = tuple(c for c in frame.columns if c not in RECORD_SCHEMA)
    written = write_stage_outputs("validate", out_dir, metrics_path, kept=frame, rejected=empty_rejected(),
                                  rows_in=frame.height, started=started, extra_columns=extra,
                                  extra_metrics=metrics(result), reports_dir=reports_dir, reports=reports)
    return result, written
