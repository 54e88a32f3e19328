"""Stage `review`: human review decisions from Label Studio or Argilla, applied to the records.

Commands (`python -m stages.review COMMAND --help` for each):

  export   the review queue (params `review.queue`) as Label Studio tasks and Argilla records
  import   a Label Studio or Argilla export appended to review/decisions.jsonl (append-only)
  apply    the DVC stage: decisions applied to the records; a decision on text that has since
           changed is stale and not applied (stages/review/applying.py has the rules)

Examples:
    python -m stages.review export --in data/review/records.parquet --out review/queue
    python -m stages.review import --in ~/Downloads/project-1-at-2025-01-01.json \\
        --candidates data/judge/records.parquet
    python -m stages.review apply --in data/judge/records.parquet \\
        --decisions review/decisions.jsonl --out data/review --reports reports/review \\
        --metrics metrics/review.json
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.lib.cli import (PATH, doc_summary, echo_summary, example, in_option, metrics_option, out_option,
                            params_option, reports_option, run_main)
from stages.lib.errors import clear_errors
from stages.lib.params import load_section


@click.group(help=doc_summary(__doc__), epilog=example(__doc__))
def cli() -> None:
    pass


@cli.command("export")
@in_option("Records to choose the queue from (data/review/records.parquet: edited text as it now reads).")
@out_option("Folder for label_studio.json and argilla.json (replaced as a whole).")
@click.option("--decisions", default="review/decisions.jsonl", show_default=True, type=PATH,
              help="Decisions file: records with a decision on their present text are left out.")
@click.option("--id", "ids", multiple=True, help="Also queue this record id (repeatable).")
@params_option()
@clear_errors
def export_command(in_path: Path, out_dir: Path, decisions: Path, ids: tuple[str, ...], params_path: Path) -> None:
    """Write the review queue chosen by params `review.queue` as Label Studio tasks and Argilla records.

    \b
    Example:
        python -m stages.review export --in data/review/records.parquet --out review/queue
    """
    from stages.review.exporting import export_queue
    from stages.review.params import ReviewParams

    counts = export_queue(load_section(ReviewParams, params_path), in_path, decisions, out_dir, list(ids))
    click.echo(f"export: {counts['tasks']} tasks ({', '.join(f'{k} {v}' for k, v in counts['why'].items()) or 'none'}; "
               f"{counts['already_reviewed']} already reviewed left out) in {out_dir}")


@cli.command("import")
@in_option("A Label Studio JSON export or an Argilla records export (JSON).")
@click.option("--decisions", default="review/decisions.jsonl", show_default=True, type=PATH,
              help="The append-only decisions file to append to.")
@click.option("--candidates", type=PATH, help="Records every decision must name (the review stage's --in); "
              "a decision for any other id is a bad entry.")
@clear_errors
def import_command(in_path: Path, decisions: Path, candidates: Path | None) -> None:
    """Append the decisions of an export to the decisions file; bad entries are listed, one line each.

    \b
    Example:
        python -m stages.review import --in project-1-export.json --candidates data/judge/records.parquet
    """
    from stages.review.importing import import_line, run_import

    counts = run_import(in_path, decisions, candidates)
    for problem in counts["problems"]:
        click.echo(problem, err=True)
    click.echo(import_line(in_path, decisions, counts))
    if counts["problems"]:
        raise SystemExit(1)


@cli.command("apply")
@in_option("Candidate records (data/judge/records.parquet).")
@click.option("--decisions", required=True, type=PATH, help="The decisions file (review/decisions.jsonl).")
@out_option()
@reports_option("Folder for agreement.json and agreement.md.")
@metrics_option()
@clear_errors
def apply_command(in_path: Path, decisions: Path, out_dir: Path, reports_dir: Path, metrics_path: Path) -> None:
    """Apply the decisions to the records (the DVC stage `review`).

    \b
    Example:
        python -m stages.review apply --in data/judge/records.parquet \\
            --decisions review/decisions.jsonl --out data/review --reports reports/review \\
            --metrics metrics/review.json
    """
    from stages.review.stage import review_line, run_review

    metrics = run_review(in_path, decisions, out_dir, reports_dir, metrics_path)
    echo_summary("review", metrics, review_line(metrics))


def main() -> None:
    run_main(cli, "stages.review")


if __name__ == "__main__":
    main()
