"""End to end with real DVC: the whole pipeline in temp git repos made from the project.

Two independent copies each run `dvc repro` (reproducibility across clones),
then one runs experiments over rules (`dvc exp run -S`, a queued sweep). These
are the slowest tests in the suite and are marked e2e.
"""

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

from tests.project import fresh_repo

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e
DATA_STAGES = ("train_quality", "clean", "normalize", "dedup", "validate", "base_model", "rewrite",
               "familiarity", "judge", "review", "assemble")


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


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = fresh_repo(tmp_path_factory.mktemp("e2e-a"))
    dvc("repro", cwd=repo)
    return repo


def lock_outputs(repo: Path) -> dict[str, str]:
    """{stage:path: md5} for every data output in dvc.lock (metrics and reports hold timings, so not those)."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    return {f"{stage}:{out['path']}": out["md5"] for stage, entry in lock.items() for out in entry.get("outs", [])
            if not out["path"].startswith(("metrics/", "reports/"))}


def test_every_stage_keeps_rows_in_equal_kept_plus_dropped(repo):
    sources = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))["sources"]
    metrics = {p.relative_to(repo / "metrics").as_posix(): json.loads(p.read_text())
               for p in (repo / "metrics").rglob("*.json")}
    assert {f"scrape/{name}.json" for name in sources} <= set(metrics)
    contract = {name: m for name, m in metrics.items() if "rows_in" in m}
    assert {"clean.json", "normalize.json", "dedup.json", "rewrite.json", "familiarity.json", "judge.json",
            "assemble.json"} <= set(contract)
    for name, m in contract.items():
        assert m["rows_in"] == m["rows_kept"] + sum(m["rows_dropped"].values()), name
    dropped = {reason for m in contract.values() for reason in m["rows_dropped"]}
    assert {"scrape_invalid_json", "scrape_wrong_type", "scrape_invalid_utf8", "clean_empty_output",
            "dedup_exact", "dedup_near", "assemble_empty_output"} <= dropped


def test_ids_survive_from_ingestion_to_the_sft_set(repo):
    raw = pl.concat([pl.read_parquet(p).select("id", "raw_sha256") for p in (repo / "data" / "raw").glob("*/records.parquet")])
    sft = [json.loads(line) for name in ("train.jsonl", "eval.jsonl")
           for line in (repo / "data" / "sft" / name).read_text(encoding="utf-8").splitlines()]
    assert sft and {row["id"] for row in sft} <= set(raw["id"].to_list())
    manifest = json.loads((repo / "data" / "sft" / "manifest.json").read_text())
    assert set(manifest["upstream"]) >= {"data/validate", "data/dedup", "data/familiarity"}


def test_no_change_repro_is_a_no_op(repo):
    assert "Data and pipelines are up to date." in dvc("repro", cwd=repo).stdout


def test_two_fresh_clones_give_the_same_hash_for_every_output(repo, tmp_path):
    other = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(other)], tmp_path)
    assert not (other / "dvc.lock").exists() and not list((other / "data").rglob("*.parquet"))
    dvc("repro", cwd=other)
    ours, theirs = lock_outputs(repo), lock_outputs(other)
    assert ours.keys() == theirs.keys()
    data_outputs = {k for k in ours if k.split(":")[0].split("@")[0] in ("scrape", *DATA_STAGES)}
    assert {k for k in data_outputs if ours[k] != theirs[k]} == set()
    # training is deterministic on CPU with fixed seeds and one thread: the model matches too
    assert ours["train:models/sft"] == theirs["train:models/sft"]
    assert json.loads((repo / "metrics" / "eval.json").read_text())["tasks"] == \
        json.loads((other / "metrics" / "eval.json").read_text())["tasks"]


def test_push_and_pull_use_the_local_remote_outside_the_repo(repo):
    remote = (repo / ".." / "cqia-sft-dvc-store").resolve()
    dvc("push", cwd=repo)
    assert remote.is_dir() and any(remote.rglob("*"))
    target = repo / "data" / "clean" / "records.parquet"  # data/raw is not cached (dvc.yaml: cache: false)
    content = target.read_bytes()
    shutil.rmtree(target.parent)
    shutil.rmtree(repo / ".dvc" / "cache")
    dvc("pull", cwd=repo)
    assert target.read_bytes() == content
    assert "Data and pipelines are up to date." in dvc("repro", cwd=repo).stdout


def test_rule_experiment_reruns_only_rewrite_and_what_follows(repo):
    commit_run(repo)
    result = dvc("exp", "run", "-n", "blurring", "-S", "rule=blurring_boundaries", cwd=repo)
    assert "Running stage 'rewrite'" in result.stdout
    for upstream in ("scrape@cqia_zhihu", "clean", "dedup", "validate", "base_model"):
        assert f"Running stage '{upstream}'" not in result.stdout
    rewrite = json.loads((repo / "metrics" / "rewrite.json").read_text())
    assert rewrite["rule"] == "blurring_boundaries" and rewrite["rows_in"] > 0


def test_queued_rule_sweep_shows_per_task_accuracy_per_rule(repo):
    run(["git", "checkout", "-q", "--", "."], repo)
    for rule in ("counterintuitive_thinking", "false_premise"):
        dvc("exp", "run", "--queue", "-n", rule, "-S", f"rule={rule}", cwd=repo)
    dvc("exp", "run", "--run-all", "-j", "1", cwd=repo)
    shown = json.loads(dvc("exp", "show", "--json", cwd=repo).stdout)
    by_name = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            rev = exp["revs"][0]
            data = rev.get("data") or {}
            by_name[rev.get("name")] = data
    assert {"counterintuitive_thinking", "false_premise", "blurring"} <= set(by_name)
    for name in ("counterintuitive_thinking", "false_premise"):
        data = by_name[name]
        assert data["params"]["params.yaml"]["data"]["rule"] == name
        tasks = data["metrics"]["metrics/eval.json"]["data"]["tasks"]
        assert set(tasks) >= {"logic", "law", "global_facts"}


def commit_run(repo: Path) -> None:
    """Commit the pipeline run (dvc.lock, metrics, reports) once; later calls only drop uncommitted edits."""
    run(["git", "checkout", "-q", "--", "."], repo)
    if run(["git", "status", "--porcelain"], repo).stdout:
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-qm", "pipeline run"], repo)


def test_a_clone_of_a_committed_run_stays_clean_after_repro(repo, tmp_path):
    """What `make run` does on a fresh clone: every committed file (dvc.lock, metrics, reports) comes out the same."""
    commit_run(repo)
    assert run(["git", "status", "--porcelain"], repo).stdout == ""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    dvc("repro", cwd=clone)
    assert run(["git", "status", "--porcelain"], clone).stdout == ""
    assert (clone / "reports" / "timings" / "base_model.json").is_file()  # timings exist, but are ignored


def test_experiment_table_after_a_rule_experiment_is_readable(repo):
    commit_run(repo)
    if "blurring" not in dvc("exp", "list", "--name-only", cwd=repo).stdout:
        dvc("exp", "run", "-n", "blurring-table", "-S", "rule=blurring_boundaries", cwd=repo)
    table = dvc("exp", "show", "--only-changed", "--md", cwd=repo).stdout
    header = [cell.strip() for cell in table.splitlines()[0].strip().strip("|").split("|")]
    assert len(header) < 25, header
    assert "params.yaml:rule" in header or "rule" in header
    assert not any("seconds" in column or column.startswith("deps") for column in header), header


def test_a_bad_experiment_value_is_refused_by_the_readme_command_before_dvc_starts(repo):
    commit_run(repo)
    dvc("checkout", "--force", cwd=repo)
    failed = run([sys.executable, "-m", "stages.exp", "-S", "assemble.eval_share=1.5"], repo, check=False)
    assert failed.returncode == 1
    assert "params.yaml: assemble.eval_share: must be in [0, 1), got 1.5" in failed.stderr
    assert "python -m stages.exp -S" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert run(["git", "status", "--porcelain"], repo).stdout == ""
    assert "Data and pipelines are up to date." in dvc("repro", cwd=repo).stdout

