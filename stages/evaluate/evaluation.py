"""The `evaluate` stage's work: score every task question with a model, write metrics and reports.

The model comes from the one loader (`stages.llm.base.load_pretrained`), the option log-likelihoods
from the one continuation scorer (via stages/evaluate/scoring.py). Writes into the reports folder
`tasks.csv` (task, accuracy, stderr, n, and the 95% Wilson interval low, high: the accuracy chart's error
bars) and `predictions.jsonl` (one line per question), built fresh and
swapped in as a whole (stages/lib/io.py `output_dir`), then the metrics JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from stages.evaluate.scoring import Scored, accuracy, score_questions, stderr, wilson_interval
from stages.evaluate.tasks import EvaluateParams, load_tasks
from stages.lib.io import output_dir, refuse_unsafe, write_json, write_text
from stages.lib.progress import quiet_libraries, tracker
from stages.lib.timings import write_timings
from stages.llm.base import is_toy, load_pretrained


def evaluation_metrics(by_task: dict[str, list[Scored]], continuation: str) -> dict[str, Any]:
    every = [s for scored in by_task.values() for s in scored]
    return {
        "overall": accuracy(every),
        "overall_stderr": stderr(every),
        "tasks": {task: accuracy(scored) for task, scored in by_task.items()},
        "stderr": {task: stderr(scored) for task, scored in by_task.items()},
        "n": {task: len(scored) for task, scored in by_task.items()},
        "questions": len(every),
        "continuation": continuation,
    }


def tasks_csv(by_task: dict[str, list[Scored]], metrics: dict[str, Any]) -> str:
    """One row per task: accuracy, standard error, N and the 95% Wilson interval (low, high)."""
    rows = ["task,accuracy,stderr,n,low,high"]
    for task, scored in by_task.items():
        low, high = wilson_interval(scored) or ("", "")
        rows.append(f"{task},{metrics['tasks'][task]},{metrics['stderr'][task]},{metrics['n'][task]},{low},{high}")
    return "\n".join(rows) + "\n"


def predictions_jsonl(by_task: dict[str, list[Scored]]) -> str:
    lines = []
    for scored in by_task.values():
        for s in scored:
            lines.append(json.dumps({"where": s.question.where, "subject": s.question.subject,
                                     "answer": s.question.answer, "predicted": s.predicted,
                                     "logliks": [round(x, 4) for x in s.logliks]}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def evaluate(model_path: str, tasks_dir: Path, params: EvaluateParams, metrics_path: Path,
             reports_dir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    quiet_libraries()  # library progress bars only on a terminal
    refuse_unsafe(metrics_path)  # before the scoring, not after it
    tasks = {task: qs[:params.max_per_task] for task, qs in load_tasks(tasks_dir, params.subjects).items()}
    model, tokenizer = load_pretrained(model_path, threads=params.threads, quiet=True)
    by_task = {}
    with tracker("evaluate", total=sum(len(qs) for qs in tasks.values()), unit="question") as shown:
        for task, qs in tasks.items():
            by_task[task] = score_questions(model, tokenizer, qs, params.continuation, params.batch_size)
            shown.update(len(qs))
    metrics = {**evaluation_metrics(by_task, params.continuation),
               "model_parameters": int(model.num_parameters()), "toy": is_toy(model)}
    with output_dir(reports_dir) as reports:
        write_text(tasks_csv(by_task, metrics), reports / "tasks.csv")
        write_text(predictions_jsonl(by_task), reports / "predictions.jsonl")
        metrics_path.unlink(missing_ok=True)  # until the new one is written: no metrics, no mix
    write_json(metrics, metrics_path)
    write_timings(metrics_path, started)
    return metrics


def evaluation_line(metrics: dict[str, Any]) -> str:
    """`evaluate: 108 questions, overall accuracy 0.204 ± 0.039 (toy model: ...)`."""
    se = metrics["overall_stderr"]
    return (f"evaluate: {metrics['questions']} questions, overall accuracy {metrics['overall']:.3f}"
            + (f" ± {se:.3f}" if se is not None else "")
            + (" (toy model: accuracies are not meaningful)" if metrics["toy"] else ""))
