"""Stage `validate`: params, pass-through of valid records, the clear failure, and `dvc repro` stopping at it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from stages.ingest.sources import parse_sources
from stages.ingest.subsets import configured_subsets
from stages.lib.record import RECORD_SCHEMA, REJECTED_SCHEMA
from stages.validate.__main__ import cli
from stages.validate.stage import suite_parameters
from tests.validate.samples import MAX_CHARS, SOURCES, clean_section, sample_records
from tests.project import project, tiny_setup

ROOT = Path(__file__).resolve().parents[1]


def write_params(path: Path, min_rows=5, **extra) -> Path:
    sources = {f"src_{s}": {"kind": "cqia_jsonl", "path": f"data/sample/{s}.jsonl", "subset": s} for s in SOURCES}
    path.write_text(yaml.safe_dump({"sources": sources, "validate": {"min_rows": min_rows, **extra},
                                    "clean": clean_section()}), encoding="utf-8")
    return path


def broken_records() -> pl.DataFrame:
    """The sample with the id of its first record repeated and a phone number left in one answer."""
    sample = sample_records()
    row = pl.int_range(pl.len())
    return sample.with_columns(
        pl.when(row == 1).then(pl.col("id").first()).otherwise(pl.col("id")).alias("id"),
        pl.when(row == 3).then(pl.col("output") + "如需帮助请拨打 13812345678。").otherwise(pl.col("output")).alias("output"),
    )


def expected_failure(frame: pl.DataFrame, report: str) -> str:
    ids = frame["id"].to_list()
    return "\n".join([
        f"Error: validation failed: suite 'records' has 2 failed critical expectation(s) on 12 rows (report: {report})",
        "  - [critical] expect_column_values_to_be_unique(id): record ids are unique; "
        f"observed: 2 of 12 rows unexpected (16.67%); ids: {ids[0]}",
        "  - [critical] expect_column_values_to_be_between(pii_phone, max_value=0): no phone numbers left "
        f"(the clean stage masks them); observed: 1 of 12 rows unexpected (8.33%), e.g. pii_phone = 1; ids: {ids[3]}",
    ])


def invoke(tmp_path: Path, frame: pl.DataFrame, params: Path):
    frame.write_parquet(tmp_path / "in.parquet")
    args = ["--in", str(tmp_path / "in.parquet"), "--out", str(tmp_path / "out"), "--reports",
            str(tmp_path / "reports"), "--metrics", str(tmp_path / "m.json"), "--params", str(params)]
    return CliRunner().invoke(cli, args)


def test_configured_subsets_come_from_the_sources_section(tmp_path):
    (tmp_path / "cqia").mkdir()
    for name in ("zhihu.jsonl", "Logi-QA.jsonl"):
        (tmp_path / "cqia" / name).write_text("", encoding="utf-8")
    sources = parse_sources({
        "a": {"kind": "cqia_jsonl", "path": str(tmp_path / "cqia")},
        "b": {"kind": "cqia_jsonl", "path": "data/douban.jsonl"},
        "c": {"kind": "cqia_jsonl", "path": "data/x.jsonl", "subset": "wiki"},
        "d": {"kind": "ruozhiba_dump", "path": "data/best.json"},
    })
    assert configured_subsets(sources) == ["douban", "logi_qa", "ruozhiba", "wiki", "zhihu"]


def test_the_project_params_configure_the_validate_stage():
    parameters = suite_parameters(project() / "params.yaml")
    assert parameters["min_rows"] >= 1
    assert "zhihu" in parameters["configured_sources"] and "ruozhiba" in parameters["configured_sources"]


@pytest.mark.parametrize(("settings", "message"), [
    ({"min_rows": -1}, "validate.min_rows: must be a whole number >= 0, got -1"),
    ({"min_rows": 5, "suite": "records"}, "validate.suite: unknown key; allowed: min_rows, min_zh_share"),
])
def test_bad_params_stop_with_one_line(tmp_path, settings, message):
    params = write_params(tmp_path / "params.yaml")
    data = yaml.safe_load(params.read_text(encoding="utf-8")) | {"validate": settings}
    params.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        suite_parameters(params)


def test_valid_records_pass_through_unchanged_with_reports_and_metrics(tmp_path):
    frame = sample_records()
    result = invoke(tmp_path, frame, write_params(tmp_path / "params.yaml"))
    assert result.exit_code == 0, result.output
    assert ("validate: 12 in, 12 kept, 0 dropped; suite 'records' passed on 12 rows: 33 of 33 expectations passed"
            in result.output)
    out = pl.read_parquet(tmp_path / "out" / "records.parquet")
    assert out.equals(frame) and out.schema == RECORD_SCHEMA
    assert pl.read_parquet(tmp_path / "out" / "rejected.parquet").schema == REJECTED_SCHEMA
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["rows_in"] == metrics["rows_kept"] == 12 and metrics["rows_dropped"] == {}
    assert metrics["success"] is True
    assert metrics["expectations"]["by_severity"]["critical"] == {"evaluated": 31, "passed": 31, "failed": 0}
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["records.html", "records.json", "records.md"]


def test_a_failed_critical_expectation_stops_the_stage_and_writes_no_records(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "records.parquet").write_bytes(b"stale")
    frame = broken_records()
    result = invoke(tmp_path, frame, write_params(tmp_path / "params.yaml"))
    assert result.exit_code == 1
    assert result.output.strip() == expected_failure(frame, f"{tmp_path}/reports/records.md")
    assert not (tmp_path / "out" / "records.parquet").exists()
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["success"] is False and metrics["expectations"]["failed"] == 2
    assert "FAILED" in (tmp_path / "reports" / "records.md").read_text(encoding="utf-8")


def test_missing_input_and_wrong_column_types_are_clear_errors(tmp_path):
    params = write_params(tmp_path / "params.yaml")
    result = CliRunner().invoke(cli, ["--in", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "o"),
                                      "--reports", str(tmp_path / "r"), "--metrics", str(tmp_path / "m.json"),
                                      "--params", str(params)])
    assert result.exit_code == 1 and result.output.strip() == f"Error: {tmp_path}/nope.parquet: input not found"
    as_text = sample_records().with_columns(pl.col("human_verified").cast(pl.String))
    result = invoke(tmp_path, as_text, params)
    assert result.exit_code == 1
    assert "column types differ from the record schema: human_verified is String (expected Boolean)" in result.output


# --- real DVC -----------------------------------------------------------------------------------


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.mark.e2e
def test_dvc_repro_stops_at_validate_on_bad_data_with_the_clear_message(tmp_path):
    """A repo with the project's `validate` stage (from dvc.yaml) reading a parquet file the test writes."""
    repo = tmp_path / "repo"
    for folder in ("stages", "schemas"):
        shutil.copytree(project() / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    tiny_setup(shutil.copy2(project() / "params.yaml", repo / "params.yaml"))
    stage = yaml.safe_load((project() / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["validate"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"validate": stage}}, sort_keys=False), encoding="utf-8")
    (repo / "data" / "dedup").mkdir(parents=True)
    frame = broken_records()
    frame.write_parquet(repo / "data" / "dedup" / "records.parquet")
    run(["git", "init", "-q", "-b", "main"], repo)
    run([sys.executable, "-m", "dvc", "init", "-q"], repo)

    failed = run([sys.executable, "-m", "dvc", "repro"], repo, check=False)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert expected_failure(frame, "reports/validate/records.md") in output
    assert "failed to reproduce 'validate'" in output
    assert not (repo / "data" / "validate" / "records.parquet").exists()
    assert (repo / "reports" / "validate" / "records.md").is_file(), "the report stays for the user to open"

    sample_records().write_parquet(repo / "data" / "dedup" / "records.parquet")
    passed = run([sys.executable, "-m", "dvc", "repro"], repo)
    assert "suite 'records' passed on 12 rows" in passed.stdout + passed.stderr
    assert pl.read_parquet(repo / "data" / "validate" / "records.parquet").equals(sample_records())
    assert json.loads((repo / "metrics" / "validate.json").read_text())["success"] is True


