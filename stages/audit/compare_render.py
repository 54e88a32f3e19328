"""Blocks (stages/audit/render.py) for `audit rules` and `audit experiments`; formats.py writes them out."""

from __future__ import annotations

from typing import Any

from stages.audit.paired import METRICS, MIN_QUESTIONS
from stages.audit.render import Block, Heading, Items, Para, Png, Table, value

SHOWN_CHANGES = 3  # params listed in a table cell; --json has all


def _acc(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}"


def _pairs(values: dict[str, Any], limit: int | None = None) -> str:
    items = [f"{k}={value(v)}" for k, v in values.items()]
    if limit is not None and len(items) > limit:
        return ", ".join(items[:limit]) + f", … (+{len(items) - limit} more in --json)"
    return ", ".join(items) or "–"


def method_text() -> str:
    return ("Each run is compared with its baseline question by question: Δ accuracy (share of questions right) "
            "and Δ margin (the gold option's log-likelihood minus the best wrong option's, in nats). A cell shows "
            "the delta and its 95% bootstrap interval over questions when the interval excludes 0; otherwise "
            "'no detectable change' with the minimum detectable effect (MDE: alpha 0.05 two-sided, power 0.8). "
            f"Below {MIN_QUESTIONS} questions no interval is computed.")


def _run_text(run: dict[str, Any]) -> str:
    kept = "" if run["rewrites_kept"] is None else f", {value(run['rewrites_kept'])} rewrites kept"
    return f"{run['name']} (seed {value(run['seed'])}, against {run['baseline']}{kept})"


def rules_blocks(result: dict[str, Any], image: str | None = None, png: bytes | None = None) -> list[Block]:
    base = result["baseline"]
    blocks: list[Block] = [
        Heading(1, "Rules against rule=none: paired deltas per task"),
        Para(f"Main baseline: {base['name']} ({base['rev'][:7]}), overall accuracy {_acc(base['overall'])}. "
             + method_text()),
    ]
    for row in result["rules"]:
        blocks += [Heading(2, row["label"]), Para("Runs: " + "; ".join(_run_text(r) for r in row["runs"]) + "."),
                   Table(["task", "n", "Δ accuracy", "Δ margin (nats)"],
                         [[task, str(cell["accuracy"]["n"]), cell["accuracy"]["text"], cell["margin"]["text"]]
                          for task, cell in row["cells"].items()], numeric={1})]
    seeded = [row for row in result["rules"] if row["seeds"]]
    if seeded:
        blocks += [Heading(2, "Seeds: between-seed spread next to the within-run spread (overall)"),
                   Table(["rule", "metric", "Δ per seed", "between-seed sd", "within-run se"],
                         [[row["label"], m, ", ".join(f"{d:+.3f}" for d in s["per_seed"]), f"{s['sd']:.3f}",
                           _acc(s["within_se"])]
                          for row in seeded for m in METRICS for s in [row["seeds"]["overall"][m]]],
                         numeric={3, 4})]
    if png:
        blocks.append(Png(png, "paired deltas per rule and task with 95% intervals"))
    if result.get("verdicts"):
        blocks += [Heading(2, "What this shows"), Items(list(result["verdicts"]))]
    if image:
        blocks.append(Para(f"Chart: {image}"))
    if result["notes"]:
        blocks += [Heading(2, "Notes"), Items(list(result["notes"]))]
    return blocks


def _moved_text(moved: list[dict[str, Any]]) -> str:
    return "; ".join(f"{m['task']} {m['metric']} {m['delta']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}]"
                     for m in moved) or "–"


def _delta_cells(r: dict[str, Any]) -> list[str]:
    if r["overall"] is None:
        return [r["note"] or "–", "–"]
    return [r["overall"][m]["text"] for m in METRICS]


def _familiarity(r: dict[str, Any]) -> str:
    """`14.25 (vs 21.50)`: the run's mean ppl of its trained records, and its baseline's."""
    if r.get("familiarity") is None:
        return "–"
    other = r.get("baseline_familiarity")
    return f"{r['familiarity']:.2f}" + ("" if other is None or r["baseline"] is None else f" (vs {other:.2f})")


def experiments_blocks(result: dict[str, Any]) -> list[Block]:
    rows = []
    for r in result["experiments"]:
        against = r["baseline"] or "–"
        if r["baseline_of"]:
            against += f" (baseline of {', '.join(r['baseline_of'])})"
        rows.append([r["name"], r["rule"], _pairs(r["selection"]), value(r["seed"]), value(r["records_kept"]),
                     against, _familiarity(r), *_delta_cells(r), _moved_text(r["moved"]),
                     _pairs(r["other_changes"], SHOWN_CHANGES)])
    blocks: list[Block] = [
        Heading(1, "Experiments"),
        Para(f"Main baseline: {result['baseline']['name']} ({result['baseline']['rev'][:7]}). Selection: the "
             "assemble.* params that differ from it; records kept: metrics/assemble.json rows_kept; familiarity: "
             "the mean answer-only ppl of the trained records under the base model before tuning (lower: more "
             "familiar), the baseline's in brackets. " + method_text()),
        Table(["experiment", "rule", "selection", "seed", "records kept", "compared with", "familiarity (mean ppl)",
               "Δ accuracy (overall)", "Δ margin (overall)", "tasks that moved", "other changes"], rows,
              numeric={3, 4},
              short=["exp", "rule", "selection", "seed", "kept", "vs", "ppl", "Δ acc", "Δ margin", "moved", "other"],
              legend="kept: records kept by assemble; vs: the baseline each row is paired with; ppl: mean ppl of the "
                     "trained records (the baseline's in brackets); moved: tasks with a detectable change"),
    ]
    if result["notes"]:
        blocks += [Heading(2, "Notes"), Items(list(result["notes"]))]
    return blocks
