"""Train the optional quality classifier on clean's verdicts; score and filter (stage `train_quality`).

Runs after `clean` and before `normalize`. Reads `<in>/records.parquet` (clean's
kept records) and `<in>/rejected.parquet` and writes `records.parquet` (the kept
records with a `score_quality` column), `rejected.parquet` (records dropped as
`quality_low`) and, when enabled, the model `model.bin` under `--out`, plus
`--metrics`.

Off by default (`train_quality.enabled: false`): every record passes through
with `score_quality` null. When enabled it labels clean's output:
- good: kept records matching every `positive` condition (field: value), e.g.
  `{human_verified: true}`;
- bad: rejected records with one of `negative_reasons` (clean's reason codes);
trains a supervised fastText model on their prose (`stages.clean.quality`,
in a fresh process), scores every kept record (P(good)) and, with `min_quality`
set, drops those scoring under it as `quality_low`. Metrics add `enabled` and,
when on, `good_examples`, `bad_examples` and `train_accuracy`. Params:
`train_quality`.

Example:
    python -m stages.train_quality --in data/clean --out data/quality --metrics metrics/train_quality.json
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.clean.quality import TrainQualityParams
from stages.clean.quality_filter import model_summary, run_train_quality
from stages.lib.cli import (doc_summary, echo_summary, example, in_option, metrics_option, out_option, params_option,
                            run_main)
from stages.lib.errors import clear_errors
from stages.lib.params import load_section


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@in_option("The clean stage's output folder (records.parquet and rejected.parquet).")
@out_option()
@metrics_option()
@params_option()
@clear_errors
def cli(in_path: Path, out_dir: Path, metrics_path: Path, params_path: Path) -> None:
    params = load_section(TrainQualityParams, params_path)
    metrics = run_train_quality(in_path, out_dir, metrics_path, params)
    echo_summary("train_quality", metrics, model_summary(metrics))


def main() -> None:
    run_main(cli, "stages.train_quality")


if __name__ == "__main__":
    main()
