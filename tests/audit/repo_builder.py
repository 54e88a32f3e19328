"""Build real temp git + DVC repos for the audit tests (shared by the e2e test modules)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
            "DVC_NO_ANALYTICS": "1", "PYTHONPATH": ""}


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], repo)


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def init_repo(repo: Path) -> None:
    """A git + DVC repo holding the project's `stages` package and the mini pipeline."""
    shutil.copytree(ROOT / "stages", repo / "stages", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (repo / "mini").mkdir()
    (repo / "mini" / "__init__.py").write_text("")
    shutil.copy2(HERE / "mini_pipeline.py", repo / "mini" / "pipeline.py")
    (repo / ".gitignore").write_text("__pycache__/\n/reports/timings/\n")
    git(repo, "init", "-q", "-b", "main")
    dvc(repo, "init", "-q")
    dvc(repo, "config", "core.autostage", "true")


def mini_stage(cmd: str, deps: list[str], params: list[str], out: str, metrics: str | None) -> dict[str, Any]:
    stage: dict[str, Any] = {"cmd": f"python -m mini.pipeline {cmd}", "deps": ["mini/pipeline.py", *deps],
                             "outs": [out]}
    if params:
        stage["params"] = params
    if metrics:
        stage["metrics"] = [{metrics: {"cache": False}}]
    return stage


def write_pipeline(repo: Path, *, evaluate: bool = False, predictions: bool = True) -> None:
    """The mini pipeline; `evaluate`: only the fake-model evaluate stage (with its per-question results unless
    `predictions` is false, as before evaluate wrote them)."""
    project = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    stages = {"scrape": project["stages"]["scrape"]}
    if evaluate:
        outs = [{"reports/eval/predictions.jsonl": {"cache": False}}, {"reports/eval/tasks.csv": {"cache": False}}]
        stages = {"evaluate": {"cmd": "python -m mini.pipeline evaluate", "deps": ["mini/pipeline.py"],
                               "params": ["rule", "train", "assemble", "evaluate"],
                               **({"outs": outs} if predictions else {}),
                               "metrics": [{f"metrics/{name}.json": {"cache": False}}
                                           for name in ("eval", "rewrite", "assemble")]}}
    else:
        stages["clean"] = mini_stage("clean", ["data/raw"], ["clean"], "data/clean", "metrics/clean.json")
        stages["dedup"] = mini_stage("dedup", ["data/clean"], [], "data/dedup", "metrics/dedup.json")
        stages["rewrite"] = mini_stage("rewrite", ["data/dedup"], ["rule"], "data/rewrite", "metrics/rewrite.json")
        stages["assemble"] = mini_stage("assemble", ["data/dedup", "data/rewrite"], ["assemble"], "data/sft", None)
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, allow_unicode=True, sort_keys=False),
                                   encoding="utf-8")


def write_params(repo: Path, params: dict[str, Any]) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")


def cqia_line(instruction: str, output: str, **extra: Any) -> str:
    row = {"instruction": instruction, "input": "", "output": output,
           "task_type": {"major": ["问答"], "minor": ["社区问答"]}, "domain": ["通用"],
           "metadata": "暂无元数据信息", "answer_from": "human", "human_verified": True,
           "copyright": "暂无版权及作者信息"}
    return json.dumps(row | extra, ensure_ascii=False)


def cqia_source(name: str, license_text: str = "CC0-1.0") -> dict[str, Any]:
    """A `sources` entry reading inputs/<name>.jsonl (cqia_jsonl) into subset <name>."""
    return {"kind": "cqia_jsonl", "path": f"inputs/{name}.jsonl", "subset": name, "license": license_text,
            "fetched_at": "2026-11-01"}


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