def test_min_zh_share_is_passed_to_the_suites_only_when_set(tmp_path):
    sources = {"mmlu_en": {"kind": "mmlu_csv", "path": "data/sample/mmlu/train"}}
    path = tmp_path / "params.yaml"
    clean = clean_section()
    path.write_text(yaml.safe_dump({"validate": {"min_rows": 1, "min_zh_share": None}, "sources": sources,
                                    "clean": clean}))
    assert "min_zh_share" not in suite_parameters(path)  # the suite's default (0.2) applies
    path.write_text(yaml.safe_dump({"validate": {"min_rows": 1, "min_zh_share": 0}, "sources": sources,
                                    "clean": clean}))
    assert suite_parameters(path) == {"min_rows": 1, "configured_sources": ["mmlu"], "min_zh_share": 0.0,
                                      "max_chars": MAX_CHARS, "chinese_sources": ["mmlu"]}
    path.write_text(yaml.safe_dump({"validate": {"min_rows": 1, "min_zh_share": 2}, "sources": sources,
                                    "clean": clean}))
    with pytest.raises(ValueError, match=r"validate.min_zh_share: must be a number in \[0, 1\], got 2"):
        suite_parameters(path)


# --- params.yaml: validate, one failure per test (exact text) ---------------------------------------


def params_error(tmp_path: Path, settings: dict) -> str:
    params = write_params(tmp_path / "params.yaml")
    data = yaml.safe_load(params.read_text(encoding="utf-8")) | {"validate": settings}
    params.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValueError) as failed:
        suite_parameters(params)
    return str(failed.value).removeprefix(f"{params}: ")


