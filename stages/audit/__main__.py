"""Dataset audit: record-level diffs between revisions and experiments, record tracing, experiment comparisons.

Commands (run `python -m stages.audit COMMAND --help` for each):

  diff A B     what changed between two sides, stage by stage and record by record
  summary [R]  every stage's rows in, kept and dropped per reason, with examples
  trace ID     one record's path through every stage
  rules        each rule against rule=none, question by question: paired deltas, intervals, MDE
  experiments  one row per experiment: rule, selection, seed, records kept, overall delta, what moved

A side is a git revision (sha, branch, tag, HEAD~1), a DVC experiment name, or
`workspace` (the files on disk). Stage outputs are read at each side through
dvc.api, from the DVC cache (or the remote when they are not cached).

Examples:
    python -m stages.audit diff HEAD~1 HEAD
    python -m stages.audit summary --md -o summary.md
    python -m stages.audit diff main my-experiment --html -o audit.html
    python -m stages.audit trace cqia_zhihu-0123456789abcdef --rev HEAD
    python -m stages.audit rules --html -o rules.html
    python -m stages.audit experiments
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.audit.command import (dvc_errors, experiment_options, format_options, repo_option, run_diff,
                                     run_experiments, run_rules, run_summary, run_trace)
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
@click.option("--chart", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the chart (PNG: deltas with intervals) to this file (--html embeds it either way).")
@click.option("--no-chart", is_flag=True, help="No chart at all (not written, not embedded).")
@click.option("--save", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also write DIR/paired.csv (for dvc plots) and DIR/paired.json (for dvc metrics show).")
@experiment_options
@clear_errors
@dvc_errors
def rules_command(repo: Path, fmt: str, output: Path | None, width: int | None, chart: Path | None, no_chart: bool,
                  save: Path | None, runs: dict) -> None:
    """Each rule against rule=none, question by question, from DVC experiments.

    Reads every experiment of HEAD (or -n commits, or --all-commits) as `dvc exp
    show --json` reports it, and each one's per-question results
    (reports/eval/predictions.jsonl). A rule run is paired with the rule=none run
    of the same params (else the main baseline); runs that differ only in
    train.seed form one row. Per task and overall: the paired delta of accuracy
    and of the margin (gold option minus best wrong option, log-likelihood), a 95%
    bootstrap interval over questions, and the minimum detectable effect; the
    report says what moved, what could have moved unseen, and how far seeds spread.

    \b
    Examples:
        python -m stages.exp -S rule=blurring_boundaries
        python -m stages.audit rules
        python -m stages.audit rules --html -o rules.html     # chart embedded in the page
        python -m stages.audit rules --json --save reports/compare
    """
    run_rules(repo, fmt, output, width, chart, no_chart, save, runs)


@cli.command("experiments")
@repo_option
@format_options
@experiment_options
@clear_errors
@dvc_errors
def experiments_command(repo: Path, fmt: str, output: Path | None, width: int | None, runs: dict) -> None:
    """One row per experiment: rule, selection, seed, records kept, overall delta, tasks that moved.

    The readable table instead of `dvc exp show`: the rule, the assemble.*
    params that differ from the main baseline, train.seed, rows kept by
    assemble, the run it is compared with, the paired overall delta of accuracy
    and margin with its 95% interval, the tasks that moved detectably, and any
    other changed param.

    \b
    Examples:
        python -m stages.audit experiments
        python -m stages.audit experiments --md -o experiments.md
        python -m stages.audit experiments --json -n 2
    """
    run_experiments(repo, fmt, output, width, runs)


def main() -> None:
    run_main(cli, "stages.audit")


if __name__ == "__main__":
    main()
