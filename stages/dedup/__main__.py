"""Stage `dedup`: remove exact and near duplicates, recording what each removed record duplicated.

Runs after `normalize`. Compares the dedup text of each record (the `fields` of
params.yaml: dedup, whitespace collapsed, joined by newlines; shingles fold case):
1. exact duplicates (same text) leave one record per text;
2. near duplicates among those: MinHash LSH over character n-grams proposes
   candidate pairs, each pair is verified by the exact Jaccard similarity of its
   shingle sets (or the signature estimate, verify=estimate), and clusters are
   the connected components of pairs at or above `threshold`.
Each cluster keeps one record by priority (human_verified, answer_from human,
longer output, smaller id; `stages/dedup/keeper.py`). The others are rejected
with reason `dedup_exact` (same text as the kept record) or `dedup_near`, and a
detail naming the kept id. Records with an empty dedup text are kept and not
compared. `clusters.parquet` has one row per record of every cluster with more
than one member, the keeper included: id, cluster_id (smallest member id),
kept_id, jaccard_to_kept (1.0 for the keeper and for exact copies of it).
Memory stays bounded: the input is read in batches and only compact per-record
arrays are held (stages/dedup/plan.py). With --index, a record whose id and
content are unchanged since the last run is not sketched again and a pair of
texts measured then is not measured again (stages/dedup/index.py); the outputs
are the same as without it. An index built with other params or code, or a
damaged one, is not reused: one line says why, and everything is computed.

Example:
    python -m stages.dedup --in data/normalize/records.parquet --out data/dedup --metrics metrics/dedup.json --index data/dedup_index
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.dedup.config import DedupParams
from stages.dedup.stage import run_dedup
from stages.engine.config import load_engine
from stages.engine.guard import run_guarded
from stages.lib.cli import doc_summary, echo_summary, example, in_option, metrics_option, out_option, params_option
from stages.lib.errors import clear_errors
from stages.lib.params import load_section


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@in_option("records.parquet of the normalize stage.")
@out_option()
@metrics_option()
@params_option()
@click.option("--index", "index_path", type=click.Path(path_type=Path), default=None,
              help="Folder of the index kept between runs (reused when it fits, then replaced).")
@clear_errors
def cli(in_path: Path, out_dir: Path, metrics_path: Path, params_path: Path, index_path: Path | None) -> None:
    params = load_section(DedupParams, params_path)
    metrics, _ = run_dedup(in_path, out_dir, metrics_path, params, load_engine(params_path), index_path)
    echo_summary("dedup", metrics)


def main() -> None:
    run_guarded(cli, "stages.dedup")


if __name__ == "__main__":
    main()
