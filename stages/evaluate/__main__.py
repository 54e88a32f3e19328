"""Stage `evaluate`: per-task multiple-choice accuracy of a model by option log-likelihood.

Reads task files (MMLU / CMMLU / C-Eval CSV layouts, see stages/evaluate/tasks.py)
from `--tasks`, scores every question with the model in `--in` (a local
directory or a hub id), and writes:
- `--metrics` JSON: {"overall": accuracy over all questions, "tasks": {subject: accuracy},
  "stderr": {subject: standard error}, "n": {subject: questions}, "overall_stderr",
  "questions": n, "continuation": mode, "model_parameters", "toy": true when the model
  is too small to mean anything (the tiny model)};
- `--reports` folder: `tasks.csv` (task, accuracy, stderr, n, and low, high: the 95% Wilson interval)
  for `dvc plots show`, and `predictions.jsonl` (one line per question: where, subject, answer, predicted, logliks).

Example:
    python -m stages.evaluate --in models/sft --tasks data/sample/mmlu/test \\
        --metrics metrics/eval.json --reports reports/eval
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.evaluate.evaluation import evaluate, evaluation_line
from stages.evaluate.tasks import EvaluateParams
from stages.lib.cli import PATH, doc_summary, example, metrics_option, params_option, reports_option, run_main
from stages.lib.errors import clear_errors
from stages.lib.params import load_section


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@click.option("--in", "model_path", required=True, help="The model: its folder (models/sft) or a hub id.")
@click.option("--tasks", "tasks_dir", required=True, type=PATH, help="Folder of task CSVs (evaluate.tasks).")
@params_option()
@metrics_option("Metrics JSON (overall and per-task accuracy with standard errors).")
@reports_option("Folder for tasks.csv and predictions.jsonl (reports/eval).")
@clear_errors
def cli(model_path: str, tasks_dir: Path, params_path: Path, metrics_path: Path, reports_dir: Path) -> None:
    params = load_section(EvaluateParams, params_path)
    metrics = evaluate(model_path, tasks_dir, params, metrics_path, reports_dir)
    click.echo(evaluation_line(metrics))


def main() -> None:
    run_main(cli, "stages.evaluate")


if __name__ == "__main__":
    main()
