"""One script and one punctuation style for every record, before dedup (stage `normalize`).

Reads the `train_quality` stage's kept records (clean's records with
`score_quality`) and writes `records.parquet` (every input row: normalisation
drops nothing, `rejected.parquet` is empty) under `--out`, plus `--metrics`.
Runs before dedup, so a traditional and a simplified copy of the same text
become equal and collapse in dedup.

On instruction, input and output, with code, LaTeX and URLs masked
(`stages.clean.segments`), in order (`stages.clean.normalize_text`):
1. OpenCC with the record's source config (`opencc:<config>`);
2. full-width letters and digits to ASCII (`normalize:width`);
3. ASCII punctuation between Han characters to the Chinese form (`normalize:punct`).
A tag is appended to `transforms` only when the step changed the record. Score
columns are carried through. Normalising twice gives the same result as once.
Params: `normalize` (its `opencc_by_source` keys must name configured subsets,
so `sources` is read too) and `engine`.

Example:
    python -m stages.normalize --in data/quality/records.parquet --out data/normalize \\
        --metrics metrics/normalize.json
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.clean.normalize_text import NormalizeParams
from stages.clean.normalizing import run_normalize
from stages.engine.config import load_engine
from stages.engine.guard import run_guarded
from stages.ingest.subsets import load_sources, subset_context
from stages.lib.cli import doc_summary, echo_summary, example, in_option, metrics_option, out_option, params_option
from stages.lib.errors import clear_errors
from stages.lib.params import load_section


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@in_option("records.parquet of the train_quality stage (clean's kept records, scored).")
@out_option()
@metrics_option()
@params_option()
@clear_errors
def cli(in_path: Path, out_dir: Path, metrics_path: Path, params_path: Path) -> None:
    params = load_section(NormalizeParams, params_path, subset_context(load_sources(params_path)))
    metrics = run_normalize(in_path, out_dir, metrics_path, params, load_engine(str(params_path)))
    echo_summary("normalize", metrics)


def main() -> None:
    run_guarded(cli, "stages.normalize")


if __name__ == "__main__":
    main()
