"""Stage `evaluate`: per-task multiple-choice accuracy of a model by option log-likelihood.

Reads task files (MMLU / CMMLU / C-Eval CSV layouts, see stages/evalkit/tasks.py)
from `--tasks`, scores every question with the model in `--model` (a local
directory or a hub id), and writes:
- `--metrics` JSON: {"overall": accuracy over all questions, "tasks": {subject: accuracy},
  "stderr": {subject: standard error}, "n": {subject: questions}, "overall_stderr",
  "questions": n, "continuation": mode, "model_parameters", "toy": true when the model
  is too small to mean anything (the tiny default)};
- `--plots` directory: `tasks.csv` (task, accuracy, stderr, n) for `dvc plots show`, and
  `predictions.jsonl` (one line per question: where, subject, answer, predicted, logliks).

Example:
    python -m stages.evaluate --model models/sft --tasks data/sample/eval \\
        --metrics metrics/eval.json --plots reports/eval
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from stages.evalkit.scoring import CONTINUATIONS, Scored, accuracy, score_questions, stderr
from stages.evalkit.tasks import load_tasks
from stages.lib.errors import clear_errors
from stages.lib.io import write_json, write_text
from stages.lib.params import load_section, require_keys
from stages.lib.progress import progress, quiet_libraries
from stages.lib.timings import write_timings
from stages.llm.base import is_toy, load_pretrained


@dataclass(frozen=True)
class EvaluateParams:
    tasks: str = "data/sample/eval"  # used by dvc.yaml's cmd (--tasks ${evaluate.tasks}), not read here
    continuation: str = "letter"
    batch_size: int = 16
    subjects: list[str] | None = None
    threads: int = 2


def parse_params(raw: Any) -> EvaluateParams:
    where = "params.yaml: evaluate"
    require_keys(where, raw, set(EvaluateParams.__dataclass_fields__), set())
    params = EvaluateParams(**raw)
    if params.continuation not in CONTINUATIONS:
        raise ValueError(f"{where}.continuation: must be one of {', '.join(CONTINUATIONS)}, got {params.continuation!r}")
    if not isinstance(params.batch_size, int) or params.batch_size < 1:
        raise ValueError(f"{where}.batch_size: must be a positive integer")
    return params


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


def predictions_jsonl(by_task: dict[str, list[Scored]]) -> str:
    lines = []
    for scored in by_task.values():
        for s in scored:
            lines.append(json.dumps({"where": s.question.where, "subject": s.question.subject,
                                     "answer": s.question.answer, "predicted": s.predicted,
                                     "logliks": [round(x, 4) for x in s.logliks]}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def evaluate(model_path: str, tasks_dir: Path, params: EvaluateParams, metrics_path: Path, plots_dir: Path) -> dict:
    started = time.perf_counter()
    quiet_libraries()  # library progress bars only on a terminal
    tasks = load_tasks(tasks_dir, params.subjects)
    model, tokenizer = load_pretrained(model_path, threads=params.threads, quiet=True)
    by_task = {task: score_questions(model, tokenizer, qs, params.continuation, params.batch_size)
               for task, qs in progress(list(tasks.items()), desc="evaluate", unit="task")}
    metrics = {**evaluation_metrics(by_task, params.continuation),
               "model_parameters": int(model.num_parameters()), "toy": is_toy(model)}
    rows = "".join(f"{task},{acc},{metrics['stderr'][task]},{metrics['n'][task]}\n"
                   for task, acc in metrics["tasks"].items())
    write_text("task,accuracy,stderr,n\n" + rows, plots_dir / "tasks.csv")
    write_text(predictions_jsonl(by_task), plots_dir / "predictions.jsonl")
    write_json(metrics, metrics_path)
    write_timings(metrics_path, started)
    return metrics


@click.command(help=__doc__.split("\n\n")[0])
@click.option("--model", "model_path", required=True, help="Model directory or hub id.")
@click.option("--tasks", "tasks_dir", required=True, type=click.Path(path_type=Path), help="Directory of task CSVs.")
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path))
@click.option("--plots", "plots_dir", required=True, type=click.Path(path_type=Path))
@clear_errors
def cli(model_path: str, tasks_dir: Path, params_path: str, metrics_path: Path, plots_dir: Path) -> None:
    """Example: python -m stages.evaluate --model models/sft --tasks data/sample/eval
    --metrics metrics/eval.json --plots reports/eval"""
    params = parse_params(load_section("evaluate", params_path))
    metrics = evaluate(model_path, tasks_dir, params, metrics_path, plots_dir)
    se = metrics["overall_stderr"]
    click.echo(f"evaluate: {metrics['questions']} questions, overall accuracy {metrics['overall']:.3f}"
               + (f" ± {se:.3f}" if se is not None else "")
               + (" (toy model: accuracies are not meaningful)" if metrics["toy"] else ""))


def main() -> None:
    cli(prog_name="python -m stages.evaluate")


if __name__ == "__main__":
    main()
