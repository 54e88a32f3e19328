"""Failure message, reports and metrics from a suite result."""

from __future__ import annotations

import json

import polars as pl
import pytest

from stages.validate import MAX_IDS, failure_message, metrics, run_suite, write_reports
from stages.validate.report import summary_line, warning_lines
from tests.validate.samples import parameters, sample_records


@pytest.fixture(scope="module")
def broken():
    """15 records: every one has a phone number, one id repeats, and 3 lack fetched_at (a warning)."""
    sample = sample_records()
    new_ids = pl.lit("zhihu-00000000000000a") + pl.int_range(3).cast(pl.String)
    extra = sample.head(3).with_columns(new_ids.alias("id"), pl.lit(None, pl.String).alias("fetched_at"))
    frame = pl.concat([sample, extra]).with_columns(
        pl.concat_str([pl.col("output"), pl.lit("客服电话 13912345678")]).alias("output"),
        pl.when(pl.int_range(pl.len()) == 14).then(pl.col("id").first()).otherwise(pl.col("id")).alias("id"),
    )
    return frame, run_suite(frame, "records", parameters(sample))


def test_failure_message_names_each_failed_critical_expectation_with_observed_value_and_ids(broken):
    frame, result = broken
    ids = frame["id"].to_list()
    assert not result.success
    assert failure_message(result, "reports/validate/records.md") == "\n".join([
        "validation failed: suite 'records' has 2 failed critical expectation(s) on 15 rows "
        "(report: reports/validate/records.md)",
        f"  - [critical] expect_column_values_to_be_unique(id): record ids are unique; "
        f"observed: 2 of 15 rows unexpected (13.33%); ids: {ids[0]}",
        "  - [critical] expect_column_values_to_be_between(pii_phone, max_value=0): no phone numbers left "
        "(the clean stage masks them); observed: 15 of 15 rows unexpected (100.00%), e.g. pii_phone = 1; "
        f"ids: {', '.join(ids[:MAX_IDS])}",
        "  and 1 failed warning/info expectation(s), listed in the report",
    ])


def test_warnings_are_reported_but_do_not_fail_the_run():
    sample = sample_records()
    frame = sample.with_columns(pl.lit(None, pl.String).alias("fetched_at"))
    result = run_suite(frame, "records", parameters(sample))
    assert result.success
    assert warning_lines(result) == [
        "warning: [warning] expect_column_values_to_not_be_null(fetched_at): fetched_at is known (null is allowed "
        "when the capture date is unknown, but provenance is weaker); observed: 12 of 12 rows unexpected (100.00%); "
        f"ids: {', '.join(sample['id'].to_list()[:MAX_IDS])}"
    ]
    assert summary_line(result) == (
        "suite 'records' passed on 12 rows: 32 of 33 expectations passed (critical 31/31, warning 1/2)")


def test_metrics_count_expectations_by_severity(broken):
    _, result = broken
    assert metrics(result) == {
        "suite": "records", "success": False, "rows_validated": 15,
        "expectations": {"evaluated": 33, "passed": 30, "failed": 3, "by_severity": {
            "critical": {"evaluated": 31, "passed": 29, "failed": 2},
            "warning": {"evaluated": 2, "passed": 1, "failed": 1},
            "info": {"evaluated": 0, "passed": 0, "failed": 0},
        }},
    }


def test_reports_list_failures_first_and_keep_the_gx_result(broken, tmp_path):
    _, result = broken
    paths = write_reports(result, tmp_path, source="data/dedup/records.parquet")
    md = paths["md"].read_text(encoding="utf-8")
    assert md.startswith("# Validation report: suite `records`\n")
    assert "| critical | 31 | 29 | 2 |" in md
    table = [line for line in md.splitlines() if line.startswith("| FAILED") or line.startswith("| passed")]
    assert [line.split(" | ")[0] for line in table[:3]] == ["| FAILED"] * 3 and table[3].startswith("| passed")
    html = paths["html"].read_text(encoding="utf-8")
    assert "<script" not in html and "http" not in html.replace('lang="en"', "")
    gx = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert gx["success"] is False and len(gx["results"]) == 33
    assert gx["statistics"]["unsuccessful_expectations"] == 3
    assert "ge_load_time" not in json.dumps(gx)
    assert "13912345678" not in paths["json"].read_text(encoding="utf-8"), "reports must not copy the PII itself"


def test_a_hostile_record_id_is_shown_escaped_in_the_message_and_both_reports(tmp_path):
    """Issue 22 probe 15: ids come from the data; an ESC sequence, an RTL override, `<script>` or `|` in one
    must not act on the terminal, the Markdown table or the page."""
    sample = sample_records()
    hostile = "x\x1b[2J<script>|\u202e"
    frame = sample.with_columns(pl.when(pl.int_range(pl.len()) < 2).then(pl.lit(hostile)).otherwise(pl.col("id"))
                                .alias("id"))
    result = run_suite(frame, "records", parameters(sample))
    message = failure_message(result, "r.md")
    assert "; ids: x\\x1b[2J<script>|⟨U+202E⟩" in message and "\x1b" not in message and "\u202e" not in message
    paths = write_reports(result, tmp_path, source="data/dedup/records.parquet")
    md = paths["md"].read_text(encoding="utf-8")
    assert ("| FAILED | critical | `expect_column_values_to_be_unique(id)` | record ids are unique "
            "| 2 of 12 rows unexpected (16.67%) | `x\\x1b[2J<script>\\|⟨U+202E⟩` |") in md
    page = paths["html"].read_text(encoding="utf-8")
    assert "<td><code>x\\x1b[2J&lt;script&gt;|⟨U+202E⟩</code></td>" in page and "<script" not in page
