"""Dataset audit: record-level diffs between revisions and experiments, record tracing, rule x task view.

Commands (run `python -m stages.audit COMMAND --help` for each):

  diff A B     what changed between two sides, stage by stage and record by record
  summary [R]  every stage's rows in, kept and dropped per reason, with examples
  trace ID     one record's path through every stage
  rules        accuracy deltas per rule and task against rule=none, from experiments

A side is a git revision (sha, branch, tag, HEAD~1), a DVC experiment name, or
`workspace` (the files on disk). Stage outputs are read at each side through
dvc.api, from the DVC cache (or the remote when they are not cached).

Examples:
    python -m stages.audit diff HEAD~1 HEAD
    python -m stages.audit summary --md -o summary.md
    python -m stages.audit diff main my-experiment --html -o audit.html
    python -m stages.audit trace cqia_zhihu-0123456789abcdef --rev HEAD
    python -m stages.audit rules --html -o rules.html
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.auditing.command import (dvc_errors, format_options, repo_option, run_diff, run_rules, run_summary,
                                     run_trace)
from stages.lib.cli import doc_summary, example, run_main
from stages.lib.errors import clear_errors


@click.group(help=doc_summary(__doc__), epilog=example(__doc__))
def cli() -> None:
    pass


@cli.command("diff")
@click.argument("a")
@click.argument("b")
@repo_option
@format_options
@click.option("--limit", type=int, default=50, show_default=True,
              help="Records listed per category and stage (counts are always complete); 0 lists all.")
@click.option("--all-metrics", is_flag=True, help="Also compare timing metrics (keys named 'seconds').")
@clear_errors
@dvc_errors
def diff_command(a: str, b: str, repo: Path, fmt: str, output: Path | None, width: int | None, limit: int,
                 all_metrics: bool) -> None:
    """Compare the dataset at A and B, stage by stage and record by record.

    A and B are git revisions, DVC experiment names, or `workspace`. For each
    record stage: row counts, records added, removed and changed (by id), the
    stage and reason where a record was dropped on one side only, shifts per
    source and per drop reason, and a text diff of changed records; then param
    and metric differences.

    \b
    Examples:
        python -m stages.audit diff HEAD~1 HEAD
        python -m stages.audit diff HEAD workspace --md -o audit.md
        python -m stages.audit diff main rule-counter --json --limit 0
        python -m stages.audit diff v1 v2 --html -o audit.html
    """
    run_diff(repo, a, b, fmt, output, width, limit, all_metrics)


@cli.command("trace")
@click.argument("record_id", metavar="ID")
@click.option("--rev", default="workspace", show_default=True,
              help="Git revision, DVC experiment name, or 'workspace'.")
@repo_option
@format_options
@clear_errors
@dvc_errors
def trace_command(record_id: str, rev: str, repo: Path, fmt: str, output: Path | None, width: int | None) -> None:
    """Follow record ID through every stage at one revision.

    Shows its raw location and raw_sha256, the transforms each stage applied,
    the stage and reason if it was dropped, its duplicate cluster and kept
    partner, rewrites derived from it, and where it is in the SFT set.

    \b
    Examples:
        python -m stages.audit trace cqia_zhihu-0123456789abcdef
        python -m stages.audit trace cqia_zhihu-0123456789abcdef --rev HEAD~1 --json
    """
    run_trace(repo, record_id, rev, fmt, output, width)


@cli.command("summary")
@click.argument("rev", default="workspace", required=False)
@repo_option
@format_options
@click.option("-n", "--examples", type=int, default=3, show_default=True,
              help="Example records shown per drop reason and per kind of edit.")
@clear_errors
@dvc_errors
def summary_command(rev: str, repo: Path, fmt: str, output: Path | None, width: int | None, examples: int) -> None:
    """Every stage's rows in, kept and dropped per reason, with example texts.

    REV is a git revision, a DVC experiment name, or `workspace` (default).
    One table of all stages (foreach members such as scrape@<source> summed),
    then up to N rejected records per reason (text and detail) and, where a
    stage edited text, up to N before/after diffs per transform it added.

    \b
    Examples:
        python -m stages.audit summary
        python -m stages.audit summary HEAD -n 5 --md -o summary.md
        python -m stages.audit summary my-experiment --html -o summary.html
    """
    run_summary(repo, rev, fmt, output, width, examples)


@cli.command("rules")
@repo_option
@format_options
@click.option("--heatmap", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the heatmap PNG to this file (--html embeds it in the page either way).")
@click.option("--no-heatmap", is_flag=True, help="No heatmap at all (not written, not embedded).")
@click.option("--all-commits", is_flag=True, help="Experiments of all commits, not only HEAD's.")
@click.option("-n", "--num", type=int, default=1, show_default=True, help="Experiments of the last N commits.")
@click.option("--param", default="rule", show_default=True, help="The param that names the rule.")
@click.option("--params", "params_file", default="params.yaml", show_default=True,
              help="The params file whose `--param` names the rule.")
@click.option("--metrics-file", default="metrics/eval.json", show_default=True,
              help='Metrics with {"overall": acc, "tasks": {task: acc}} (and "stderr": {task: se}).')
@click.option("--rewrite-metrics-file", default="metrics/rewrite.json", show_default=True,
              help="Metrics of the rewrite stage (rows_kept = rewrites kept).")
@click.option("--baseline", default=None, help="Name of the rule=none experiment or commit to compare against.")
@clear_errors
@dvc_errors
def rules_command(repo: Path, fmt: str, output: Path | None, width: int | None, heatmap: Path, no_heatmap: bool,
                  all_commits: bool, num: int, param: str, params_file: str, metrics_file: str,
                  rewrite_metrics_file: str, baseline: str | None) -> None:
    """The rule x task matrix of accuracy deltas against rule=none, from experiments.

    Reads every experiment of HEAD (or -n commits, or --all-commits) as `dvc exp
    show --json` reports it: the `rule` param, metrics/eval.json tasks (with their
    standard errors) and metrics/rewrite.json rows_kept. The baseline is the commit
    or experiment with rule=none. Each cell is delta ± its standard error; the
    report says when a rule kept 0 rewrites, when no delta exceeds its error, and
    when the model is a toy.

    \b
    Examples:
        dvc exp run -S rule=none && dvc exp run -S rule=counterintuitive_thinking
        python -m stages.audit rules --html -o rules.html     # heatmap embedded in the page
        python -m stages.audit rules --json --heatmap /tmp/rules.png
    """
    run_rules(repo, fmt, output, width, heatmap, no_heatmap, {"all_commits": all_commits, "num": num},
              {"params_file": params_file, "param": param, "metrics_file": metrics_file,
               "rewrite_metrics_file": rewrite_metrics_file}, baseline)


def main() -> None:
    run_main(cli, "stages.audit")


if __name__ == "__main__":
    main()