def test_min_rows_of_the_wrong_type_is_named(tmp_path):
    assert params_error(tmp_path, {"min_rows": "10"}) == "validate.min_rows: must be an integer, got '10'"


def test_min_rows_is_required(tmp_path):
    assert params_error(tmp_path, {"min_zh_share": 0.2}) == "validate.min_rows: missing required key"


def test_a_non_finite_min_zh_share_is_refused(tmp_path):
    assert params_error(tmp_path, {"min_rows": 1, "min_zh_share": float("nan")}) == (
        "validate.min_zh_share: must be a finite number, got .nan")


def test_a_bool_min_zh_share_is_not_a_number(tmp_path):
    assert params_error(tmp_path, {"min_rows": 1, "min_zh_share": True}) == (
        "validate.min_zh_share: must be a number, got True")


def test_a_misspelt_key_gets_a_suggestion(tmp_path):
    assert params_error(tmp_path, {"min_row": 1}) == (
        "validate.min_row: unknown key (did you mean min_rows? it is missing); allowed: min_rows, min_zh_share")


# --- one source of truth for lengths: clean's limits bound the suites ------------------------------


def long_text(chars: int, seed: int) -> str:
    """Varied Chinese prose of exactly `chars` characters (no repeated chunks, nothing flagged)."""
    import random

    pool = "春夏秋冬山水花草树木日月星云风雨雪江河湖海田园城市书画琴棋诗词歌赋桥路灯窗门"
    rng, parts = random.Random(seed), []
    while sum(map(len, parts)) < chars:
        parts.append("".join(rng.choice(pool) for _ in range(rng.randint(12, 30))) + "。")
    return "".join(parts)[:chars]


