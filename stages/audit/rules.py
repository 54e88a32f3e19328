"""`audit rules`: each rule's runs against their baselines, question by question (stages/audit/paired.py).

Runs and baselines are found as stages/audit/runs.py says: each rule run is paired with the
rule-`none` run of the same params (same seed, same selection), else with the main baseline. Runs
of one rule that differ only in `train.seed` form one row: its delta per question is the mean over
the seeds, and `seeds` gives the between-seed spread (sd of the runs' deltas) next to the within-run
spread (the runs' bootstrap se). Per task and overall, for accuracy and margin: delta, 95% bootstrap
interval, MDE and whether it is detectable. `verdicts` says in words what a reader must not miss: a
rule that kept 0 rewrites, what moved (or the size of change that could have gone unseen), seeds that
disagree more than the questions do, a toy model (metrics/eval.json `toy: true`).
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from stages.audit import paired as stats
from stages.audit.questions import Predictions, paired, refuse_other_questions
from stages.audit.runs import NONE, SEED_PARAM, baseline_of, changed, main_baseline, seed_groups

RULES_KIND = "cqia-audit-rules"
RULES_VERSION = 2
OVERALL = "overall"


def method() -> dict[str, Any]:
    return {"interval": f"95% percentile bootstrap over questions ({stats.RESAMPLES} resamples, seed {stats.SEED})",
            "mde": "(z_0.975 + z_0.8) * s / sqrt(N): alpha 0.05 two-sided, power 0.8; s = sqrt(mean(d^2)) for "
                   "accuracy (discordant share, McNemar), the sample sd of d for the margin",
            "margin": "gold option log-likelihood minus the best wrong option's, in nats",
            "min_questions": stats.MIN_QUESTIONS}


def _overall(diffs: dict[str, dict[str, np.ndarray]], metric: str) -> np.ndarray:
    return np.concatenate([diffs[t][metric] for t in sorted(diffs)])


def cells_of(diffs: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    cells = {OVERALL: {m: stats.compare(_overall(diffs, m), m) for m in stats.METRICS}}
    cells.update({t: {m: stats.compare(diffs[t][m], m) for m in stats.METRICS} for t in sorted(diffs)})
    return cells


def _seeds(per_run: list[dict[str, dict[str, Any]]]) -> dict[str, Any] | None:
    """Between-seed sd of the runs' deltas next to their mean within-run bootstrap se (two runs or more)."""
    if len(per_run) < 2:
        return None
    out: dict[str, Any] = {}
    for task in per_run[0]:
        out[task] = {}
        for m in stats.METRICS:
            deltas = [c[task][m]["delta"] for c in per_run]
            ses = [c[task][m]["se"] for c in per_run]
            out[task][m] = {"per_seed": deltas, "sd": round(statistics.stdev(deltas), 6),
                            "within_se": round(sum(ses) / len(ses), 6) if None not in ses else None}
    return out


def group_row(runs: list[tuple[dict, dict, dict]], main: dict[str, Any], rule_param: str) -> dict[str, Any]:
    """One row: the runs of one rule (one per seed), each with its baseline and per-question differences."""
    first = runs[0][0]
    tasks = sorted(runs[0][2])
    mean = {t: {m: np.mean([d[t][m] for _, _, d in runs], axis=0) for m in stats.METRICS} for t in tasks}
    per_run = [cells_of(d) for _, _, d in runs]
    kept = [r["rewrites_kept"] for r, _, _ in runs if r["rewrites_kept"] is not None]
    changes = changed(first, main, (rule_param, SEED_PARAM))
    label = first["rule"] if not changes else f"{first['rule']} ({', '.join(f'{k}={v}' for k, v in changes.items())})"
    return {"rule": first["rule"], "label": label, "changes": changes,
            "runs": [{"name": r["name"], "rev": r["rev"], "seed": r["seed"], "baseline": b["name"],
                      "rewrites_kept": r["rewrites_kept"], "records_kept": r["records_kept"],
                      "overall": cells[OVERALL]} for (r, b, _), cells in zip(runs, per_run)],
            "rewrites_kept": round(sum(kept) / len(kept), 2) if kept else None,
            "cells": cells_of(mean), "seeds": _seeds(per_run)}


