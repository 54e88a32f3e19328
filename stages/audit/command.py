"""What every `python -m stages.audit` subcommand shares: the output options, the repository option,
DVC's exceptions as one-line errors, and writing a report in the chosen format."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from stages.lib.errors import StageError
from stages.lib.io import write_text


def dvc_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """DVC's own exceptions (bad revision, unreadable cache) become one-line errors too."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from dvc.exceptions import DvcException

        try:
            return func(*args, **kwargs)
        except DvcException as exc:
            raise StageError(str(exc)) from None

    return wrapper


def format_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--table", "fmt", flag_value="table", default=True, help="Terminal tables (default)."),
        click.option("--md", "fmt", flag_value="md", help="Markdown."),
        click.option("--json", "fmt", flag_value="json", help="JSON (schema: stages/audit/README.md)."),
        click.option("--html", "fmt", flag_value="html", help="One self-contained HTML page."),
        click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
                     help="Write to this file instead of standard output."),
        click.option("--width", type=int, default=None,
                     help="Terminal table width when not writing to a terminal (default 160)."),
    ]):
        func = option(func)
    return func


repo_option = click.option("--repo", "repo", type=click.Path(path_type=Path, file_okay=False), default=".",
                           show_default=True, help="The DVC repository (or a directory inside it).")


def emit(blocks: list, result: dict[str, Any], fmt: str, output: Path | None, title: str, width: int | None) -> None:
    """Show the report: rich tables on a terminal, else the chosen format to standard output or `output`."""
    from stages.audit.formats import render, to_rich

    if output is None and fmt == "table" and sys.stdout.isatty() and width is None:
        from rich.console import Console

        to_rich(blocks, Console(highlight=False, emoji=False))
        return
    text = render(blocks, result, fmt, title, width=width or 160)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(text, output)
        output.chmod(0o644)  # a report to share: readable by others (temp files are created 0600)
        click.echo(f"wrote {output}", err=True)


def run_diff(repo: Path, a: str, b: str, fmt: str, output: Path | None, width: int | None, limit: int,
             all_metrics: bool) -> None:
    """`audit diff A B`: the dataset at A and B, stage by stage and record by record."""
    from stages.audit.render import diff_blocks, short
    from stages.audit.report import diff_report
    from stages.audit.revisions import find_root, open_side

    root = find_root(repo)
    side_a, side_b = open_side(root, a), open_side(root, b)
    try:
        report = diff_report(side_a, side_b, limit=limit, all_metrics=all_metrics)
    finally:
        side_a.close()
        side_b.close()
    title = f"Dataset diff: {short(report['a'])} → {short(report['b'])}"
    emit(diff_blocks(report), report, fmt, output, title, width)


def run_trace(repo: Path, record_id: str, rev: str, fmt: str, output: Path | None, width: int | None) -> None:
    """`audit trace ID`: one record's path through every stage at `rev`."""
    from stages.audit.render import trace_blocks
    from stages.audit.revisions import find_root, open_side
    from stages.audit.trace import trace

    side = open_side(find_root(repo), rev)
    try:
        result = trace(side, record_id)
    finally:
        side.close()
    if not result["found"] and fmt != "json":
        raise StageError(f"{record_id}: not found in any stage's records or rejected rows at {rev}")
    emit(trace_blocks(result), result, fmt, output, f"Trace {record_id}", width)
    if not result["found"]:
        raise StageError(f"{record_id}: not found at {rev}")


def run_summary(repo: Path, rev: str, fmt: str, output: Path | None, width: int | None, examples: int) -> None:
    """`audit summary`: every stage's rows in, kept and dropped per reason at `rev`, with examples."""
    from stages.audit.revisions import find_root, open_side
    from stages.audit.summary import summary, summary_blocks

    if examples < 0:
        raise StageError(f"--examples: must be 0 or more, got {examples}")
    side = open_side(find_root(repo), rev)
    try:
        result = summary(side, examples)
    finally:
        side.close()
    emit(summary_blocks(result), result, fmt, output, f"Summary at {rev}", width)


RUN_OPTIONS = ("all_commits", "num", "param", "params_file", "metrics_file", "rewrite_metrics_file",
               "predictions_file", "baseline")


