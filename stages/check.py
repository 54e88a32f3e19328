"""Check params.yaml before DVC acts on it: one line per problem, exit 1 when there is any.

Run it after every edit of params.yaml (`make run` runs it before `dvc repro`).
DVC builds the stages' output paths from params before any stage runs: a source
named `../../../victim` becomes the output `data/raw/../../../victim`, and
`dvc repro` (also `dvc repro -s "scrape@../../../victim"`) deletes that folder,
outside the repository, before our own code is reached. This command refuses
such a name, and checks every other section with the validator its stage uses
at load (sources with their globs and paths, clean, normalize, dedup, validate,
rule, model, rewrite, familiarity, assemble, train, evaluate, train_quality).

Example:
    python -m stages.check              # or: cqia-check --params params.yaml
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from stages.ingest.sources import parse_source
from stages.lib.errors import StageError
from stages.lib.params import load_params

# section -> (module, validator): the function the stage itself calls on its section at load
SECTION_VALIDATORS: dict[str, tuple[str, str]] = {
    "clean": ("stages.cleaning.filters", "parse_clean_settings"),
    "normalize": ("stages.normalize", "parse_normalize_settings"),
    "train_quality": ("stages.train_quality", "parse_train_settings"),
    "dedup": ("stages.dedupe.config", "parse_params"),
    "model": ("stages.llm.base", "parse_model_settings"),
    "rewrite": ("stages.llm.settings", "parse_rewrite_settings"),
    "familiarity": ("stages.familiarity", "parse_familiarity_settings"),
    "assemble": ("stages.assemble", "parse_params"),
    "train": ("stages.train", "parse_params"),
    "evaluate": ("stages.evaluate", "parse_params"),
    "engine": ("stages.engine.config", "parse_engine"),
}
OTHER_KEYS = {"sources", "validate", "rule"}
CHECK_ERRORS = (ValueError, TypeError, KeyError, AttributeError, StageError)


def _problem(check: Callable[[], Any]) -> str | None:
    try:
        check()
    except CHECK_ERRORS as exc:
        return str(exc) if isinstance(exc, (ValueError, StageError)) else f"{type(exc).__name__}: {exc}"
    return None


def source_problems(raw: Any, root: Path) -> list[str]:
    """Each source on its own, so every bad one gets its line; then its `path` must exist."""
    if not isinstance(raw, dict) or not raw:
        return ["params.yaml: sources: must be a non-empty mapping of source name to settings"]
    problems = []
    for name, settings in raw.items():
        problem = _problem(lambda: parse_source(name, settings))
        if problem is None and not (root / str(settings["path"])).exists():
            problem = f"params.yaml: sources.{name}.path: {settings['path']} not found"
        if problem:
            problems.append(problem)
    return problems


def params_problems(params_path: Path, rules_path: Path) -> list[str]:
    """Every problem in the params file, one line each (the file itself unreadable: one line)."""
    try:
        params = load_params(params_path)
    except ValueError as exc:
        return [str(exc)]
    root = params_path.parent
    problems = source_problems(params.get("sources"), root) if "sources" in params else []
    for section in sorted(set(SECTION_VALIDATORS) | OTHER_KEYS):
        if section not in params:
            problems.append(f"{params_path}: missing section '{section}'")
    for section, (module, name) in SECTION_VALIDATORS.items():
        if section in params:
            validator = getattr(importlib.import_module(module), name)
            problems.append(_problem(lambda: validator(params[section])))
    if "validate" in params and "sources" in params:
        from stages.validate import suite_parameters

        problems.append(_problem(lambda: suite_parameters(params_path)))
    if "rule" in params:
        from stages.llm.rules import load_catalog

        problems.append(_problem(lambda: load_catalog(rules_path).resolve(params["rule"])))
    for section in sorted(set(params) - set(SECTION_VALIDATORS) - OTHER_KEYS):
        problems.append(f"{params_path}: unknown section '{section}' (no stage reads it; a typo?)")
    unique: dict[str, None] = {}
    for problem in problems:
        if problem:
            unique.setdefault(" ".join(problem.split()), None)
    return list(unique)


@click.command(help=__doc__.split("\n\n")[0])
@click.option("--params", "params_path", default="params.yaml", show_default=True,
              type=click.Path(path_type=Path), help="Params file to check.")
@click.option("--rules", "rules_path", default="schemas/rules.yaml", show_default=True,
              type=click.Path(path_type=Path), help="Rule catalog that `rule` must name a rule of.")
def cli(params_path: Path, rules_path: Path) -> None:
    """Example: python -m stages.check --params params.yaml"""
    problems = params_problems(params_path, rules_path)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"{params_path}: OK")


def main() -> None:
    cli(prog_name="python -m stages.check")


if __name__ == "__main__":
    main()
