"""The runs that `audit rules` and `audit experiments` compare: DVC experiments and their baseline commits.

Runs are read the way `dvc exp show --json` reports them (DVC's `Repo.experiments.show`): for each
baseline commit and each of its experiments, the whole params file (flattened to dotted keys), the
rule param, `train.seed`, the evaluate metrics (`{"overall": acc, "tasks": {subject: acc}}`),
`rows_kept` of the rewrite and assemble metrics, and the assemble metrics' mean familiarity (ppl) of the
trained records. Runs without the rule param or evaluate metrics are
skipped with a note.

Baselines. The *main baseline* is the run with rule `none` evaluated on the most of the rule runs'
tasks, then the baseline commit itself, then the first by name (`--baseline NAME` picks it). A rule
run's *own baseline* is the rule-`none` run whose params are the same except the rule (same seed,
same selection); without one, the main baseline, with a note giving the `python -m stages.exp`
line that would run the matching one. `--baseline NAME` makes NAME every run's baseline.

Seeds: runs whose params differ only in `train.seed` form one group (`seed_groups`).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from stages.lib.errors import StageError

NONE = "none"
SEED_PARAM = "train.seed"
SELECTION_PREFIX = "assemble."


def _get(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists and empty mappings are leaves."""
    if not isinstance(data, dict) or (not data and prefix):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _data(state: dict[str, Any], kind: str, path: str) -> Any:
    return (((state.get("data") or {}).get(kind) or {}).get(path) or {}).get("data")


def entries(states: list[dict[str, Any]], files: dict[str, str]) -> tuple[list[dict], list[str]]:
    """One run per baseline commit and experiment: name, rev, is_commit, rule, seed, params (flat), overall,
    tasks, toy, rewrites_kept, records_kept, familiarity (the mean ppl of the trained records before tuning,
    metrics/assemble.json `familiarity.train_ppl_mean`). `files`: params_file, param, metrics_file,
    rewrite_metrics_file, assemble_metrics_file."""
    found, notes = [], []

    def add(state: dict[str, Any], is_commit: bool) -> None:
        name = state.get("name") or state["rev"][:7]
        params = _data(state, "params", files["params_file"]) or {}
        metrics = _data(state, "metrics", files["metrics_file"])
        rule = _get(params, files["param"])
        if rule is None or not isinstance(metrics, dict) or not isinstance(metrics.get("tasks"), dict):
            notes.append(f"{name}: skipped (no '{files['param']}' param or no {files['metrics_file']} with 'tasks')")
            return
        flat = flatten(params)
        assembled = _data(state, "metrics", files["assemble_metrics_file"]) or {}
        found.append({"name": name, "rev": state["rev"], "is_commit": is_commit, "rule": str(rule),
                      "seed": flat.get(SEED_PARAM), "params": flat, "overall": metrics.get("overall"),
                      "tasks": dict(metrics["tasks"]), "toy": bool(metrics.get("toy")),
                      "rewrites_kept": (_data(state, "metrics", files["rewrite_metrics_file"]) or {}).get("rows_kept"),
                      "records_kept": assembled.get("rows_kept"),
                      "familiarity": (assembled.get("familiarity") or {}).get("train_ppl_mean")})

    for commit in states:
        if commit.get("rev") == "workspace":
            continue
        add(commit, True)
        for exp_range in commit.get("experiments") or []:
            revs = exp_range.get("revs") or []
            if revs:
                add({**revs[0], "name": exp_range.get("name") or revs[0].get("name")}, False)
    return found, notes


def experiment_states(root: Any, *, all_commits: bool = False, num: int = 1) -> list[dict[str, Any]]:
    """`dvc exp show --json` as Python data (workspace, queued and failed runs left out)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        states = repo.experiments.show(all_commits=all_commits, num=num, hide_queued=True, hide_failed=True,
                                       hide_workspace=True)
        return [state.dumpd() for state in states]


def main_baseline(found: list[dict[str, Any]], name: str | None = None) -> dict[str, Any]:
    baselines = [e for e in found if e["rule"] == NONE]
    if not baselines:
        raise StageError(f"no experiment or commit with rule == {NONE} and metrics: nothing to compare against "
                         f"(run one, e.g. python -m stages.exp -S rule={NONE})")
    if name is not None:
        chosen = [e for e in baselines if e["name"] == name]
        if not chosen:
            raise StageError(f"--baseline {name}: no experiment or commit of that name with rule == {NONE}; "
                             f"candidates: {', '.join(sorted(e['name'] for e in baselines))}")
        return chosen[0]
    rule_tasks = {t for e in found if e["rule"] != NONE for t in e["tasks"]}
    return sorted(baselines, key=lambda e: (-len(rule_tasks & set(e["tasks"])), not e["is_commit"], e["name"]))[0]


def changed(run: dict[str, Any], reference: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The run's params whose values differ from `reference`'s (keys in `skip` left out), sorted by key."""
    keys = sorted(set(run["params"]) | set(reference["params"]))
    return {k: run["params"].get(k) for k in keys
            if k not in skip and run["params"].get(k) != reference["params"].get(k)}


def set_args(values: dict[str, Any]) -> str:
    """`-S key=value ...` as `python -m stages.exp` takes them (shell-quoted)."""
    def text(v: Any) -> str:
        return "null" if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return " ".join(f"-S {shlex.quote(f'{k}={text(v)}')}" for k, v in values.items())


def baseline_of(run: dict[str, Any], found: list[dict[str, Any]], main: dict[str, Any], rule_param: str,
                forced: bool) -> tuple[dict[str, Any], str | None]:
    """(the run's baseline, a note when it is not a matching rule-none run)."""
    if forced:
        return main, None
    matching = [e for e in found if e is not run and e["rule"] == NONE and not changed(run, e, (rule_param,))]
    if matching:
        return sorted(matching, key=lambda e: (not e["is_commit"], e["name"]))[0], None
    if run["rule"] == NONE:
        return main, None
    others = changed(run, main, (rule_param,))
    return main, (f"{run['name']}: no rule={NONE} run with its other params (it differs from {main['name']} in "
                  f"{', '.join(others)}), so it is compared with {main['name']}; for a matching baseline run "
                  f"python -m stages.exp {set_args({rule_param: NONE, **others})}")


def seed_groups(runs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Runs whose params differ only in train.seed, grouped; groups and runs sorted by rule, then name."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        key = json.dumps({k: v for k, v in run["params"].items() if k != SEED_PARAM}, sort_keys=True, default=str)
        groups.setdefault(key, []).append(run)
    def by_seed(e: dict[str, Any]) -> tuple:
        seed = e["seed"]
        return (not isinstance(seed, (int, float)), seed if isinstance(seed, (int, float)) else 0, e["name"])

    ordered = [sorted(g, key=by_seed) for g in groups.values()]
    return sorted(ordered, key=lambda g: (g[0]["rule"], g[0]["name"]))
