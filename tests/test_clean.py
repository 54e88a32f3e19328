"""Stage `clean`: CLI, stage contract outputs, metrics, determinism, and the real-data sample."""

import json
import re
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from stages.clean.__main__ import cli
from stages.clean.filters import SCORE_COLUMNS
from stages.clean.records import clean_records
from stages.ingest.sources import parse_source
from stages.lib.record import RECORD_SCHEMA, REJECTED_SCHEMA, records_frame
from tests.clean.fixtures import PROSE, clean_params, frame, row, settings, sources_params

SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "coig-cqia-sample"
QUESTION = "怎样才能坚持每天读书？"


def write_raw(root: Path) -> Path:
    raw = root / "raw"
    zhihu = frame(
        row("1", QUESTION, output=PROSE + "\n有问题发邮件到 reader@example.com 或打电话13812345678。"),
        row("2", "<p>什么是&nbsp;HTML？</p>", output="<p>一种标记语言，" + PROSE + "</p>"),
        row("3", "好", output="行"),
    )
    ruozhiba = frame(row("4", "既然冰是水做的，为什么冰比水硬？", output="", source="ruozhiba"))
    for name, data in (("cqia_zhihu", zhihu), ("ruozhiba_best", ruozhiba)):
        (raw / name).mkdir(parents=True)
        data.write_parquet(raw / name / "records.parquet")
    return raw


def run_cli(tmp_path: Path, raw: Path, params: dict, out: str = "clean", extra: tuple = ()) -> tuple:
    params_path = tmp_path / "params.yaml"
    names = [d.name for d in sorted(raw.glob("*")) if d.is_dir()] or ["ruozhiba_absent"]  # the sources scraped
    params_path.write_text(yaml.safe_dump({"clean": params, "sources": sources_params(names)}, allow_unicode=True),
                           encoding="utf-8")
    args = ["--in", str(raw), "--out", str(tmp_path / out), "--metrics", str(tmp_path / f"{out}.json"),
            "--params", str(params_path), *extra]
    return CliRunner().invoke(cli, args)


def test_cli_writes_the_stage_contract_outputs(tmp_path):
    raw = write_raw(tmp_path)
    result = run_cli(tmp_path, raw, clean_params())
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "clean: 4 in, 3 kept, 1 dropped (clean_too_short 1)"
    kept = pl.read_parquet(tmp_path / "clean" / "records.parquet")
    rejected = pl.read_parquet(tmp_path / "clean" / "rejected.parquet")
    assert kept.columns == [*RECORD_SCHEMA.names(), *SCORE_COLUMNS]
    assert rejected.columns == [*REJECTED_SCHEMA.names(), *SCORE_COLUMNS]
    assert kept["id"].to_list() == sorted(kept["id"].to_list())
    metrics = json.loads((tmp_path / "clean.json").read_text())
    assert metrics["rows_in"] == metrics["rows_kept"] + sum(metrics["rows_dropped"].values()) == 4
    assert metrics["rows_dropped"] == {"clean_too_short": 1}
    assert metrics["pii"] == {"bank_card": 0, "email": 1, "id_card": 0, "phone": 1, "secret_key": 0, "secret_kv": 0,
                              "secret_url": 0}
    assert metrics["transforms"] == {"clean:html": 1, "clean:whitespace": 1, "pii:email": 1, "pii:phone": 1}
    first = kept.filter(pl.col("instruction") == QUESTION).row(0, named=True)
    assert first["output"].endswith("有问题发邮件到 <EMAIL> 或打电话<PHONE>。")
    assert first["transforms"] == ["pii:phone", "pii:email"]
    html = kept.filter(pl.col("transforms").list.contains("clean:html")).row(0, named=True)
    assert html["instruction"] == "什么是 HTML？" and html["output"].startswith("一种标记语言，")


def test_outputs_are_byte_identical_across_runs(tmp_path):
    raw = write_raw(tmp_path)
    for out in ("a", "b"):
        assert run_cli(tmp_path, raw, clean_params(), out=out).exit_code == 0
    for name in ("records.parquet", "rejected.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    strip = lambda p: {k: v for k, v in json.loads(p.read_text()).items() if k != "seconds"}  # noqa: E731
    assert strip(tmp_path / "a.json") == strip(tmp_path / "b.json")


def test_clear_errors(tmp_path):
    result = run_cli(tmp_path, tmp_path / "nowhere", clean_params())
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path / 'nowhere' / 'ruozhiba_absent' / 'records.parquet'}: not found; "
                             "source 'ruozhiba_absent' is configured but not scraped "
                             "(run: dvc repro scrape@ruozhiba_absent)\n")
    raw = write_raw(tmp_path)
    bad = clean_params()
    bad["defaults"]["max_line_rep"] = 2
    result = run_cli(tmp_path, raw, bad)
    assert result.exit_code == 1 and "clean.defaults.max_line_rep: must be between 0 and 1" in result.output


