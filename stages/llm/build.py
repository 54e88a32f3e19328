"""The base_model stage's run: build the tiny model, convert a packaged one, or point at a real one.

See stages/base_model.py for what each `model.base` gives and stages/llm/base.py for MODEL.json.
The model is built in a fresh folder beside `out_dir` and swapped in (stages/lib/io.py `output_dir`),
so a failed run never leaves a half-written model, and every file in it gets the usual mode.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.io import output_dir, refuse_unsafe, write_json
from stages.lib.progress import quiet_libraries
from stages.lib.timings import write_timings
from stages.llm.base import TINY, ModelParams, packaged_spec, reference_spec, tiny_spec, write_model_file
from stages.llm.packaged import PACKAGED, convert
from stages.llm.tiny import build_tiny

TEXT_COLUMNS = ("instruction", "input", "output")


def corpus_texts(records: pl.DataFrame) -> list[str]:
    """Non-empty instruction, input and output texts, in id order."""
    rows = records.sort("id").select(TEXT_COLUMNS).iter_rows()
    return [text for row in rows for text in row if text and text.strip()]


def build_into(settings: ModelParams, records_path: Path, target: Path) -> dict[str, Any]:
    """Write the model (tiny) or the pointer (reference) into the empty directory `target`."""
    if settings.base in PACKAGED:
        facts = convert(settings.base, target, settings.dtype)
        spec = packaged_spec(settings.base, facts["source_sha256"], settings.dtype)
        write_model_file(spec, target, facts)
        return {"kind": spec.kind, "name": spec.name, "parameters": facts["parameters"]}
    if settings.base != TINY:
        spec = reference_spec(settings.base, settings.revision, settings.dtype)
        write_model_file(spec, target)
        return {"kind": spec.kind, "name": spec.name}
    import torch

    if not records_path.is_file():
        raise FileNotFoundError(f"{records_path}: records not found (needed to train the tiny tokenizer)")
    texts = corpus_texts(pl.read_parquet(records_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        losses = build_tiny(texts, settings.tiny, settings.seed, target)
    finally:
        torch.set_num_threads(threads)
    spec = tiny_spec(target)
    write_model_file(spec, target, {"seed": settings.seed, "corpus_texts": len(texts),
                                    "note": "tiny random-init model for offline runs; its outputs are not meaningful"})
    return {"kind": spec.kind, "name": spec.name, "corpus_texts": len(texts),
            "pretrain_loss_first": losses[0] if losses else None, "pretrain_loss_last": losses[-1] if losses else None}


def build_base_model(settings: ModelParams, records_path: Path, out_dir: Path, metrics_path: Path) -> dict[str, Any]:
    """The whole stage: build into a fresh folder, swap it in, write the metrics; the metrics."""
    started = time.perf_counter()
    quiet_libraries()  # library progress bars only on a terminal
    refuse_unsafe(metrics_path)
    with output_dir(out_dir) as staging:
        metrics = build_into(settings, records_path, staging)
        metrics_path.unlink(missing_ok=True)  # until the new one is written: no metrics, no mix
    write_json(metrics, metrics_path)
    write_timings(metrics_path, started)
    return metrics
