"""Every file the model stages write is 0644 (folders 0755) under umask 022 (issue 22, probe 17): base_model,
train (safetensors writes its weights 0600 on its own) and evaluate, run through their CLIs in a temp folder.
The record stages write through the same `output_dir` (tests/lib/test_hostile_outputs.py)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import torch
import yaml
from click.testing import CliRunner

from stages import base_model, train
from stages.evaluate import __main__ as evaluate
from tests.llm.fixtures import TINY_PARAMS, write_curated

PAIRS = [("猫会游泳吗？", "大多数猫会游泳。"), ("一年有几个季节？", "四个。"), ("水的沸点是多少？", "一百摄氏度。"),
         ("一周有几天？", "七天。")]


def invoke(module, args: list[str]) -> None:
    result = CliRunner().invoke(module.cli, args)
    assert result.exit_code == 0, result.output


def modes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in sorted(folder.rglob("*"))}


def test_every_file_of_the_model_stages_is_0644_under_umask_022(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o022)
    try:
        params = {"model": TINY_PARAMS, "train": {"max_steps": 2, "batch_size": 2, "threads": 1, "max_length": 128},
                  "evaluate": {"continuation": "letter", "batch_size": 4, "threads": 1}}
        Path("params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
        write_curated(Path("inputs/records.parquet"))
        Path("inputs/sft").mkdir()
        Path("inputs/sft/train.jsonl").write_text("".join(json.dumps(
            {"id": f"t-{i}", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
            ensure_ascii=False) + "\n" for i, (q, a) in enumerate(PAIRS)), encoding="utf-8")
        Path("inputs/tasks").mkdir()
        Path("inputs/tasks/logic_test.csv").write_text("甲是乙吗？,是,否,不知道,都不是,B\n", encoding="utf-8")

        invoke(base_model, ["--in", "inputs/records.parquet", "--out", "models/base",
                            "--metrics", "metrics/base_model.json"])
        invoke(train, ["--base-model", "models/base", "--in", "inputs/sft", "--out", "models/sft",
                       "--metrics", "metrics/train.json", "--reports", "reports/train"])
        invoke(evaluate, ["--in", "models/sft", "--tasks", "inputs/tasks", "--metrics", "metrics/eval.json",
                          "--reports", "reports/eval"])
    finally:
        os.umask(old)
    written = {path: mode for path, mode in modes(tmp_path).items()
               if not path.startswith("inputs") and path != "params.yaml"}
    assert {"models/base/model.safetensors", "models/sft/model.safetensors", "models/sft/README.md",
            "reports/train/loss.csv", "reports/eval/predictions.jsonl", "metrics/eval.json"} <= set(written)
    wrong = {path: oct(mode) for path, mode in written.items()
             if mode != (0o755 if (tmp_path / path).is_dir() else 0o644)}
    assert not wrong
