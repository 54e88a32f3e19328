"""Run a DVC experiment safely: check the -S values first, and put the workspace back if it fails.

`python -m stages.exp -S key=value ...` is `dvc exp run -S key=value ...` with two guarantees
plain DVC lacks:

1. The values are checked before DVC touches anything: they are applied (with DVC's own override
   code) to a copy of params.yaml, which every stage's typed model checks (`python -m stages.check`).
   A typo (`-S dedup.treshold=0.7`, `-S +dedup.treshold=0.7`) ends in one line with a did-you-mean,
   exit 1, and params.yaml untouched.
2. A run in the workspace that fails leaves the workspace as it was: params.yaml, dvc.lock and every
   stage output (data, models, metrics, reports) are put back in the same bytes
   (stages/lib/snapshot.py). `--queue` and `--temp` runs never touch the workspace; they are only checked.
   The work is stages/check/experiment.py.

Other options are DVC's (`-n NAME`, `--queue`, `--temp`, `--run-all`, `-j N`, ...), passed on as given.
A params.yaml that is a symbolic link is refused (DVC would write through it).

Examples:
    python -m stages.exp -S rule=blurring_boundaries
    python -m stages.exp --queue -S rule=counterintuitive_thinking -S train.seed=1
    python -m stages.exp --run-all
"""

from __future__ import annotations

import shutil

import click

from stages.check.experiment import run_experiment
from stages.lib.cli import doc_summary, example, run_main
from stages.lib.errors import StageError, clear_errors


@click.command(help=doc_summary(__doc__), epilog=example(__doc__), context_settings={"ignore_unknown_options": True})
@click.option("-S", "--set-param", "values", multiple=True, metavar="KEY=VALUE",
              help="A params.yaml value for this experiment (DVC's syntax: key=value, +key=value, ~key).")
@click.argument("dvc_args", nargs=-1, type=click.UNPROCESSED)
@clear_errors
def cli(values: tuple[str, ...], dvc_args: tuple[str, ...]) -> None:
    if shutil.which("git") is None:
        raise StageError("git not found: DVC experiments need git")
    raise SystemExit(run_experiment(values, dvc_args))


def main() -> None:
    run_main(cli, "stages.exp")


if __name__ == "__main__":
    main()
