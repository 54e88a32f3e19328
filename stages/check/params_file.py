"""Every problem in a params file, one line each: the sources one by one (and their paths), every other
section with the typed model it declares (`declared_sections`), `rule` against the rule catalog, unknown sections; and
the judge's rubric file (stages/judge/rubric.py), which a syntax error or a missing field would
otherwise stop the judge stage with in the middle of `dvc repro`.

`by_source` keys are checked against the subsets of the configured sources when those parse
(`context={"subsets": ...}`, see stages/lib/params.py `known_subsets`). Paths in params (`sources.*.path`,
`evaluate.tasks`) are looked up as the stages and dvc.yaml read them: relative to the working folder,
not to the params file's folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from stages.ingest.sources import parse_source, parse_sources
from stages.ingest.subsets import configured_subsets
from stages.lib.errors import StageError
from stages.check.sections import declared_sections
from stages.lib.params import FROM_FILE, load_params, parse_section

OTHER_SECTIONS = ("sources", "rule")  # checked on their own: source by source, and against the rule catalog
OPTIONAL_SECTIONS = {"engine"}  # without it the stages run locally (stages.engine.config.load_engine)

CHECK_ERRORS = (ValueError, TypeError, KeyError, AttributeError, StageError)


def problem_of(check: Callable[[], Any]) -> str | None:
    try:
        check()
    except CHECK_ERRORS as exc:
        return str(exc) if isinstance(exc, (ValueError, StageError)) else f"{type(exc).__name__}: {exc}"
    return None


def source_problems(raw: Any, params_path: Path) -> list[str]:
    """Each source on its own, so every bad one gets its line; then its `path` must exist."""
    where = f"{params_path}: sources"
    if not isinstance(raw, dict) or not raw:
        return [f"{where}: must be a non-empty mapping of source name to settings"]
    problems = []
    for name, settings in raw.items():
        problem = problem_of(lambda: parse_source(name, settings, where))
        if problem is None and not Path(str(settings["path"])).exists():
            problem = f"{where}.{name}.path: {settings['path']} not found"
        problems.append(problem)
    return [problem for problem in problems if problem]


def subsets_of(raw: Any, params_path: Path) -> list[str] | None:
    """The configured subsets (what `by_source` keys must name), or None when the sources do not parse."""
    try:
        return configured_subsets(parse_sources(raw, f"{params_path}: sources"))
    except CHECK_ERRORS:
        return None


def section_problem(section: str, raw: Any, params_path: Path, subsets: list[str] | None) -> str | None:
    context = {**FROM_FILE, "subsets": subsets}  # as the stage loads it; no subsets: `sources` itself is bad
    return problem_of(lambda: parse_section(declared_sections()[section], raw, f"{params_path}: {section}", context))


def params_problems(params_path: Path, rules_path: Path, rubric_path: Path) -> list[str]:
    """Every problem in the params file and the rubric file, one line each (the params file itself
    unreadable: one line)."""
    from stages.judge.rubric import load_rubric

    rubric = problem_of(lambda: load_rubric(rubric_path))
    try:
        params = load_params(params_path)
    except ValueError as exc:
        return [str(exc), *([rubric] if rubric else [])]
    known = sorted([*declared_sections(), *OTHER_SECTIONS])
    problems = [f"{params_path}: missing section '{section}'" for section in known
                if section not in params and section not in OPTIONAL_SECTIONS]
    if "sources" in params:
        problems += source_problems(params["sources"], params_path)
    subsets = subsets_of(params.get("sources"), params_path)
    for section in declared_sections():
        if section in params:
            problems.append(section_problem(section, params[section], params_path, subsets))
    tasks = params.get("evaluate", {}).get("tasks") if isinstance(params.get("evaluate"), dict) else None
    if isinstance(tasks, str) and not Path(tasks).is_dir():
        problems.append(f"{params_path}: evaluate.tasks: {tasks} not found (a folder of task CSV files)")
    if "rule" in params:
        from stages.llm.rules import choose_rule

        problems.append(problem_of(lambda: choose_rule(rules_path, params["rule"], f"{params_path}: rule")))
    problems += [f"{params_path}: unknown section '{section}' (no stage reads it; a typo?)"
                 for section in sorted(set(params) - set(known), key=str)]
    problems.append(rubric)
    unique: dict[str, None] = {}
    for problem in problems:
        if problem:
            unique.setdefault(" ".join(problem.split()), None)
    return list(unique)