def experiment_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose the runs (`rules`, `experiments`), passed to `func` as one `runs` dict."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, runs={k: kwargs.pop(k) for k in RUN_OPTIONS}, **kwargs)

    for option in reversed([
        click.option("--all-commits", is_flag=True, help="Experiments of all commits, not only HEAD's."),
        click.option("-n", "--num", type=int, default=1, show_default=True, help="Experiments of the last N commits."),
        click.option("--param", default="rule", show_default=True, help="The param that names the rule."),
        click.option("--params", "params_file", default="params.yaml", show_default=True,
                     help="The params file whose `--param` names the rule."),
        click.option("--metrics-file", default="metrics/eval.json", show_default=True,
                     help='Metrics with {"overall": acc, "tasks": {task: acc}}.'),
        click.option("--rewrite-metrics-file", default="metrics/rewrite.json", show_default=True,
                     help="Metrics of the rewrite stage (rows_kept = rewrites kept)."),
        click.option("--predictions-file", default="reports/eval/predictions.jsonl", show_default=True,
                     help="Per-question results of evaluate (one JSON line per question)."),
        click.option("--baseline", default=None,
                     help="Compare every run with this rule=none experiment or commit (default: each rule run's "
                          "matching rule=none run, else the main baseline)."),
    ]):
        wrapper = option(wrapper)
    return wrapper


def read_runs(repo: Path, runs: dict[str, Any]) -> tuple[list[dict], list[str], Any]:
    """(runs found, notes, a Predictions reader) for the experiments `runs` selects."""
    from stages.audit.questions import Predictions
    from stages.audit.revisions import find_root
    from stages.audit.runs import entries, experiment_states

    root = find_root(repo)
    states = experiment_states(root, all_commits=runs["all_commits"], num=runs["num"])
    found, notes = entries(states, {"params_file": runs["params_file"], "param": runs["param"],
                                    "metrics_file": runs["metrics_file"],
                                    "rewrite_metrics_file": runs["rewrite_metrics_file"],
                                    "assemble_metrics_file": "metrics/assemble.json"})
    return found, notes, Predictions(root, runs["predictions_file"])


def run_rules(repo: Path, fmt: str, output: Path | None, width: int | None, chart: Path | None, no_chart: bool,
              save: Path | None, runs: dict[str, Any]) -> None:
    """`audit rules`: each rule's runs against their baselines, question by question (stages/audit/rules.py)."""
    import tempfile

    from stages.audit.charts import chart as draw
    from stages.audit.compare_render import rules_blocks
    from stages.audit.rules import report, saved
    from stages.lib.io import write_json

    found, notes, predictions = read_runs(repo, runs)
    try:
        result = report(found, notes, predictions, runs["param"], runs["baseline"])
    finally:
        predictions.close()
    image, png = None, None
    if not no_chart and chart is not None:
        image = str(draw(result, chart))
        result["chart"] = image
    if not no_chart and fmt == "html":
        with tempfile.TemporaryDirectory() as scratch:  # nothing written to the repository
            png = draw(result, Path(scratch) / "rules.png").read_bytes()
    if save is not None:
        csv_text, nested = saved(result)
        write_text(csv_text, save / "paired.csv")
        write_json(nested, save / "paired.json")
        click.echo(f"wrote {save / 'paired.csv'} and {save / 'paired.json'}; chart: dvc plots show "
                   f"{save / 'paired.csv'} --template plots/paired_deltas.json -x delta -y task", err=True)
    emit(rules_blocks(result, image, png), result, fmt, output, "Rules against rule=none", width)


def run_experiments(repo: Path, fmt: str, output: Path | None, width: int | None, runs: dict[str, Any]) -> None:
    """`audit experiments`: one row per experiment (stages/audit/experiments.py)."""
    from stages.audit.compare_render import experiments_blocks
    from stages.audit.experiments import view

    found, notes, predictions = read_runs(repo, runs)
    try:
        result = view(found, notes, predictions, runs["param"], runs["baseline"])
    finally:
        predictions.close()
    emit(experiments_blocks(result), result, fmt, output, "Experiments", width)
