"""`audit rules`: the rule x task matrix of accuracy deltas against `rule=none`.

Experiments are read the way `dvc exp show --json` reports them (DVC's
`Repo.experiments.show`): for each baseline commit and each of its
experiments, the `rule` param (params.yaml) and the metrics file
(`metrics/eval.json` = {"overall": acc, "tasks": {subject: acc}}). Entries
without both are skipped with a note. The baseline is the entry whose rule is
`none` that was evaluated on the most of the rules' tasks (so a profile's
rule=none experiment wins over a commit evaluated on other tasks), then the
baseline commit itself, then the first by name; `--baseline NAME` picks one. Several entries with the same rule are averaged (`n`).
A delta is the rule's accuracy minus the baseline's, per task and overall.

Error bars: when metrics/eval.json carries `stderr` per task (and
`overall_stderr`), as `evaluate` writes it, each delta gets a standard error
sqrt(se_rule^2 + se_baseline^2) (two independent runs). `rewrites_kept` is
`rows_kept` of metrics/rewrite.json. `verdicts` says in words what a reader must
not miss: a rule that kept 0 rewrites (its SFT set is the baseline's, so its
deltas are noise), a rule none of whose deltas is larger than its standard error,
and a toy model (metrics/eval.json `toy: true`) whose accuracies mean nothing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from stages.lib.errors import StageError

RULES_KIND = "cqia-audit-rules"
RULES_VERSION = 1
BASELINE_RULE = "none"


def _get(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def experiment_states(root: Path, *, all_commits: bool = False, num: int = 1) -> list[dict[str, Any]]:
    """`dvc exp show --json` as Python data (workspace, queued and failed runs left out)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        states = repo.experiments.show(all_commits=all_commits, num=num, hide_queued=True, hide_failed=True,
                                       hide_workspace=True)
        return [state.dumpd() for state in states]


def entries(states: list[dict[str, Any]], params_file: str, param: str, metrics_file: str,
            rewrite_metrics_file: str = "metrics/rewrite.json") -> tuple[list[dict], list[str]]:
    """One entry per baseline commit and experiment: name, rev, is_baseline, rule, overall, tasks,
    stderr (per task, or {}), overall_stderr, toy, rewrites_kept (None without rewrite metrics)."""
    found, notes = [], []

    def add(state: dict[str, Any], is_baseline: bool) -> None:
        name = state.get("name") or state["rev"][:7]
        data = state.get("data") or {}
        params = ((data.get("params") or {}).get(params_file) or {}).get("data") or {}
        metrics = ((data.get("metrics") or {}).get(metrics_file) or {}).get("data")
        rule = _get(params, param)
        if rule is None or not isinstance(metrics, dict) or not isinstance(metrics.get("tasks"), dict):
            notes.append(f"{name}: skipped (no '{param}' param or no {metrics_file} with 'tasks')")
            return
        rewrite = ((data.get("metrics") or {}).get(rewrite_metrics_file) or {}).get("data") or {}
        found.append({"name": name, "rev": state["rev"], "is_baseline": is_baseline, "rule": str(rule),
                      "overall": metrics.get("overall"), "tasks": dict(metrics["tasks"]),
                      "stderr": dict(metrics.get("stderr") or {}), "overall_stderr": metrics.get("overall_stderr"),
                      "toy": bool(metrics.get("toy")), "rewrites_kept": rewrite.get("rows_kept")})

    for baseline in states:
        if baseline.get("rev") == "workspace":
            continue
        add(baseline, True)
        for exp_range in baseline.get("experiments") or []:
            revs = exp_range.get("revs") or []
            if revs:
                add({**revs[0], "name": exp_range.get("name") or revs[0].get("name")}, False)
    return found, notes


def _mean(values: list[float]) -> float | None:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return round(sum(nums) / len(nums), 6) if nums else None


def _delta(x: Any, y: Any) -> float | None:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
    return round(x - y, 6) if numbers else None


def _se_of_delta(a: Any, b: Any) -> float | None:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    return round(math.sqrt(a * a + b * b), 6) if numbers else None


def _group_se(values: list[Any]) -> float | None:
    """Standard error of the mean of several runs' accuracies, each with its own standard error."""
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return round(math.sqrt(sum(v * v for v in nums)) / len(nums), 6) if nums and len(nums) == len(values) else None


def verdicts(base: dict[str, Any], rows: list[dict[str, Any]], toy: bool) -> list[str]:
    """Plain sentences about what the matrix can and cannot show."""
    lines = []
    if toy:
        lines.append("The model is a toy (model.base: tiny, well under 10M parameters): its accuracies and "
                     "deltas only show that the pipeline runs, not what a rule does. Use model.base=smollm2-135m "
                     "or a real model.")
    for row in rows:
        if row["rewrites_kept"] == 0:
            lines.append(f"{row['rule']}: kept 0 rewrites, so its SFT set is the baseline's; its deltas are noise "
                         f"(see metrics/rewrite.json rows_dropped for why).")
            continue
        pairs = [(row["delta"][t], row["delta_stderr"][t]) for t in row["delta"]]
        pairs.append((row["delta_overall"], row["delta_overall_stderr"]))
        judged = [(d, se) for d, se in pairs if d is not None and se is not None]
        if not judged:
            lines.append(f"{row['rule']}: no standard errors in the metrics (re-run evaluate to get them); "
                         f"the deltas cannot be judged.")
        elif all(abs(d) <= se for d, se in judged):
            lines.append(f"{row['rule']}: no delta is larger than its standard error: nothing to conclude.")
        else:
            big = [t for t in row["delta"] if row["delta"][t] is not None and row["delta_stderr"][t] is not None
                   and abs(row["delta"][t]) > 2 * row["delta_stderr"][t]]
            lines.append(f"{row['rule']}: " + (f"delta larger than two standard errors on {', '.join(big)}."
                                               if big else "some deltas exceed one standard error, none two: "
                                                           "weak evidence at best."))
    return lines


