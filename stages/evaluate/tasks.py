"""Loading multiple-choice task files in MMLU, CMMLU and C-Eval layouts.

A task directory holds one CSV per subject. Three layouts are recognised from
the first row of each file:
- MMLU `<subject>_test.csv`: no header, columns question, A, B, C, D, answer;
- CMMLU: header `,Question,A,B,C,D,Answer` (first column a row index);
- C-Eval `<subject>_val.csv` / `_dev.csv`: header `id,question,A,B,C,D,answer`.
The subject is the file stem without a trailing `_test`, `_val` or `_dev`.
A row that does not have four options and an answer in A-D stops the stage with
the file and line: an evaluation set with a silently skipped question would
give a wrong accuracy.

`EvaluateParams` is the `evaluate` section of params.yaml.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stages.lib.errors import StageError, input_error
from stages.lib.params import Params, PositiveInt

LETTERS = ("A", "B", "C", "D")
_SPLIT_SUFFIX = re.compile(r"_(test|val|dev)$")
Continuation = Literal["letter", "text", "cloze"]  # how options are scored (stages/evaluate/scoring.py)


class EvaluateParams(Params, section="evaluate"):
    """`evaluate` in params.yaml (see the comments there)."""

    tasks: str = "data/sample/eval"  # used by dvc.yaml's cmd (--tasks ${evaluate.tasks}), not read here
    continuation: Continuation = "letter"
    batch_size: PositiveInt = 16
    subjects: list[str] | None = None  # null: every subject in the task folder
    max_per_task: PositiveInt | None = None  # the first N questions of each subject (file order); null: all
    threads: PositiveInt = 2


@dataclass(frozen=True)
class Question:
    subject: str
    question: str
    options: tuple[str, str, str, str]
    answer: str  # one of LETTERS
    where: str  # file:line, for error messages and traces


def subject_of(path: Path) -> str:
    return _SPLIT_SUFFIX.sub("", path.stem)


def _columns(header: list[str]) -> tuple[int, int] | None:
    """(index of question column, index of answer column) for a header row, else None."""
    lowered = [h.strip().lower() for h in header]
    if "question" in lowered and "answer" in lowered and all(x.lower() in lowered for x in LETTERS):
        return lowered.index("question"), lowered.index("answer")
    return None


def load_file(path: Path) -> list[Question]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise input_error(str(path), None, "empty task file")
    header = _columns(rows[0])
    q_col, a_col = header if header else (0, 5)
    body = rows[1:] if header else rows
    first_line = 2 if header else 1
    subject = subject_of(path)
    questions = []
    for offset, row in enumerate(body):
        line = first_line + offset
        if len(row) < a_col + 1 or len(row) < q_col + 5:
            raise input_error(str(path), line, f"expected question, A, B, C, D, answer; got {len(row)} fields")
        answer = row[a_col].strip().upper()
        if answer not in LETTERS:
            raise input_error(str(path), line, f"answer must be one of A, B, C, D, got {row[a_col]!r}")
        options = tuple(row[q_col + 1 : q_col + 5])
        questions.append(Question(subject, row[q_col], options, answer, f"{path.as_posix()}:{line}"))  # type: ignore[arg-type]
    return questions


def load_tasks(directory: str | Path, subjects: list[str] | None = None) -> dict[str, list[Question]]:
    """All subjects in `directory` (or only `subjects`), sorted by subject name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise StageError(f"{directory}: task directory not found")
    files = sorted(directory.glob("*.csv"))
    tasks: dict[str, list[Question]] = {}
    for file in files:
        subject = subject_of(file)
        if subjects is None or subject in subjects:
            tasks.setdefault(subject, []).extend(load_file(file))
    missing = sorted(set(subjects or []) - set(tasks))
    if missing:
        raise StageError(f"{directory}: no task file for subject(s) {', '.join(missing)}")
    if not tasks:
        raise StageError(f"{directory}: no *.csv task files")
    return dict(sorted(tasks.items()))