def verdicts(rows: list[dict[str, Any]], toy: bool) -> list[str]:
    """Plain sentences about what the comparisons can and cannot show."""
    lines = []
    if toy:
        lines.append("The model is a toy (model.base: tiny, well under 10M parameters): its accuracies and "
                     "deltas only show that the pipeline runs, not what a rule does. Use model.base=smollm2-135m "
                     "or a real model.")
    for row in rows:
        if row["rewrites_kept"] == 0:
            lines.append(f"{row['label']}: kept 0 rewrites, so its SFT set is the baseline's; its deltas are noise "
                         f"(see metrics/rewrite.json rows_dropped for why).")
            continue
        moved = [f"{task} {m} {cell[m]['text']}" for task, cell in row["cells"].items() for m in stats.METRICS
                 if cell[m]["detectable"]]
        overall = row["cells"][OVERALL]
        if moved:
            lines.append(f"{row['label']}: detectable: {'; '.join(moved)}.")
        elif all(overall[m]["mde"] is not None for m in stats.METRICS):
            lines.append(f"{row['label']}: no detectable change, overall or in any task; with "
                         f"{overall['accuracy']['n']} questions an overall change below "
                         f"{overall['accuracy']['mde']:.3f} in accuracy or {overall['margin']['mde']:.3f} nats "
                         f"in margin could go unseen.")
        else:
            lines.append(f"{row['label']}: no detectable change overall ({overall['accuracy']['text']}).")
        if row["seeds"]:
            spread = row["seeds"][OVERALL]["accuracy"]
            within = spread["within_se"]
            lines.append(f"{row['label']}: between-seed sd of the overall accuracy delta {spread['sd']:.3f} "
                         f"({len(spread['per_seed'])} seeds) against a within-run se of "
                         + ("– (not computable)" if within is None else f"{within:.3f}")
                         + ("; the seeds move it more than the choice of questions does: judge it by the "
                            "spread across seeds" if within is not None and spread["sd"] > within else "") + ".")
    return lines


def report(found: list[dict[str, Any]], notes: list[str], predictions: Predictions, rule_param: str,
           baseline: str | None = None) -> dict[str, Any]:
    """The rules report: each rule row's paired cells, seeds, verdicts, the runs read and notes."""
    main = main_baseline(found, baseline)
    notes = list(notes)
    rows = []
    for group in seed_groups([e for e in found if e["rule"] != NONE]):
        runs = []
        for run in group:
            base, note = baseline_of(run, found, main, rule_param, forced=baseline is not None)
            results = predictions.of(run)
            if results is None:
                notes.append(f"{run['name']}: not compared: {predictions.missing(run)}")
                continue
            if note:
                notes.append(note)
            if runs:  # the seeds of one row must have been asked the same questions
                refuse_other_questions(run, runs[0][0], results, predictions.of(runs[0][0]))
            runs.append((run, base, paired(run, base, results, predictions.of_baseline(base, run))))
        if runs:
            rows.append(group_row(runs, main, rule_param))
    if not rows:
        notes.append(f"no run with a rule other than {NONE} to compare: run one, e.g. "
                     f"python -m stages.exp -S {rule_param}=blurring_boundaries")
    toy = any(e["toy"] for e in found)
    return {"kind": RULES_KIND, "version": RULES_VERSION, "method": method(),
            "baseline": {"name": main["name"], "rev": main["rev"], "overall": main["overall"], "tasks": main["tasks"]},
            "tasks": sorted({t for r in rows for t in r["cells"] if t != OVERALL}), "rules": rows, "toy": toy,
            "verdicts": verdicts(rows, toy),
            "entries": [{k: e[k] for k in ("name", "rev", "rule", "seed")}
                        for e in sorted(found, key=lambda e: e["name"])],
            "notes": notes}


def saved(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(paired.csv, paired.json): one row per rule, task and metric for `dvc plots`; the same numbers nested
    rule -> task -> metric for `dvc metrics show`."""
    header = "rule,task,metric,delta,low,high,mde,detectable"
    lines, nested = [header], {}
    for row in result["rules"]:
        for task, cell in row["cells"].items():
            for m in stats.METRICS:
                c = cell[m]
                values = [c[k] for k in ("delta", "low", "high", "mde")]
                lines.append(",".join([_csv(row["label"]), _csv(task), m,
                                       *("" if v is None else str(v) for v in values),
                                       "" if c["detectable"] is None else str(c["detectable"]).lower()]))
                nested.setdefault(row["label"], {}).setdefault(task, {})[m] = {
                    k: c[k] for k in ("n", "delta", "low", "high", "mde", "detectable")}
    return "\n".join(lines) + "\n", nested


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text