def matrix(found: list[dict[str, Any]], notes: list[str], baseline: str | None = None) -> dict[str, Any]:
    baselines = [e for e in found if e["rule"] == BASELINE_RULE]
    if not baselines:
        raise StageError(f"no experiment or commit with rule == {BASELINE_RULE} and metrics: nothing to compare against "
                         f"(run one, e.g. dvc exp run -S rule={BASELINE_RULE})")
    if baseline is not None:
        chosen = [e for e in baselines if e["name"] == baseline]
        if not chosen:
            raise StageError(f"--baseline {baseline}: no experiment or commit of that name with rule == "
                             f"{BASELINE_RULE}; candidates: {', '.join(sorted(e['name'] for e in baselines))}")
        base = chosen[0]
    else:
        # the rule=none run evaluated on the same tasks as the rules (e.g. the same profile), then the commit
        rule_tasks = {t for e in found if e["rule"] != BASELINE_RULE for t in e["tasks"]}
        baselines.sort(key=lambda e: (-len(rule_tasks & set(e["tasks"])), not e["is_baseline"], e["name"]))
        base = baselines[0]
    found = [e for e in found if e["rule"] != BASELINE_RULE or e is base]
    tasks = sorted({t for e in found for t in e["tasks"]})
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for e in found:
        if e["rule"] != BASELINE_RULE:
            by_rule.setdefault(e["rule"], []).append(e)
    rows = []
    for rule in sorted(by_rule):
        group = sorted(by_rule[rule], key=lambda e: e["name"])
        overall = _mean([e["overall"] for e in group])
        acc = {t: _mean([e["tasks"].get(t) for e in group]) for t in tasks}
        se = {t: _group_se([e["stderr"].get(t) for e in group]) for t in tasks}
        kept = [e["rewrites_kept"] for e in group if e["rewrites_kept"] is not None]
        rows.append({
            "rule": rule,
            "experiments": [e["name"] for e in group],
            "overall": overall,
            "delta_overall": _delta(overall, base["overall"]),
            "tasks": acc,
            "delta": {t: _delta(acc[t], base["tasks"].get(t)) for t in tasks},
            "delta_stderr": {t: _se_of_delta(se[t], base["stderr"].get(t)) for t in tasks},
            "delta_overall_stderr": _se_of_delta(_group_se([e["overall_stderr"] for e in group]),
                                                 base["overall_stderr"]),
            "rewrites_kept": round(sum(kept) / len(kept), 2) if kept else None,
        })
    return {
        "kind": RULES_KIND,
        "version": RULES_VERSION,
        "baseline": {"name": base["name"], "rev": base["rev"], "overall": base["overall"],
                     "tasks": {t: base["tasks"].get(t) for t in tasks},
                     "stderr": {t: base["stderr"].get(t) for t in tasks}, "overall_stderr": base["overall_stderr"]},
        "tasks": tasks,
        "rules": rows,
        "toy": any(e["toy"] for e in found),
        "verdicts": verdicts(base, rows, any(e["toy"] for e in found)),
        "entries": [{k: e[k] for k in ("name", "rev", "rule")} for e in sorted(found, key=lambda e: e["name"])],
        "notes": notes,
    }


def heatmap(result: dict[str, Any], target: Path) -> Path:
    """A PNG heatmap of the deltas: rules as rows, overall + tasks as columns, 0 in white."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    columns = ["overall", *result["tasks"]]
    rules = [r["rule"] for r in result["rules"]]
    values = np.array([[r["delta_overall"] if c == "overall" else r["delta"][c] for c in columns]
                       for r in result["rules"]], dtype=float).reshape(len(rules), len(columns))
    finite = values[np.isfinite(values)]
    bound = float(max(abs(finite).max(), 1e-6)) if finite.size else 1.0
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(columns), 1.2 + 0.6 * max(len(rules), 1)), dpi=110)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu", vmin=-bound, vmax=bound, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rules)), rules)
    for i in range(len(rules)):
        for j in range(len(columns)):
            text = "–" if not np.isfinite(values[i, j]) else f"{values[i, j]:+.3f}"
            dark = np.isfinite(values[i, j]) and abs(values[i, j]) > 0.6 * bound
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    ax.set_title(f"accuracy delta vs rule={BASELINE_RULE} ({result['baseline']['name']})", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, metadata={"Software": None})
    plt.close(fig)
    return target
