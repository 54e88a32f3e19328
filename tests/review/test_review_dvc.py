"""The `review` stage under real DVC in a small repository (the project's review stage alone, fed a records file
we write): decisions.jsonl is a dependency, a decision on text that has since changed is stale, and
`audit trace` / `audit summary` show it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.project import fresh_repo, project, run
from tests.review.helpers import decision, record, sha, write_decisions, write_records

pytestmark = pytest.mark.e2e


def review_only_repo(tmp: Path, rows: list[dict]) -> Path:
    repo = fresh_repo(tmp)
    stage = yaml.safe_load((project() / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["review"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"review": stage}}, sort_keys=False), encoding="utf-8")
    write_records(repo / "data" / "judge" / "records.parquet", rows)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "review stage alone"], repo)
    return repo


def dvc(repo: Path, *args: str) -> str:
    return run([sys.executable, "-m", "dvc", *args], repo).stdout


def audit(repo: Path, *args: str) -> dict:
    return json.loads(run([sys.executable, "-m", "stages.audit", *args, "--json"], repo).stdout)


def test_decisions_apply_under_dvc_and_go_stale_when_the_text_changes(tmp_path):
    ok, bad = record("zhihu-1"), record("zhihu-2", output="五。")
    repo = review_only_repo(tmp_path, [ok, bad])
    dvc(repo, "repro")
    assert pl.read_parquet(repo / "data" / "review" / "records.parquet")["verified_by"].to_list() == [None, None]

    write_decisions(repo / "review" / "decisions.jsonl",
                    [decision(ok, "accept"), decision(bad, "reject", reason="wrong_answer", task="2")])
    assert "Running stage 'review'" in dvc(repo, "repro")  # the decisions file is a dependency
    kept = pl.read_parquet(repo / "data" / "review" / "records.parquet")
    assert kept.select("id", "verified_by").rows() == [("zhihu-1", "ls-aaaaaaaaaaaa")]
    traced = audit(repo, "trace", "zhihu-2")
    assert [(s["stage"], s["status"], s["reason"]) for s in traced["stages"]] == [("review", "rejected", "review_rejected")]
    assert [(r["reviewer"], r["decision"], r["status"]) for r in traced["review"]] == \
        [("ls-aaaaaaaaaaaa", "reject", "applied")]

    changed = {**ok, "output": "答案是 4。"}  # upstream text changed (say, a new normalize rule)
    write_records(repo / "data" / "judge" / "records.parquet", [changed, bad])
    dvc(repo, "repro")
    kept = pl.read_parquet(repo / "data" / "review" / "records.parquet")
    assert kept.select("id", "human_verified", "verified_by").rows() == [("zhihu-1", False, None)]
    metrics = json.loads((repo / "metrics" / "review.json").read_text(encoding="utf-8"))
    assert (metrics["decisions"]["stale"], metrics["decisions"]["applied"]) == (1, 1)
    summary = audit(repo, "summary")
    assert summary["review"]["statuses"] == {"applied": 1, "stale": 1}
    assert [(s["id"], s["sha256"], s["current_sha256"]) for s in summary["review"]["stale"]] == \
        [("zhihu-1", sha(ok), sha(changed))]
    table = run([sys.executable, "-m", "stages.audit", "summary", "--md"], repo).stdout
    assert "## Review (review)" in table and "2 decisions: applied 1; stale 1" in table
