"""`audit experiments`: one row per experiment, the columns a curator reads instead of `dvc exp show`'s hundreds.

Each row: rule, selection (the `assemble.*` params that differ from the main baseline), seed
(`train.seed`), records kept (`rows_kept` of metrics/assemble.json), the run it is compared with
(its baseline, stages/audit/runs.py), the mean familiarity of the trained records (their mean ppl under
the base model before tuning, beside the baseline's: do more familiar answers train better?), the paired
overall deltas of accuracy and margin with their
95% intervals (stages/audit/paired.py), the tasks that moved detectably, and every other param
that differs from the main baseline. A row that cannot be compared says why in `note` (no
per-question results, or other questions than its baseline) instead of stopping the whole view.
"""

from __future__ import annotations

from typing import Any

from stages.audit import paired as stats
from stages.audit.questions import Predictions, paired
from stages.audit.rules import OVERALL, cells_of, method
from stages.audit.runs import SEED_PARAM, SELECTION_PREFIX, baseline_of, changed, main_baseline
from stages.lib.errors import StageError

EXPERIMENTS_KIND = "cqia-audit-experiments"
EXPERIMENTS_VERSION = 1


def moved(cells: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The tasks whose accuracy or margin moved detectably, with the delta and interval."""
    return [{"task": task, "metric": m, "delta": cell[m]["delta"], "low": cell[m]["low"], "high": cell[m]["high"]}
            for task, cell in cells.items() if task != OVERALL for m in stats.METRICS if cell[m]["detectable"]]


def row(run: dict[str, Any], found: list[dict[str, Any]], main: dict[str, Any], predictions: Predictions,
        rule_param: str, forced: bool, notes: list[str]) -> dict[str, Any]:
    others = changed(run, main, (rule_param, SEED_PARAM))
    out: dict[str, Any] = {
        "name": run["name"], "rev": run["rev"], "rule": run["rule"], "seed": run["seed"],
        "selection": {k: v for k, v in others.items() if k.startswith(SELECTION_PREFIX)},
        "other_changes": {k: v for k, v in others.items() if not k.startswith(SELECTION_PREFIX)},
        "records_kept": run["records_kept"], "familiarity": run.get("familiarity"), "baseline": None,
        "baseline_familiarity": None, "overall": None, "moved": [], "note": None}
    if run is main:
        out["note"] = "main baseline"
        return out
    base, note = baseline_of(run, found, main, rule_param, forced)
    out["baseline"], out["baseline_familiarity"] = base["name"], base.get("familiarity")
    if note:
        notes.append(note)
    results = predictions.of(run)
    if results is None:
        out["note"] = f"not compared: {predictions.missing(run)}"
        return out
    try:
        cells = cells_of(paired(run, base, results, predictions.of_baseline(base, run)))
    except StageError as exc:
        out["note"] = f"not compared: {exc}"
        return out
    out["overall"], out["moved"] = cells[OVERALL], moved(cells)
    return out


def view(found: list[dict[str, Any]], notes: list[str], predictions: Predictions, rule_param: str,
         baseline: str | None = None) -> dict[str, Any]:
    main = main_baseline(found, baseline)
    ordered = [main] + sorted((e for e in found if e is not main), key=lambda e: (not e["is_commit"], e["name"]))
    notes = list(notes)
    rows = [row(e, found, main, predictions, rule_param, baseline is not None, notes) for e in ordered]
    for r in rows:
        r["baseline_of"] = sorted(o["name"] for o in rows if o["baseline"] == r["name"] and o["name"] != r["name"])
    return {"kind": EXPERIMENTS_KIND, "version": EXPERIMENTS_VERSION, "method": method(),
            "baseline": {"name": main["name"], "rev": main["rev"]}, "experiments": rows, "notes": notes}
