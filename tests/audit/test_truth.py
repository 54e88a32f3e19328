"""Audit tells the truth: uncached revisions say so, SFT JSONL moves are shown."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from stages.audit.__main__ import cli
from stages.audit.report import jsonl_moves
from stages.audit.revisions import Side
from stages.audit.pipeline import Pipeline, StageInfo
from tests.audit.repo_builder import commit, dvc, git


def sft_side(root: Path, train: list[str], evaluation: list[str]) -> Side:
    (root / "data" / "sft").mkdir(parents=True)
    for name, ids in (("train.jsonl", train), ("eval.jsonl", evaluation)):
        (root / "data" / "sft" / name).write_text("".join(json.dumps({"id": i}) + "\n" for i in ids))
    (root / "data" / "sft" / "records.parquet").write_bytes(b"")
    return Side(root=root, spec=root.name, kind="workspace", rev=None)


def test_records_moved_between_train_and_eval_are_listed(tmp_path):
    a = sft_side(tmp_path / "a", ["r1", "r2", "r3"], ["r4"])
    b = sft_side(tmp_path / "b", ["r1", "r4"], ["r2", "r3", "r5"])
    pipeline = Pipeline([StageInfo("assemble", "assemble", 0, outs=["data/sft"], record_dir="data/sft")], [])
    assert jsonl_moves(a, b, pipeline, pipeline, limit=1) == [
        {"stage": "assemble", "from": "data/sft/eval.jsonl", "to": "data/sft/train.jsonl", "count": 1, "ids": ["r4"]},
        {"stage": "assemble", "from": "data/sft/train.jsonl", "to": "data/sft/eval.jsonl", "count": 2, "ids": ["r2"]},
    ]


@pytest.mark.e2e
def test_a_revision_whose_data_is_not_cached_says_dvc_pull(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    dvc(repo, "init", "-q")
    (repo / "dvc.yaml").write_text(
        "stages:\n  make:\n    cmd: mkdir -p data/out && echo x > data/out/records.parquet\n"
        "    outs:\n      - data/out\n")
    dvc(repo, "repro")
    commit(repo, "one stage")
    shutil.rmtree(repo / ".dvc" / "cache")
    result = CliRunner().invoke(cli, ["diff", "HEAD", "workspace", "--repo", str(repo)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: HEAD (")
    assert ("the data of 1 output(s) is not in the local DVC cache (data/out); run `dvc pull`" in result.output)
    traced = CliRunner().invoke(cli, ["trace", "some-id", "--rev", "HEAD", "--repo", str(repo)])
    assert traced.exit_code == 1 and "run `dvc pull`" in traced.output


@pytest.mark.e2e
def test_an_output_dvc_does_not_cache_is_not_compared_at_a_revision_that_cannot_show_it(tmp_path):
    """scrape's data/raw/<name> is `cache: false` (dvc.yaml): a git revision has no copy of it, so the diff
    says so instead of calling all its records added."""
    import polars as pl

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    dvc(repo, "init", "-q")
    (repo / ".gitignore").write_text("/data/\n")
    make = "python -c \"import polars as pl, os; os.makedirs('data/raw', exist_ok=True); " \
           "pl.DataFrame({'id': ['r1', 'r2']}).write_parquet('data/raw/records.parquet')\""
    (repo / "dvc.yaml").write_text(
        "stages:\n  scrape:\n    cmd: " + json.dumps(make) + "\n    outs:\n      - data/raw:\n"
        "          cache: false\n          persist: true\n")
    dvc(repo, "repro")
    commit(repo, "one uncached stage")
    assert pl.read_parquet(repo / "data" / "raw" / "records.parquet").height == 2
    result = CliRunner().invoke(cli, ["diff", "HEAD", "workspace", "--repo", str(repo), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["stages"] == []
    assert any(note.startswith("stage scrape: not compared: DVC does not keep its output (cache: false), so HEAD ")
               for note in report["notes"]), report["notes"]
