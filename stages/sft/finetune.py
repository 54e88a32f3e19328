"""The `train` stage's work: fine-tune the base model on data/sft/train.jsonl with trl's SFTTrainer.

The model comes from the one loader (`stages.llm.base.load_pretrained`); config, dataset conversion
and the model card from stages/sft/training.py. Writes the model and tokenizer to `out` with a model
card (dataset fingerprint, params), and `<reports>/loss.csv`, both folders built fresh and swapped in
together (the model first, `output_dirs`), then the metrics JSON (final loss, steps).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from stages.lib.errors import StageError
from stages.lib.io import output_dirs, refuse_unsafe, write_json, write_text
from stages.lib.progress import quiet_libraries
from stages.lib.timings import write_timings
from stages.llm.base import MODEL_FILE, load_pretrained, read_model_dir
from stages.sft.training import (DEFAULT_CHAT_TEMPLATE, TrainParams, loss_history, lora_config, model_card,
                                 quiet_progress, read_chat_jsonl, sft_config)


def base_name(base: str | Path) -> str:
    """What the model card names: the base model's name from MODEL.json, else `base` itself."""
    return read_model_dir(base).name if (Path(base) / MODEL_FILE).is_file() else str(base)


def read_examples(data_dir: Path) -> list[dict[str, Any]]:
    train_file = data_dir / "train.jsonl"
    if not train_file.is_file():
        raise StageError(f"{train_file}: training data not found")
    examples = read_chat_jsonl(train_file)
    if not examples:
        raise StageError(f"{train_file}: no training examples")
    return examples


def train(base: str | Path, data_dir: Path, out: Path, metrics_path: Path, reports_dir: Path,
          params: TrainParams) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from trl import SFTTrainer

    started = time.perf_counter()
    quiet_libraries()  # loading, tokenizing and saving bars: only on a terminal
    refuse_unsafe(metrics_path)  # before the training, not after it
    examples = read_examples(data_dir)
    torch.set_num_threads(params.threads)
    torch.manual_seed(params.seed)
    name = base_name(base)
    model, tokenizer = load_pretrained(str(base), dtype="bfloat16" if params.bf16 else "float32", quiet=True)
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
        losses = loss_history(trainer.state.log_history)
        manifest_path = data_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
        with output_dirs(out, reports_dir) as (model_dir, reports):
            trainer.model.save_pretrained(model_dir)
            tokenizer.save_pretrained(model_dir)
            write_text(model_card(name, manifest, params, losses), model_dir / "README.md")
            write_text("step,loss\n" + "".join(f"{s},{loss:.6f}\n" for s, loss in losses), reports / "loss.csv")
            Path(metrics_path).unlink(missing_ok=True)  # until the new one is written: no metrics, no mix
    metrics = {"train_loss": round(float(result.training_loss), 6), "final_loss": losses[-1][1] if losses else None,
               "steps": int(trainer.state.global_step), "examples": len(examples),
               "dataset_fingerprint": manifest.get("fingerprint")}
    write_json(metrics, metrics_path)
    write_timings(metrics_path, started)
    return metrics


def train_line(metrics: dict[str, Any]) -> str:
    """`train: 27 steps on 213 examples, loss 6.5267`."""
    return f"train: {metrics['steps']} steps on {metrics['examples']} examples, loss {metrics['train_loss']:.4f}"
