"""Great Expectations validation shared by the validate, rewrite and assemble stages.

    from stages.validate import run_suite, write_reports, failure_message
    result = run_suite(frame, "records", {"min_rows": 100, "configured_sources": ["zhihu", ...]})
    write_reports(result, "reports/validate", source="data/dedup/records.parquet")
    if not result.success:
        raise StageError(failure_message(result, "reports/validate/records.md"))

See README.md in this folder for what the suites check.
"""

from stages.validate.report import failure_message, metrics, write_reports
from stages.validate.runner import MAX_IDS, Outcome, SuiteResult, run_suite

__all__ = ["MAX_IDS", "Outcome", "SuiteResult", "failure_message", "metrics", "run_suite", "write_reports"]
