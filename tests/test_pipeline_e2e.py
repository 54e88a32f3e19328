"""End to end with real DVC: copy the repo to a temp dir, commit it, `dvc repro`, `dvc exp run -S`.

These tests are the slowest in the suite (a few DVC runs) and are marked e2e.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid", "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd, check)


def project_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files, as a clean clone would have them."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split("\n")
    return [f for f in out if f and (ROOT / f).is_file() and not f.startswith(("data/raw/", "data/archive/"))]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A fresh git repo holding a copy of the project, with `dvc repro` already run once."""
    repo = tmp_path_factory.mktemp("e2e") / "repo"
    for name in project_files():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    (repo / "dvc.lock").unlink(missing_ok=True)
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "copy of the project"], repo)
    dvc("repro", cwd=repo)
    return repo


def scrape_metrics(repo: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((repo / "metrics" / "scrape").glob("*.json"))}


def test_repro_writes_contract_outputs_for_every_source(repo):
    import yaml

    sources = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))["sources"]
    metrics = scrape_metrics(repo)
    assert set(metrics) == set(sources)
    for name, m in metrics.items():
        assert m["rows_in"] == m["rows_kept"] + sum(m["rows_dropped"].values()), name
        assert (repo / "data" / "raw" / name / "records.parquet").is_file()
        assert (repo / "data" / "raw" / name / "rejected.parquet").is_file()
    dropped = {reason for m in metrics.values() for reason in m["rows_dropped"]}
    assert {"scrape_invalid_json", "scrape_wrong_type", "scrape_invalid_utf8"} <= dropped


def test_second_repro_is_a_no_op_and_forced_rerun_is_byte_identical(repo):
    before = {p: p.read_bytes() for p in (repo / "data" / "raw").rglob("*.parquet")}
    assert "Data and pipelines are up to date." in dvc("repro", cwd=repo).stdout
    dvc("repro", "--force", cwd=repo)
    after = {p: p.read_bytes() for p in (repo / "data" / "raw").rglob("*.parquet")}
    assert before.keys() == after.keys() and all(before[p] == after[p] for p in before)


def test_exp_run_with_a_changed_param_reruns_only_that_source(repo):
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "pipeline run"], repo)
    result = dvc("exp", "run", "-n", "zhihu-later", "-S", "sources.cqia_zhihu.fetched_at=2026-11-02", cwd=repo)
    assert "Running stage 'scrape@cqia_zhihu'" in result.stdout
    assert "Running stage 'scrape@cqia_douban'" not in result.stdout
    shown = json.loads(dvc("exp", "show", "--json", cwd=repo).stdout)
    names = [exp.get("name") for rev in shown for exp in (rev.get("experiments") or [])
             for exp in [exp["revs"][0]]]
    assert "zhihu-later" in names
    import polars as pl

    zhihu = pl.read_parquet(repo / "data" / "raw" / "cqia_zhihu" / "records.parquet")
    assert set(zhihu["fetched_at"].to_list()) == {"2026-11-02"}


def test_push_and_pull_use_the_local_remote_outside_the_repo(repo):
    remote = (repo / ".dvc" / ".." / ".." / "cqia-sft-dvc-store").resolve()
    dvc("push", cwd=repo)
    assert remote.is_dir() and any(remote.rglob("*"))
    target = repo / "data" / "raw" / "cqia_douban" / "records.parquet"
    content = target.read_bytes()
    shutil.rmtree(repo / "data" / "raw")
    shutil.rmtree(repo / ".dvc" / "cache")
    dvc("pull", cwd=repo)
    assert target.read_bytes() == content
