"""Progress in the record stages: scrape reports per input file, clean and normalize work in batches with a
line per batch on standard error (interval 0), their one-line summary on standard output unchanged, and the
same files however the records are cut into batches."""

import json

import polars as pl
import yaml
from click.testing import CliRunner

from stages.clean.__main__ import cli as clean_cli
from stages.engine import batches
from stages.normalize import cli as normalize_cli
from tests.clean.fixtures import clean_params, frame, row, sources_params
from tests.test_clean import write_raw
from tests.test_scrape import invoke, write_cqia, write_params

NORMALIZE = {"opencc_default": "t2s", "opencc_by_source": {}, "width": True, "punct": True}


def run(cli, args: list[str]):
    return CliRunner().invoke(cli, args)


def clean_args(tmp_path, out: str) -> list[str]:
    raw = tmp_path / "raw"
    if not raw.exists():
        write_raw(tmp_path)
        names = sorted(d.name for d in raw.iterdir())
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(
            {"clean": clean_params(), "normalize": NORMALIZE, "sources": sources_params(names)}, allow_unicode=True),
            encoding="utf-8")
    return ["--in", str(raw), "--out", str(tmp_path / out), "--metrics", str(tmp_path / f"{out}.json"),
            "--params", str(tmp_path / "params.yaml")]


def same_outputs(tmp_path, first: str, second: str) -> None:
    for name in ("records.parquet", "rejected.parquet"):
        assert (tmp_path / first / name).read_bytes() == (tmp_path / second / name).read_bytes()
    metrics = [json.loads((tmp_path / f"{out}.json").read_text()) for out in (first, second)]
    for m in metrics:
        m.pop("seconds", None)
    assert metrics[0] == metrics[1]


def progress_on(monkeypatch, rows: int) -> None:
    """Progress on (the tests run with it off), a line at every update, `rows` records per batch."""
    monkeypatch.delenv("CQIA_NO_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("CQIA_PROGRESS_INTERVAL", "0")
    monkeypatch.setattr(batches, "BATCH_ROWS", rows)


def test_clean_reports_each_batch_on_stderr_and_writes_the_same_files(tmp_path, monkeypatch):
    whole = run(clean_cli, clean_args(tmp_path, "whole"))
    assert whole.exit_code == 0 and whole.stderr == ""
    progress_on(monkeypatch, 1)
    batched = run(clean_cli, clean_args(tmp_path, "batched"))
    assert batched.exit_code == 0, batched.output
    assert batched.stdout == whole.stdout == "clean: 4 in, 3 kept, 1 dropped (clean_too_short 1)\n"
    shown = batched.stderr.splitlines()
    assert [line.split(",")[0] for line in shown] == [f"clean: {n} of 4 records ({n / 4:.0%})" for n in (1, 2, 3, 4)] \
        + ["clean: done"]
    same_outputs(tmp_path, "whole", "batched")


def test_normalize_reports_each_batch_and_writes_the_same_files(tmp_path, monkeypatch):
    records = frame(row("1", "體育運動,很好"), row("2", "数据"), row("3", "ＡＢＣ１２３"))
    records.write_parquet(tmp_path / "in.parquet")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"normalize": NORMALIZE, "sources": sources_params(
        ["cqia_zhihu"])}), encoding="utf-8")

    def args(out: str) -> list[str]:
        return ["--in", str(tmp_path / "in.parquet"), "--out", str(tmp_path / out), "--metrics",
                str(tmp_path / f"{out}.json"), "--params", str(tmp_path / "params.yaml")]

    whole = run(normalize_cli, args("whole"))
    progress_on(monkeypatch, 2)
    batched = run(normalize_cli, args("batched"))
    assert batched.exit_code == 0, batched.output
    assert batched.stdout == whole.stdout == "normalize: 3 in, 3 kept, 0 dropped\n"
    assert [line.split(",")[0] for line in batched.stderr.splitlines()] == [
        "normalize: 2 of 3 records (67%)", "normalize: 3 of 3 records (100%)", "normalize: done"]
    same_outputs(tmp_path, "whole", "batched")
    assert set(pl.read_parquet(tmp_path / "batched" / "records.parquet")["instruction"]) == {
        "体育运动，很好", "数据", "ABC123"}


def test_scrape_reports_each_input_file_with_its_share_of_the_input(tmp_path, monkeypatch):
    folder = tmp_path / "cqia"
    folder.mkdir()
    write_cqia(folder / "zhihu.jsonl")
    write_cqia(folder / "wiki.jsonl")
    params = write_params(tmp_path, {"cqia": {"kind": "cqia_jsonl", "path": str(folder)}})
    progress_on(monkeypatch, 1)
    result = invoke(params, tmp_path, "cqia")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("scrape[cqia]: 18 in, 6 kept, 12 dropped (") and result.stdout.count("\n") == 1
    assert [line.split(", ")[0] for line in result.stderr.splitlines()] == [
        "scrape[cqia]: 9 records (50% of the input)", "scrape[cqia]: 18 records (100% of the input)",
        "scrape[cqia]: done"]


def test_dedup_reports_each_pass_and_writes_the_same_files(tmp_path, monkeypatch):
    """dedup's passes (sketch, candidate sets, verify, write) each report progress; the files do not change."""
    from stages.dedup.__main__ import cli as dedup_cli
    from stages.dedup import source
    from tests.test_dedup import planted, write_params

    planted().write_parquet(tmp_path / "in.parquet")
    params = write_params(tmp_path / "params.yaml")

    def args(out: str) -> list[str]:
        return ["--in", str(tmp_path / "in.parquet"), "--out", str(tmp_path / out), "--metrics",
                str(tmp_path / f"{out}.json"), "--params", str(params)]

    whole = run(dedup_cli, args("whole"))
    assert whole.exit_code == 0 and whole.stderr == ""
    progress_on(monkeypatch, 1)
    monkeypatch.setattr(source, "READ_ROWS", 5)
    batched = run(dedup_cli, args("batched"))
    assert batched.exit_code == 0, batched.output
    assert batched.stdout == whole.stdout
    lines = batched.stderr.splitlines()
    for desc, last in (("dedup: sketch", "18 of 18 records (100%)"), ("dedup: candidate sets", "records"),
                       ("dedup: verify", "pairs (100%)"), ("dedup: write", "18 of 18 records (100%)")):
        assert any(line.startswith(desc) and last in line for line in lines), (desc, batched.stderr)
    assert any(line.startswith("dedup: sketch: 5 of 18 records (28%)") for line in lines), batched.stderr
    for name in ("records.parquet", "rejected.parquet", "clusters.parquet"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "batched" / name).read_bytes()
