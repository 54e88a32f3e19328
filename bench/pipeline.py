"""Benchmark: the whole default pipeline from a fresh clone, and a no-change `dvc repro`.

Clones the repository (HEAD) into a temporary directory and times
1. `make run` there: venv creation, pinned install (pip's cache may be warm), `dvc repro`;
2. `dvc repro` again with nothing changed (targets: < 10 minutes and < 10 seconds);
and prints each stage's own `seconds` from its metrics file. With `--sweep` it
then commits the run, queues one experiment per rule of schemas/rules.yaml,
runs them all (`dvc exp run --run-all`), and prints the rule x task table of
`python -m stages.audit rules`.

Usage: python bench/pipeline.py [--sweep] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds


def stage_seconds(repo: Path) -> dict[str, float]:
    found = {}
    for path in sorted((repo / "metrics").rglob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data.get("seconds"), (int, float)):
            found[path.relative_to(repo / "metrics").as_posix()] = data["seconds"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    parser.add_argument("--sweep", action="store_true", help="also run a queued experiment per rule")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cqia-bench-pipeline-"))
    repo = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    load_before = os.getloadavg()[0]
    make_run = timed(["make", "run"], repo, env)
    env["PATH"] = f"{repo / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    no_change = timed([str(repo / ".venv" / "bin" / "dvc"), "repro"], repo, env)
    print(f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"make run (fresh clone, venv + install + dvc repro): {make_run:7.1f} s  (target < 600 s: "
          f"{make_run / 600:.2f} of the budget)")
    print(f"dvc repro, nothing changed:                          {no_change:7.1f} s  (target < 10 s: "
          f"{no_change / 10:.2f} of the budget)")
    print("stage seconds (from metrics/*.json):")
    for name, seconds in stage_seconds(repo).items():
        print(f"  {name:40s} {seconds:8.2f}")
    if args.sweep:
        sweep(repo, env)
    if not args.keep:
        shutil.rmtree(work)


def sweep(repo: Path, env: dict[str, str]) -> None:
    """Queue one experiment per rule, run them all, print timing and the rule x task table."""
    import yaml

    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    timed([*git, "add", "-A"], repo, env)
    timed([*git, "commit", "-qm", "baseline run (rule=none)"], repo, env)
    catalog = yaml.safe_load((repo / "schemas" / "rules.yaml").read_text(encoding="utf-8"))
    rules = [rule["name"] for rule in catalog["rules"]]
    dvc = str(repo / ".venv" / "bin" / "dvc")
    for rule in rules:
        timed([dvc, "exp", "run", "--queue", "-n", rule, "-S", f"rule={rule}"], repo, env)
    seconds = timed([dvc, "exp", "run", "--run-all", "-j", "1"], repo, env)
    print(f"queued sweep over {len(rules)} rules (dvc exp run --run-all -j 1): {seconds:7.1f} s, "
          f"{seconds / len(rules):.1f} s per experiment")
    table = subprocess.run([str(repo / ".venv" / "bin" / "python"), "-m", "stages.audit", "rules", "--md",
                            "--no-chart"], cwd=repo, env=env, capture_output=True, text=True)
    print(table.stdout or table.stderr)


if __name__ == "__main__":
    main()