def test_a_by_source_typo_fails_with_one_line(tmp_path):
    raw = write_raw(tmp_path)
    params = clean_params()
    params["by_source"]["zhihuu"] = {"min_chars": 2}
    result = run_cli(tmp_path, raw, params)
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path / 'params.yaml'}: clean.by_source.zhihuu: names no configured subset "
                             "(did you mean zhihu?); configured: ruozhiba, zhihu\n")


def test_the_quality_flag_is_gone(tmp_path):
    """The quality classifier runs after clean (train_quality); clean takes no model."""
    raw = write_raw(tmp_path)
    result = run_cli(tmp_path, raw, clean_params(), extra=("--quality-model", str(tmp_path / "model.bin")))
    assert result.exit_code == 2 and result.output.endswith("Error: No such option '--quality-model'.\n")


def test_rows_in_equals_kept_plus_dropped_on_a_written_sample():
    rows = [row(str(i), f"第{i}个问题：{QUESTION}", output="" if i % 3 == 0 else f"{PROSE}第{i}条补充。")
            for i in range(30)]
    rows += [row("x", "Write in English please.", output="Sure, here is an English answer for you. " * 3)]
    kept, rejected, _ = clean_records(frame(*rows), settings())
    assert kept.height + rejected.height == len(rows)
    assert kept.height == 20 and set(rejected["reason"]) == {"clean_empty_output", "clean_not_chinese"}


@pytest.mark.skipif(not SHARED_SAMPLE.is_dir(), reason="shared COIG-CQIA sample not available")
def test_real_sample_keeps_the_invariant_and_code_blocks(tmp_path):
    raw_rows = []
    for path in sorted(SHARED_SAMPLE.glob("*.jsonl")):
        kept_rows, _ = parse_source("cqia_" + path.stem, {"kind": "cqia_jsonl", "path": str(path)}).read_files()
        raw_rows += kept_rows
    records = records_frame(raw_rows)
    kept, rejected, extra = clean_records(records, settings(max_chars=16000))
    assert kept.height + rejected.height == records.height > 300
    assert rejected.height <= 0.05 * records.height
    fences = re.compile(r"```[\s\S]*?(?:```|$)")
    before = dict(zip(records["id"], records["output"]))
    for record_id, output in zip(kept["id"], kept["output"]):
        assert fences.findall(output) == fences.findall(before[record_id])
    assert extra["transforms"]["clean:whitespace"] > 0


def test_only_configured_sources_are_read(tmp_path):
    """A source removed from params.yaml leaves data/raw/<name>/ behind; clean never reads it."""
    raw = write_raw(tmp_path)
    params_path = tmp_path / "params.yaml"
    params = clean_params()
    params["by_source"] = {}  # ruozhiba is no longer configured: its override goes too
    params_path.write_text(yaml.safe_dump({"clean": params, "sources": sources_params(["cqia_zhihu"])}))
    args = ["--in", str(raw), "--out", str(tmp_path / "clean"), "--metrics", str(tmp_path / "clean.json"),
            "--params", str(params_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "clean.json").read_text())["rows_in"] == 3  # not the 4th, ruozhiba_best's
    written = pl.concat([pl.read_parquet(tmp_path / "clean" / f) for f in ("records.parquet", "rejected.parquet")],
                        how="diagonal")
    assert "ruozhiba" not in written["source"].to_list()


def test_empty_input_gives_empty_outputs(tmp_path):
    from stages.lib.record import empty_records

    (tmp_path / "raw" / "src").mkdir(parents=True)
    empty_records().write_parquet(tmp_path / "raw" / "src" / "records.parquet")
    params = clean_params()
    params["by_source"] = {}  # only `src` is configured
    result = run_cli(tmp_path, tmp_path / "raw", params)
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(tmp_path / "clean" / "records.parquet").height == 0
    assert json.loads((tmp_path / "clean.json").read_text())["rows_in"] == 0
