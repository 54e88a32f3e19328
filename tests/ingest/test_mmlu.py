"""Source kind `mmlu_csv`: MMLU-layout CSV files become seed records with the subject kept."""

import json
from pathlib import Path

import polars as pl
import pytest

from stages.ingest.sources import parse_source
from stages.ingest.scrape import scrape

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "mmlu"


def source(path: Path, **extra):
    return parse_source("mmlu_en", {"kind": "mmlu_csv", "path": str(path), "license": "CC0-1.0",
                                    "fetched_at": "2026-12-01", **extra})


def test_rows_become_records_with_subject_and_bad_rows_are_rejected_with_file_and_line(tmp_path):
    path = tmp_path / "astronomy_dev.csv"
    path.write_bytes(
        b'Which planet is closest to the Sun?,Venus,Mercury,Earth,Mars,B\n'
        b'"A question, with a comma\nand a line break?",one,two,three,four,d\n'
        b'Too few fields,a,b,c\n'
        b'Bad answer,a,b,c,d,E\n'
        b'\xff\xfe broken,a,b,c,d,A\n'
        b'\n'
        b'Blank option?,a,,c,d,A\n')
    kept, rejected = source(tmp_path, glob="*_dev.csv").read_files()
    assert [r["instruction"] for r in kept] == [
        "Which planet is closest to the Sun?\nA. Venus\nB. Mercury\nC. Earth\nD. Mars",
        "A question, with a comma\nand a line break?\nA. one\nB. two\nC. three\nD. four"]
    assert [r["output"] for r in kept] == ["B. Mercury", "D. four"]
    first = kept[0]
    assert first["task_type"] == {"major": ["astronomy"], "minor": ["multiple_choice"]}
    assert first["domain"] == ["astronomy"] and first["source"] == "mmlu"
    assert first["source_uri"] == f"{path.as_posix()}:1"
    assert json.loads(first["metadata"]) == {"answer": "B", "layout": "mmlu_csv", "split": "dev"}
    assert kept[1]["source_uri"].endswith("astronomy_dev.csv:2")
    assert [(r["reason"], r["detail"].split(": ", 1)[0].rsplit("/", 1)[-1]) for r in rejected] == [
        ("scrape_schema_mismatch", "astronomy_dev.csv:4"), ("scrape_invalid_value", "astronomy_dev.csv:5"),
        ("scrape_invalid_utf8", "astronomy_dev.csv:6"), ("scrape_invalid_value", "astronomy_dev.csv:8")]
    assert "answer must be one of A, B, C, D, got 'E'" in rejected[1]["detail"]


def test_header_layouts_and_a_missing_directory(tmp_path):
    (tmp_path / "logic_val.csv").write_text("id,question,A,B,C,D,answer\n0,Is a square a rectangle?,yes,no,"
                                            "sometimes,never,A\n", encoding="utf-8")
    kept, rejected = source(tmp_path, glob="*_val.csv").read_files()
    assert len(kept) == 1 and not rejected and kept[0]["source_uri"].endswith("logic_val.csv:2")
    with pytest.raises(Exception, match=r"no files match '\*_train.csv' \(sources.mmlu_en.glob\)"):
        source(tmp_path).read_files()
    with pytest.raises(Exception, match=r"input not found \(sources.mmlu_en.path\)"):
        source(tmp_path / "missing").read_files()


def test_the_shipped_train_sample_scrapes_into_four_subjects(tmp_path):
    metrics = scrape(source(SAMPLE / "train"), tmp_path / "out", tmp_path / "archive", tmp_path / "m.json")
    records = pl.read_parquet(tmp_path / "out" / "records.parquet")
    assert metrics["rows_in"] == metrics["rows_kept"] == records.height > 100
    subjects = sorted(set(records["domain"].list.first().to_list()))
    assert subjects == ["chemistry", "elementary_mathematics", "geography", "measurement"]
    assert json.loads((tmp_path / "archive" / "inputs.json").read_text())["kind"] == "mmlu_csv"
