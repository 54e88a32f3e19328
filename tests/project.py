"""The project as the tests see it: one copy of its files, taken when the test session starts.

Tests never read or write the working copy's params.yaml, data or metrics (someone may be editing
them while `make test` runs): what they need of the shipped project (params.yaml, dvc.yaml, schemas,
the sample) they read from this copy, and a pipeline runs in a git repository made from it
(`fresh_repo`). The copy holds what a clean clone holds (tracked and untracked-but-not-ignored
files); a fresh repository leaves out its run results (metrics/, reports/, dvc.lock).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RUN_RESULTS = ("metrics", "reports", "dvc.lock")  # top-level paths a fresh repository leaves out


def git_env() -> dict[str, str]:
    """The environment for git and DVC in test repositories (this interpreter's tools first)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid", "DVC_NO_ANALYTICS": "1"}


@functools.cache
def project() -> Path:
    """The session's copy of the project (made on first use; conftest.py makes it at session start)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    copy = Path(tempfile.mkdtemp(prefix="cqia-project-"))
    atexit.register(shutil.rmtree, copy, True)
    for name in listed:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name, follow_symlinks=False)
    return copy


def shipped_params() -> dict[str, Any]:
    """params.yaml as shipped (a new dict on every call: change it freely)."""
    return yaml.safe_load((project() / "params.yaml").read_text(encoding="utf-8"))


# The shipped defaults run SmolLM2-135M on the MMLU-layout seeds (README "A real model offline"): minutes
# of CPU a run. Tests that run the pipeline use the tiny toy model on the Chinese sample instead, with
# these overrides (`dvc exp run -S` syntax; `~key` removes a key). One list, used by `tiny_setup`.
TINY_OVERRIDES = (
    "model.base=tiny", "~sources.mmlu_en", "~clean.by_source.mmlu",
    "rewrite.sources=[]", "rewrite.max_records=8", "rewrite.generation.max_new_tokens=48",
    "rewrite.transformers.batch_size=4", "familiarity.max_length=1024", "familiarity.sources=[]",
    "judge.enabled=true", "train.max_steps=-1", "train.batch_size=8", "train.learning_rate=0.001",
    "train.max_length=768", "train.threads=1", "evaluate.tasks=data/sample/eval", "evaluate.continuation=letter",
    "evaluate.max_per_task=null", "evaluate.threads=1",
)


def tiny_setup(params_file: Path) -> Path:
    """Apply `TINY_OVERRIDES` to `params_file` in place, as `dvc exp run -S` would (comments and layout kept)."""
    from dvc.utils.hydra import apply_overrides

    apply_overrides(str(params_file), list(TINY_OVERRIDES))
    return params_file


def tiny_params() -> dict[str, Any]:
    """The shipped params with `TINY_OVERRIDES` applied (a new dict on every call)."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "params.yaml"
        shutil.copy2(project() / "params.yaml", target)
        return yaml.safe_load(tiny_setup(target).read_text(encoding="utf-8"))


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=git_env(), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def fresh_repo(parent: Path, params: dict[str, Any] | None = None) -> Path:
    """A new git repository holding the project, nothing run yet; params.yaml is `params` when given, else the
    shipped file with `TINY_OVERRIDES` applied (the tiny model: the tests' pipelines run in seconds)."""
    repo = parent / "repo"
    shutil.copytree(project(), repo, symlinks=True,
                    ignore=lambda folder, names: RUN_RESULTS if Path(folder) == project() else ())
    if params is not None:
        (repo / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    else:
        tiny_setup(repo / "params.yaml")
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "copy of the project"], repo)
    return repo
