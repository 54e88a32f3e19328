"""Audit tells the truth: uncached revisions say so, SFT JSONL moves are shown."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from stages.audit import cli
from stages.auditing.report import jsonl_moves
from stages.auditing.revisions import Side
from stages.auditing.stages import Pipeline, StageInfo
from tests.auditing.repo_builder import commit, dvc, git


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
