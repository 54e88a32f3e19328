"""Stage `train`: trl SFTTrainer on a tiny local Qwen2, completion-only loss, reproducible on CPU."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stages.lib.params import parse_section
from stages.sft.training import DEFAULT_CHAT_TEMPLATE, TrainParams, read_chat_jsonl, sft_config
from stages.train import cli
from tests.tiny_lm import make_tiny_lm

PAIRS = [("猫会游泳吗？", "大多数猫会游泳，但不喜欢水。"), ("一年有几个季节？", "四个：春夏秋冬。"),
         ("水的沸点是多少？", "标准大气压下是一百摄氏度。"), ("月亮会发光吗？", "不会，它反射太阳光。"),
         ("鱼用什么呼吸？", "鱼用鳃呼吸。"), ("一周有几天？", "一周有七天。")]


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("sft")
    lines = [json.dumps({"id": f"t-{i}", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
                        ensure_ascii=False) for i, (q, a) in enumerate(PAIRS)]
    (data / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (data / "manifest.json").write_text(json.dumps({"fingerprint": "f" * 64, "counts": {"train": 6}}))
    return data


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return make_tiny_lm(tmp_path_factory.mktemp("base"), seed=1)


def write_params(path: Path) -> Path:
    path.write_text("train:\n  max_steps: 4\n  batch_size: 2\n  learning_rate: 0.01\n  threads: 1\n"
                    "  max_length: 256\n", encoding="utf-8")
    return path


def run_train(base: Path, sft_dir: Path, tmp: Path):
    return CliRunner().invoke(cli, ["--base-model", str(base), "--in", str(sft_dir), "--out", str(tmp / "model"),
                                    "--metrics", str(tmp / "train.json"), "--reports", str(tmp / "plots"),
                                    "--params", str(write_params(tmp / "params.yaml"))])


def test_train_saves_model_card_metrics_and_loss_curve_reproducibly(base, sft_dir, tmp_path):
    results = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        outcome = run_train(base, sft_dir, tmp_path / name)
        assert outcome.exit_code == 0, outcome.output
        assert "{'loss'" not in outcome.output and outcome.output.startswith("train: 4 steps on 6 examples, loss ")
        results.append(tmp_path / name)
    a, b = results
    metrics = json.loads((a / "train.json").read_text())
    assert metrics["steps"] == 4 and metrics["examples"] == 6 and metrics["dataset_fingerprint"] == "f" * 64
    curve = (a / "plots" / "loss.csv").read_text().splitlines()
    assert curve[0] == "step,loss" and len(curve) == 5
    losses = [float(line.split(",")[1]) for line in curve[1:]]
    assert losses[-1] < losses[0]
    assert (a / "plots" / "loss.csv").read_text() == (b / "plots" / "loss.csv").read_text()
    assert (a / "model" / "model.safetensors").read_bytes() == (b / "model" / "model.safetensors").read_bytes()
    card = (a / "model" / "README.md").read_text()
    assert "dataset_fingerprint: " + "f" * 64 in card and "learning_rate: 0.01" in card


def test_loss_is_on_completion_tokens_only(base, sft_dir, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(base)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(base),
                         args=sft_config(TrainParams(max_steps=1, max_length=256), tmp_path, use_cpu=True),
                         train_dataset=Dataset.from_list(read_chat_jsonl(sft_dir / "train.jsonl")),
                         processing_class=tokenizer)
    example = trainer.train_dataset[0]
    ids, mask = example["input_ids"], [label != -100 for label in example["labels"]]
    completion = tokenizer.decode([t for t, m in zip(ids, mask) if m])
    prompt = tokenizer.decode([t for t, m in zip(ids, mask) if not m])
    assert completion.startswith(PAIRS[0][1]) and PAIRS[0][0] in prompt and PAIRS[0][1] not in prompt
    assert tokenizer.chat_template == DEFAULT_CHAT_TEMPLATE


def test_missing_training_data_is_one_clear_line(base, tmp_path):
    outcome = run_train(base, tmp_path / "nowhere", tmp_path)
    assert outcome.exit_code == 1
    assert outcome.output == f"Error: {tmp_path / 'nowhere' / 'train.jsonl'}: training data not found\n"


def parse_params(raw):
    return parse_section(TrainParams, raw, "params.yaml: train")


def test_params_are_validated():
    with pytest.raises(ValueError, match=r"^params.yaml: train.batch_size: must be a positive integer, got 0$"):
        parse_params({"batch_size": 0})
    with pytest.raises(ValueError, match=r"^params.yaml: train.lora.rank: unknown key; allowed: alpha, dropout, "):
        parse_params({"lora": {"rank": 8}})


def test_a_learning_rate_yaml_read_as_text_fails_clearly():
    with pytest.raises(ValueError, match=r"train.learning_rate: must be a positive number, got '2e-05' \(YAML reads"):
        parse_params({"learning_rate": "2e-05"})


def test_a_non_finite_learning_rate_is_refused():
    with pytest.raises(ValueError) as info:
        parse_params({"learning_rate": float("nan")})
    assert str(info.value) == "params.yaml: train.learning_rate: must be a finite number, got .nan"


def test_a_bool_where_a_count_belongs_is_refused():
    with pytest.raises(ValueError) as info:
        parse_params({"grad_accum": True})
    assert str(info.value) == "params.yaml: train.grad_accum: must be an integer, got True"


def test_max_steps_zero_is_refused():
    with pytest.raises(ValueError) as info:
        parse_params({"max_steps": 0})
    assert str(info.value) == ("params.yaml: train.max_steps: must be a positive integer or -1 (train for `epochs`), "
                               "got 0")


def test_lora_dropout_out_of_range_is_refused():
    with pytest.raises(ValueError) as info:
        parse_params({"lora": {"dropout": 1}})
    assert str(info.value) == "params.yaml: train.lora.dropout: must be in [0, 1), got 1"


def test_an_unknown_train_key_suggests_the_close_one():
    with pytest.raises(ValueError) as info:
        parse_params({"learning_rat": 0.01})
    assert str(info.value).startswith("params.yaml: train.learning_rat: unknown key (did you mean learning_rate?); ")


def test_the_model_card_shows_numbers_as_written():
    assert parse_params({"epochs": 1}).model_dump()["epochs"] == 1
    assert repr(parse_params({"epochs": 1}).model_dump()["epochs"]) == "1"


def test_the_cli_names_the_params_file_in_a_params_error(base, sft_dir, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  batch_size: 0\n", encoding="utf-8")
    outcome = CliRunner().invoke(cli, ["--base-model", str(base), "--in", str(sft_dir), "--out", str(tmp_path / "m"),
                                       "--metrics", str(tmp_path / "t.json"), "--reports", str(tmp_path / "r"),
                                       "--params", str(params)])
    assert outcome.exit_code == 1
    assert outcome.output == f"Error: {params}: train.batch_size: must be a positive integer, got 0\n"
