"""Repair texts, scrub PII, score and filter every raw record (stage `clean`).

Reads `<in>/<name>/records.parquet` for exactly the sources configured in
`params.yaml: sources` (a removed source's leftover folder is never read) and
writes `records.parquet` and `rejected.parquet` under `--out`, plus `--metrics`.
Per record, on instruction, input and output:
1. repairs (`stages.clean.repair`): control characters, mojibake, HTML,
   zero-width characters, markdown escape artefacts, whitespace; code, LaTeX
   and URLs are masked during the prose repairs and come back unchanged;
2. PII and secrets (`stages.clean.pii`, `pii_context`, `secret_kv`): typed
   placeholders, counted per type;
3. the registered filters (`stages.clean.filters`): every score column
   first, then the per-source thresholds, each drop with a `clean_*` reason.
Each repair or scrub that changed a record appends its tag to `transforms`.
Metrics add, per tag, the number of records it changed (`transforms`) and the
PII placeholders inserted per type (`pii`). Params: `clean` (its `by_source`
keys must name configured subsets, so `sources` is read too) and `engine`.
The optional quality classifier runs after this stage (`train_quality`).

Example:
    python -m stages.clean --in data/raw --out data/clean --metrics metrics/clean.json
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.clean.filters import CleanParams
from stages.clean.records import run_clean
from stages.engine.config import load_engine
from stages.engine.guard import run_guarded
from stages.ingest.subsets import load_sources, subset_context
from stages.lib.cli import doc_summary, echo_summary, example, in_option, metrics_option, out_option, params_option
from stages.lib.errors import clear_errors
from stages.lib.params import load_section


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@in_option("Folder of scrape outputs; <in>/<name>/records.parquet is read for each name in params.yaml: sources.")
@out_option()
@metrics_option()
@params_option()
@clear_errors
def cli(in_path: Path, out_dir: Path, metrics_path: Path, params_path: Path) -> None:
    sources = load_sources(params_path)
    params = load_section(CleanParams, params_path, subset_context(sources))
    metrics = run_clean(in_path, out_dir, metrics_path, params, sorted(sources), load_engine(str(params_path)))
    echo_summary("clean", metrics)


def main() -> None:
    run_guarded(cli, "stages.clean")


if __name__ == "__main__":
    main()
