"""Stage `train`: supervised fine-tuning with trl's SFTTrainer on `data/sft/train.jsonl`.

Loss on completion (assistant) tokens only; seeded; CPU-friendly defaults for
the sample (see params.yaml `train`). On a GPU set `train.bf16: true`, raise
`batch_size`/`max_length`, and consider `packing: true` and `lora.enabled: true`
(needs peft). Writes the model and tokenizer to `--out` with a model card that
records the dataset fingerprint and the params, `--metrics` (final loss, steps),
and `--plots`/loss.csv (step, loss) for `dvc plots show`.

Example:
    python -m stages.train --base models/base --data data/sft --out models/sft \\
        --metrics metrics/train.json --plots reports/train
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from stages.lib.errors import StageError, clear_errors
from stages.lib.io import write_json, write_text
from stages.lib.params import load_section, require_keys
from stages.lib.progress import quiet_libraries
from stages.lib.timings import write_timings
from stages.llm.base import MODEL_FILE, load_pretrained, read_model_dir
from stages.sft.training import (DEFAULT_CHAT_TEMPLATE, LoraParams, TrainParams, loss_history, lora_config,
                                 quiet_progress,
                                 model_card, read_chat_jsonl, sft_config)


def parse_params(raw: Any) -> TrainParams:
    where = "params.yaml: train"
    require_keys(where, raw, {f.name for f in fields(TrainParams)}, set())
    lora_raw = raw.get("lora", {})
    require_keys(f"{where}.lora", lora_raw, {f.name for f in fields(LoraParams)}, set())
    params = TrainParams(**{**raw, "lora": LoraParams(**lora_raw)})
    for name in ("batch_size", "grad_accum", "max_length", "threads", "logging_steps"):
        if not isinstance(getattr(params, name), int) or getattr(params, name) < 1:
            raise ValueError(f"{where}.{name}: must be a positive integer")
    rate = params.learning_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        hint = " (YAML reads 2e-05 as text: write 2.0e-05 or 0.00002)" if isinstance(rate, str) else ""
        raise ValueError(f"{where}.learning_rate: must be a positive number, got {rate!r}{hint}")
    return params


def base_name(base: str) -> str:
    """What the model card names: the base model's name from MODEL.json, else `base` itself."""
    return read_model_dir(base).name if (Path(base) / MODEL_FILE).is_file() else base


def train(base: str, data_dir: Path, out: Path, metrics_path: Path, plots_dir: Path, params: TrainParams) -> dict:
    import torch
    from datasets import Dataset
    from trl import SFTTrainer

    started = time.perf_counter()
    quiet_libraries()  # loading, tokenizing and saving bars: only on a terminal
    train_file = data_dir / "train.jsonl"
    if not train_file.is_file():
        raise StageError(f"{train_file}: training data not found")
    examples = read_chat_jsonl(train_file)
    if not examples:
        raise StageError(f"{train_file}: no training examples")
    torch.set_num_threads(params.threads)
    torch.manual_seed(params.seed)
    name = base_name(base)
    model, tokenizer = load_pretrained(base, dtype="bfloat16" if params.bf16 else "float32", quiet=True)
    if tokenizer.chat_template is None:
        tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
    # trl tokenizes whole examples, then truncates them to train.max_length: the "Token indices sequence
    # length is longer than the specified maximum" notice is about a length the model never sees.
    tokenizer.deprecation_warnings["sequence-length-is-longer-than-the-specified-maximum"] = True
    with tempfile.TemporaryDirectory() as scratch:
        trainer = SFTTrainer(model=model, args=sft_config(params, Path(scratch), not torch.cuda.is_available()),
                             train_dataset=Dataset.from_list(examples), processing_class=tokenizer,
                             peft_config=lora_config(params.lora))
        quiet_progress(trainer)
        result = trainer.train()
        trainer.model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    losses = loss_history(trainer.state.log_history)
    manifest_path = data_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    write_text(model_card(name, manifest, params, losses), out / "README.md")
    write_text("step,loss\n" + "".join(f"{s},{loss:.6f}\n" for s, loss in losses), plots_dir / "loss.csv")
    metrics = {"train_loss": round(float(result.training_loss), 6), "final_loss": losses[-1][1] if losses else None,
               "steps": int(trainer.state.global_step), "examples": len(examples),
               "dataset_fingerprint": manifest.get("fingerprint")}
    write_json(metrics, metrics_path)
    write_timings(metrics_path, started)
    return metrics


@click.command(help=__doc__.split("\n\n")[0])
@click.option("--base", required=True, help="Base model directory (models/base) or hub id.")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="SFT directory (data/sft).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Where to save the fine-tuned model.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path))
@click.option("--plots", "plots_dir", required=True, type=click.Path(path_type=Path))
@click.option("--params", "params_path", default="params.yaml", show_default=True)
@clear_errors
def cli(base: str, data_dir: Path, out: Path, metrics_path: Path, plots_dir: Path, params_path: str) -> None:
    """Example: python -m stages.train --base models/base --data data/sft --out models/sft
    --metrics metrics/train.json --plots reports/train"""
    params = parse_params(load_section("train", params_path))
    metrics = train(base, data_dir, out, metrics_path, plots_dir, params)
    click.echo(f"train: {metrics['steps']} steps on {metrics['examples']} examples, loss {metrics['train_loss']:.4f}")


def main() -> None:
    cli(prog_name="python -m stages.train")


if __name__ == "__main__":
    main()
