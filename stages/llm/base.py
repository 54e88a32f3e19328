"""The base model: `params.yaml: model`, the `models/base/MODEL.json` pointer, loading.

`models/base/` is what the `base_model` stage writes and what `rewrite`,
`familiarity` (and later `train`, `evaluate`) read. It always holds
`MODEL.json`:

- `kind: tiny` (`model.base: tiny`): the directory also holds the tiny model and
  its tokenizer (see `stages/llm/tiny.py`); `name` is `tiny-qwen2-<12 hex of the
  weights' sha256>`, so a different seed or size is a different model.
- `kind: reference` (`model.base` is a hub id or a local path): nothing is
  downloaded or copied; loading calls `from_pretrained(base, revision=...)`. For a
  local directory the weights are hashed into `identity`; for a hub id the
  identity is `<id>@<revision>` and `@unpinned` when `model.revision` is null
  (pin it for reproducible caches: the hub can change what a name points to).

`identity` is what response-cache keys use; `name` is what records show.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stages.lib.io import write_json
from stages.lib.params import require_keys
from stages.llm.tiny import TinySettings

MODEL_FILE = "MODEL.json"
TINY = "tiny"
DTYPES = ("auto", "float32", "bfloat16", "float16")
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class ModelSettings:
    base: str
    seed: int = 0
    revision: str | None = None
    dtype: str = "float32"
    tiny: TinySettings = TinySettings()


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    name: str
    name_or_path: str
    identity: str
    revision: str | None = None
    dtype: str = "float32"


def parse_model_settings(raw: Any, where: str = "params.yaml: model") -> ModelSettings:
    require_keys(where, raw, {"base", "seed", "revision", "dtype", "tiny"}, {"base"})
    base = raw["base"]
    if not isinstance(base, str) or not base.strip():
        raise ValueError(f"{where}.base: must be 'tiny', a hub id (org/name) or a local path")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"{where}.seed: must be a non-negative integer, got {seed!r}")
    revision = raw.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise ValueError(f"{where}.revision: must be a string (branch, tag or commit) or null")
    dtype = raw.get("dtype", "float32")
    if dtype not in DTYPES:
        raise ValueError(f"{where}.dtype: must be one of {', '.join(DTYPES)}, got {dtype!r}")
    tiny_raw = raw.get("tiny") or {}
    require_keys(f"{where}.tiny", tiny_raw, set(TinySettings.__dataclass_fields__), set())
    return ModelSettings(base=base, seed=seed, revision=revision, dtype=dtype, tiny=TinySettings(**tiny_raw))


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
    if spec.kind == TINY:
        return ModelSpec(**{**fields, "name_or_path": model_dir.as_posix()})
    return spec


def load_model(spec: ModelSpec) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) via `from_pretrained`; hub ids need network the first time.

    For the tiny model this also sets torch to one CPU thread: the model is too small to gain
    from more, and on a shared machine extra threads made scoring several times slower.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    if spec.kind == TINY:
        logging.disable_progress_bar()  # loads in milliseconds; keep stage logs readable
        torch.set_num_threads(1)
    dtype = spec.dtype if spec.dtype == "auto" else getattr(torch, spec.dtype)
    kwargs: dict[str, Any] = {"revision": spec.revision} if spec.revision else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.name_or_path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(spec.name_or_path, dtype=dtype, **kwargs)
    except OSError as exc:
        raise ValueError(f"cannot load model {spec.name_or_path!r}: {exc}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer
