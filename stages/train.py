"""Stage `train`: supervised fine-tuning with trl's SFTTrainer on `data/sft/train.jsonl`.

Loss on completion (assistant) tokens only; seeded; CPU-friendly defaults for
the sample (see params.yaml `train`). On a GPU set `train.bf16: true`, raise
`batch_size`/`max_length`, and consider `packing: true` and `lora.enabled: true`
(needs peft). Reads the base model from `--base-model` (the base_model stage's output, or a
model folder or hub id) and the set from `--in` (data/sft). Writes the model and tokenizer to
`--out` with a model card that records the dataset fingerprint and the params, `--metrics`
(final loss, steps), and `--reports`/loss.csv (step, loss) for `dvc plots show`.

Example:
    python -m stages.train --base-model models/base --in data/sft --out models/sft \\
        --metrics metrics/train.json --reports reports/train
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.lib.cli import (base_model_option, doc_summary, example, in_option, metrics_option, out_option,
                            params_option, reports_option, run_main)
from stages.lib.errors import clear_errors
from stages.lib.params import load_section
from stages.sft.finetune import train, train_line
from stages.sft.training import TrainParams


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@base_model_option("Base model folder (models/base), another model folder or a hub id.")
@in_option("SFT folder (data/sft) holding train.jsonl and manifest.json.")
@out_option("Where to save the fine-tuned model (models/sft).")
@metrics_option("Metrics JSON (training loss, steps, examples).")
@reports_option("Folder for loss.csv (reports/train).")
@params_option()
@clear_errors
def cli(base_model: Path, in_path: Path, out_dir: Path, metrics_path: Path, reports_dir: Path,
        params_path: Path) -> None:
    params = load_section(TrainParams, params_path)
    metrics = train(base_model, in_path, out_dir, metrics_path, reports_dir, params)
    click.echo(train_line(metrics))


def main() -> None:
    run_main(cli, "stages.train")


if __name__ == "__main__":
    main()
