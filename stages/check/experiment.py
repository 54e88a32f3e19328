"""`python -m stages.exp`: check an experiment's -S values, run `dvc exp run`, restore the workspace on failure.

See stages/exp.py for the command; `run_experiment` is the whole of it. The values are applied with
DVC's own override code (`dvc.utils.hydra.apply_overrides`) to a copy of params.yaml and checked with
`stages.check.params_file.params_problems`; the workspace snapshot is stages/lib/snapshot.py.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import click

from stages.check.params_file import params_problems
from stages.lib.errors import StageError
from stages.lib.params import load_params
from stages.lib.snapshot import Snapshot

PARAMS = Path("params.yaml")
RULES = Path("schemas/rules.yaml")
RUBRIC = Path("schemas/judge/rubric.yaml")
TIMINGS = Path("reports/timings")  # wall times of the stages (stages/lib/timings.py), not a DVC output
NO_WORKSPACE = {"--queue", "--temp", "--run-all"}  # DVC runs these in temporary folders


def overrides_for_params(values: tuple[str, ...]) -> list[str]:
    """The -S values as DVC's override strings for params.yaml (`params.yaml:key=v` or `key=v`)."""
    overrides = []
    for value in values:
        target, sep, rest = value.partition(":")
        if sep and "=" not in target:
            if Path(target) != PARAMS:
                raise StageError(f"-S {value}: only params.yaml is checked here; run `dvc exp run` for {target}")
            value = rest
        overrides.append(value)
    return overrides


def check_overrides(overrides: list[str]) -> list[str]:
    """Every problem of params.yaml with the overrides applied (DVC's override code, on a copy)."""
    from dvc.exceptions import InvalidArgumentError
    from dvc.utils.hydra import apply_overrides

    with tempfile.NamedTemporaryFile("wb", suffix=".yaml", dir=".", prefix=".exp-check-", delete=False) as copy:
        copy.write(PARAMS.read_bytes())
    trial = Path(copy.name)
    try:
        for override in overrides:
            try:
                apply_overrides(trial, [override])
            except InvalidArgumentError as exc:  # DVC sets only keys the file has: name the typo instead
                if override.startswith(("+", "~")) or "=" not in override:
                    return [f"-S {override}: {exc}: {exc.__cause__}".splitlines()[0]]
                apply_overrides(trial, ["+" + override])
        problems = params_problems(trial, RULES, RUBRIC)
    finally:
        trial.unlink(missing_ok=True)
    return [problem.replace(str(trial), str(PARAMS)).replace(trial.name, str(PARAMS)) for problem in problems]


def workspace_paths() -> tuple[list[Path], set[Path]]:
    """What a run may change: params.yaml, dvc.lock, timings, .gitignore files and every stage output; and
    which of them to copy rather than link (persistent outputs are changed in place)."""
    from dvc.repo import Repo

    with Repo(".") as repo:
        outs = [(Path(out.def_path), out.persist) for out in repo.index.outs]
    ignores = subprocess.run(["git", "ls-files", "*.gitignore", ".gitignore"], capture_output=True, text=True,
                             check=False).stdout.split()
    paths = [PARAMS, Path("dvc.lock"), TIMINGS, *map(Path, ignores), *(path for path, _ in outs)]
    return paths, {PARAMS, Path("dvc.lock"), *(path for path, persist in outs if persist)}


def run_experiment(values: tuple[str, ...], dvc_args: tuple[str, ...]) -> int:
    """Check, snapshot (workspace runs), run `dvc exp run`, restore on failure; DVC's exit status."""
    if not PARAMS.is_file() and not PARAMS.is_symlink():
        raise StageError(f"{PARAMS}: not found (run this in the project's folder)")
    load_params(PARAMS)  # refuses a symlinked file (DVC would write through it), duplicate keys, bad encodings
    problems = check_overrides(overrides_for_params(values)) if values else params_problems(PARAMS, RULES, RUBRIC)
    if problems:
        raise StageError("\n".join(problems))
    command = [sys.executable, "-m", "dvc", "exp", "run", *(arg for v in values for arg in ("-S", v)), *dvc_args]
    if NO_WORKSPACE & set(dvc_args):
        return subprocess.run(command, check=False).returncode
    snapshot = Snapshot.take(*workspace_paths())
    status = subprocess.run(command, check=False).returncode
    if status == 0:
        snapshot.discard()
    else:
        snapshot.restore()
        click.echo("stages.exp: the experiment failed; params.yaml, dvc.lock and every stage output were put "
                   "back as they were before it", err=True)
    return status