def test_a_record_clean_keeps_at_its_sources_limit_passes_validate(tmp_path):
    """clean keeps a segmentfault question of 8,463 characters (over the suites' old 8,000) and a record of
    exactly its source's max_chars, drops one character more with the reason and the threshold, and
    validate, whose `max_chars` is the largest clean limit, passes every record clean kept."""
    from stages.clean.__main__ import cli as clean_cli
    from tests.clean.fixtures import clean_params, frame, row, sources_params

    question = long_text(8463, 1)
    records = frame(
        row("1", question, output=long_text(30000 - 8463, 2), source="segmentfault"),  # at the limit
        row("2", question, output=long_text(30001 - 8463, 3), source="segmentfault"),  # one over
        row("3", long_text(40, 4), output=long_text(16000 - 40, 5)),  # zhihu: at the default limit
        row("4", long_text(40, 6), output=long_text(16001 - 40, 7)),
        *[row(str(i), long_text(30, 10 + i), output=long_text(200, 20 + i)) for i in range(5, 10)],
    )
    raw = tmp_path / "raw" / "cqia_segmentfault"
    raw.mkdir(parents=True)
    records.write_parquet(raw / "records.parquet")
    clean = clean_params(max_chars=16000)
    clean["by_source"] = {"segmentfault": {"min_chinese": 0.2, "max_chars": 30000}}
    names = ["cqia_segmentfault", "cqia_zhihu"]
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"clean": clean, "sources": sources_params(names), "validate": {"min_rows": 5}},
                                     allow_unicode=True), encoding="utf-8")
    (tmp_path / "raw" / "cqia_zhihu").mkdir()
    records.clear().write_parquet(tmp_path / "raw" / "cqia_zhihu" / "records.parquet")
    cleaned = CliRunner().invoke(clean_cli, ["--in", str(tmp_path / "raw"), "--out", str(tmp_path / "clean"),
                                             "--metrics", str(tmp_path / "clean.json"), "--params", str(params)])
    assert cleaned.exit_code == 0, cleaned.output
    assert cleaned.output.strip() == "clean: 9 in, 7 kept, 2 dropped (clean_too_long 2)"
    rejected = pl.read_parquet(tmp_path / "clean" / "rejected.parquet").sort("source")
    assert rejected["detail"].to_list() == ["30001 characters > max_chars 30000", "16001 characters > max_chars 16000"]
    assert suite_parameters(params)["max_chars"] == 30000
    validated = CliRunner().invoke(cli, ["--in", str(tmp_path / "clean" / "records.parquet"),
                                         "--out", str(tmp_path / "out"), "--reports", str(tmp_path / "reports"),
                                         "--metrics", str(tmp_path / "validate.json"), "--params", str(params)])
    assert validated.exit_code == 0, validated.output
    assert "validate: 7 in, 7 kept, 0 dropped" in validated.output


def test_the_suites_length_bound_is_the_largest_clean_limit_of_a_configured_subset(tmp_path):
    params = write_params(tmp_path / "params.yaml")
    data = yaml.safe_load(params.read_text(encoding="utf-8"))
    assert suite_parameters(params)["max_chars"] == MAX_CHARS  # no override: the defaults
    data["clean"] = clean_section(segmentfault={"max_chars": 30000}, wiki={"max_chars": 100})
    params.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert suite_parameters(params)["max_chars"] == 30000
    data["clean"] = clean_section(wiki={"max_chars": 100})  # tighter than the defaults: the defaults still apply
    params.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert suite_parameters(params)["max_chars"] == MAX_CHARS


def test_records_of_a_source_clean_keeps_english_are_not_held_to_the_chinese_share(tmp_path):
    """`clean.by_source.<s>.min_chinese: 0` keeps a source English on purpose (MMLU seeds): the suites'
    Chinese-share check reads the same params and leaves those records alone, however many they are."""
    from tests.validate.samples import english_rows

    frame = pl.concat([sample_records(), english_rows(6)])  # 6 of 18 records English: far over 5%
    data = yaml.safe_load(write_params(tmp_path / "params.yaml").read_text(encoding="utf-8"))
    data["sources"]["src_mmlu"] = {"kind": "mmlu_csv", "path": "data/mmlu", "subset": "mmlu"}
    data["clean"] = clean_section(mmlu={"min_chinese": 0.0})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    assert "mmlu" not in suite_parameters(tmp_path / "params.yaml")["chinese_sources"]
    result = invoke(tmp_path, frame, tmp_path / "params.yaml")
    assert result.exit_code == 0, result.output
    data["clean"] = clean_section()  # clean wants mmlu Chinese too: then the suite does as well
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    refused = invoke(tmp_path, frame, tmp_path / "params.yaml")
    assert refused.exit_code == 1 and "expect_column_values_to_be_between(zh_share" in refused.output
