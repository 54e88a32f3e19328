"""No params value can make DVC delete, chmod or write outside the repository, and a failed experiment
run through `python -m stages.exp` leaves the workspace as it was (real DVC in temporary repositories).

DVC removes (or, for persistent outputs, unprotects: copies and chmods) a stage's outputs before the
stage's command runs, so a check inside the stage would be too late for a path built from a params
key (`data/raw/${key}`). dvc.yaml declares those paths `persist: true, cache: false`: DVC leaves them
alone and our code refuses the key or the symlink first.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from tests.project import fresh_repo, run, tiny_params

pytestmark = pytest.mark.e2e


def fingerprint(root: Path) -> dict[str, tuple]:
    """Every path under `root` with its kind, mode, size, mtime and content hash."""
    seen = {}
    for path in sorted([root, *root.rglob("*")]):
        info = path.lstat()
        if path.is_dir() and not path.is_symlink():  # a folder's own size and mtime follow its entries
            seen[path.relative_to(root).as_posix()] = (info.st_mode,)
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
        seen[path.relative_to(root).as_posix()] = (info.st_mode, info.st_size, info.st_mtime_ns, digest)
    return seen


def victim(parent: Path) -> Path:
    folder = parent / "victim"
    (folder / "inner").mkdir(parents=True)
    (folder / "precious.txt").write_text("keep me\n")
    (folder / "inner" / "secret.txt").write_text("mode 0600\n")
    os.chmod(folder / "inner" / "secret.txt", 0o600)
    return folder


def dvc(repo: Path, *args: str):
    return run([sys.executable, "-m", "dvc", *args], repo, check=False)


@pytest.fixture()
def hostile(tmp_path):
    """A repository whose params name a source `../../../victim` (data/raw/../../../victim is the victim
    folder beside the repository) and one by the victim's absolute path, and whose cqia_zhihu output
    folders are symbolic links to the victim."""
    outside = victim(tmp_path)
    params = tiny_params()
    zhihu = params["sources"]["cqia_zhihu"]
    params["sources"] = {"cqia_zhihu": zhihu, "../../../victim": dict(zhihu), str(outside): dict(zhihu)}
    repo = fresh_repo(tmp_path, params)
    for folder in ("data/raw", "data/archive"):
        (repo / folder / "cqia_zhihu").symlink_to(outside, target_is_directory=True)
    return repo, outside, fingerprint(outside)


def test_no_dvc_command_touches_a_path_outside_the_repository(hostile):
    repo, outside, before = hostile
    attempts = [
        ("repro",), ("repro", "-s", "scrape@../../../victim"), ("repro", "-s", f"scrape@{outside}"),
        ("repro", "-s", "scrape@cqia_zhihu"), ("exp", "run", "-S", "rule=none"),
        ("exp", "run", "--queue", "-S", "rule=none"), ("exp", "run", "--run-all"),
    ]
    for args in attempts:
        result = dvc(repo, *args)
        if args == ("exp", "run", "--run-all"):  # DVC reports a failed queued run but exits 0
            assert "Failed to reproduce experiment" in result.stderr, result.stderr
        elif args != ("exp", "run", "--queue", "-S", "rule=none"):  # queueing itself succeeds
            assert result.returncode != 0, args
        assert fingerprint(outside) == before, f"dvc {' '.join(args)} changed the victim"
    # DVC cannot address a key with dots as a param (`sources.../../../victim`) and stops by itself;
    # the absolute path reaches our code, which refuses it in one line before writing anything
    refused = dvc(repo, "repro", "-s", "scrape@../../../victim")
    assert "Parameters 'sources.../../../victim' are missing from 'params.yaml'" in refused.stderr
    refused = dvc(repo, "repro", "-s", f"scrape@{outside}")  # scrape checks every name: the first bad one
    assert ("Error: params.yaml: sources.../../../victim: source names must match [a-z0-9_]+ (they prefix record "
            "ids and name the stage's output folder data/raw/<name>)\n") in refused.stderr
    assert not (repo / "data" / "raw" / str(outside).lstrip("/")).exists()


def test_a_symlinked_params_file_is_refused_before_dvc_writes_through_it(tmp_path):
    outside = victim(tmp_path)
    repo = fresh_repo(tmp_path)
    (outside / "params.yaml").write_bytes((repo / "params.yaml").read_bytes())
    (repo / "params.yaml").unlink()
    (repo / "params.yaml").symlink_to(outside / "params.yaml")
    before = fingerprint(outside)
    result = run([sys.executable, "-m", "stages.exp", "-S", "rule=blurring_boundaries"], repo, check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("Error: params.yaml: is a symbolic link; params are read only from a real file in the "
                             "repository (copy the file here instead of linking it)\n")
    assert fingerprint(outside) == before


def test_a_failed_experiment_leaves_the_workspace_as_it_was(tmp_path):
    repo = fresh_repo(tmp_path)
    assert dvc(repo, "repro", "validate").returncode == 0
    tracked = ("params.yaml", "dvc.lock", "data", "metrics", "reports")
    before = {name: fingerprint(repo / name) if (repo / name).is_dir() else (repo / name).read_bytes()
              for name in tracked}
    # validate.min_rows far above the sample: validate fails after clean ... dedup re-ran
    result = run([sys.executable, "-m", "stages.exp", "-S", "validate.min_rows=100000",
                  "-S", "dedup.threshold=0.7"], repo, check=False)
    assert result.returncode != 0
    assert "stages.exp: the experiment failed; params.yaml, dvc.lock and every stage output were put back" \
        in result.stderr
    after = {name: fingerprint(repo / name) if (repo / name).is_dir() else (repo / name).read_bytes()
             for name in tracked}
    assert after == before
    assert "changed" not in dvc(repo, "status", "validate").stdout


@pytest.mark.parametrize("value", ["dedup.treshold=0.7", "+dedup.treshold=0.7"])
def test_a_typo_in_an_experiment_value_is_one_line_and_touches_nothing(tmp_path, value):
    repo = fresh_repo(tmp_path)
    before = (repo / "params.yaml").read_bytes()
    result = run([sys.executable, "-m", "stages.exp", "-S", value], repo, check=False)
    assert result.returncode == 1
    assert "params.yaml: dedup.treshold: unknown key (did you mean threshold?" in result.stderr
    assert (repo / "params.yaml").read_bytes() == before
    assert not (repo / "dvc.lock").exists()
