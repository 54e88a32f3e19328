"""Per-question results of a run (evaluate's predictions.jsonl at its revision) and their pairing.

Each line of `reports/eval/predictions.jsonl` (stages/evaluate/evaluation.py) holds where (file:line),
subject, answer, predicted and logliks. A question is known by its task (subject) and `where`; two
runs are paired question by question, and only when they were asked the same questions: the same
tasks, each with the same `where`s and gold answers. Otherwise the comparison is refused in one line
naming the tasks that differ.

The file is read at the run's commit through dvc.api (stages/audit/revisions.py): from git when it
is committed with the run (DVC's `cache: false`), else from the local DVC cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from stages.audit.revisions import Side, open_side
from stages.evaluate.scoring import margin
from stages.evaluate.tasks import LETTERS
from stages.lib.errors import StageError

Results = dict[str, dict[str, tuple[str, int, float]]]  # task -> where -> (answer, correct 0/1, margin)


def where_of(run: dict[str, Any]) -> str:
    return f"{run['name']} ({run['rev'][:7]})" if not run["rev"].startswith(run["name"]) else run["rev"][:7]


def reproduce_hint(run: dict[str, Any]) -> str:
    short = run["rev"][:7]
    first = f"git checkout {short}" if run["is_commit"] else f"dvc exp apply {run['name']}"
    return f"reproduce revision {short} ({first}, then python -m stages.exp)"


def parse(text: str, label: str) -> Results:
    results: Results = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            logliks = [float(x) for x in row["logliks"]]
            answer, where, subject = row["answer"], row["where"], row["subject"]
            if answer not in LETTERS or len(logliks) != len(LETTERS) or not all(
                    isinstance(x, str) for x in (where, subject, row["predicted"])):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise StageError(f"{label}, line {number}: expected a JSON object with where, subject, answer (A-D), "
                             f"predicted and 4 logliks") from None
        results.setdefault(subject, {})[where] = (answer, int(row["predicted"] == answer), margin(logliks, answer))
    return results


class Predictions:
    """Reads each run's predictions once; `path` is the file's path in the repository."""

    def __init__(self, root: Path, path: str) -> None:
        self.root, self.path = root, path
        self._sides: dict[str, Side] = {}
        self._read: dict[str, Results | None] = {}

    def _side(self, rev: str) -> Side:
        if rev not in self._sides:
            self._sides[rev] = open_side(self.root, rev)
        return self._sides[rev]

    def missing(self, run: dict[str, Any]) -> str:
        side = self._side(run["rev"])
        if side.uncached(self.path):
            return (f"{self.path} is not in the local DVC cache (dvc pull, or dvc fetch --all-commits for "
                    f"experiments), or {reproduce_hint(run)}")
        return f"no {self.path} (per-question results); {reproduce_hint(run)}"

    def of(self, run: dict[str, Any]) -> Results | None:
        """The run's results by task and question, or None when its file cannot be read."""
        if run["rev"] not in self._read:
            side = self._side(run["rev"])
            found = side.is_file(self.path) and not side.uncached(self.path)
            self._read[run["rev"]] = parse(side.read_text(self.path), f"{self.path} at {where_of(run)}") \
                if found else None
        return self._read[run["rev"]]

    def of_baseline(self, baseline: dict[str, Any], run: dict[str, Any]) -> Results:
        """The baseline's results; a run whose baseline has none cannot be compared: one line saying what to do."""
        results = self.of(baseline)
        if results is None:
            raise StageError(f"{run['name']}: its baseline {where_of(baseline)} has {self.missing(baseline)}")
        return results

    def close(self) -> None:
        for side in self._sides.values():
            side.close()


def question_sets_differ(a: Results, b: Results) -> dict[str, list[str]]:
    """Tasks only in a, only in b, and in both with other questions (where or gold answer)."""
    return {"only_a": sorted(set(a) - set(b)), "only_b": sorted(set(b) - set(a)),
            "other": sorted(t for t in set(a) & set(b) if {w: q[0] for w, q in a[t].items()}
                            != {w: q[0] for w, q in b[t].items()})}


def refuse_other_questions(run: dict[str, Any], base: dict[str, Any], a: Results, b: Results) -> None:
    differ = question_sets_differ(a, b)
    if any(differ.values()):
        parts = [f"{label} {', '.join(tasks)}" for label, tasks in (
            (f"tasks only in {run['name']}:", differ["only_a"]), (f"only in {base['name']}:", differ["only_b"]),
            ("other questions in:", differ["other"])) if tasks]
        raise StageError(f"cannot compare {run['name']} with {base['name']}: evaluated on different questions "
                         f"({'; '.join(parts)})")


def paired(run: dict[str, Any], base: dict[str, Any], a: Results, b: Results) -> dict[str, dict[str, np.ndarray]]:
    """{task: {"accuracy": d, "margin": d}}: run minus baseline per question, questions in `where` order."""
    refuse_other_questions(run, base, a, b)
    diffs = {}
    for task in sorted(a):
        order = sorted(a[task])
        diffs[task] = {"accuracy": np.array([a[task][w][1] - b[task][w][1] for w in order], dtype=float),
                       "margin": np.array([a[task][w][2] - b[task][w][2] for w in order], dtype=float)}
    return diffs
