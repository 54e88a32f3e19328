"""base_model -> rewrite (transformers backend, tiny model) -> familiarity through their CLIs, offline.

Uses the shipped params.yaml with the tiny overrides (tests/project.py), the tiny model shrunk and few
seeds, in a temp dir.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import torch
import yaml
from click.testing import CliRunner

from stages import base_model, familiarity, rewrite
from tests.llm.fixtures import TINY_PARAMS, write_curated
from tests.project import tiny_params

ROOT = Path(__file__).resolve().parents[1]


def invoke(module, args: list[str]) -> str:
    result = CliRunner().invoke(module.cli, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_base_model_rewrite_familiarity_chain(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.chdir(tmp_path)
    params = tiny_params()
    params["rule"] = "blurring_boundaries"
    params["model"] = TINY_PARAMS
    params["rewrite"]["max_records"] = 4
    params["rewrite"]["generation"]["max_new_tokens"] = 8
    Path("params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    write_curated(Path("data/validate/records.parquet"))
    rules = str(ROOT / "schemas" / "rules.yaml")
    rewrite_args = ["run", "--in", "data/validate/records.parquet", "--rules", rules, "--base-model", "models/base",
                    "--cache", "cache/rewrite", "--out", "data/rewrite", "--metrics", "metrics/rewrite.json",
                    "--reports", "reports/rewrite"]

    invoke(base_model, ["--in", "data/validate/records.parquet", "--out", "models/base",
                        "--metrics", "metrics/base_model.json"])
    invoke(rewrite, rewrite_args)
    first = json.loads(Path("metrics/rewrite.json").read_text())
    assert first["rows_in"] == 4 and first["cache_misses"] == 4 and first["backend"] == "transformers"
    assert first["model"].startswith("tiny-qwen2-") and first["backend_calls"] == 4
    produced = pl.read_parquet("data/rewrite/rejected.parquet")
    # the tiny model's answers are noise: they are rejected with a reason, not kept
    assert first["rows_kept"] + produced.height == 4
    assert set(produced["reason"]) <= {"rewrite_unparseable", "rewrite_empty_answer"}
    assert len(list(Path("cache/rewrite").rglob("*.json"))) == 4

    before = Path("data/rewrite/rejected.parquet").read_bytes()
    assert "cache 4 hits, 0 misses" in invoke(rewrite, rewrite_args)
    assert Path("data/rewrite/rejected.parquet").read_bytes() == before

    invoke(familiarity, ["--in", "data/validate/records.parquet", "--rewrites", "data/rewrite/records.parquet",
                         "--base-model", "models/base", "--out", "data/familiarity", "--reports",
                         "reports/familiarity", "--metrics", "metrics/familiarity.json"])
    scored = pl.read_parquet("data/familiarity/records.parquet")
    assert scored.height == 10 + first["rows_kept"] and scored["ppl"].drop_nulls().len() >= 8
    assert Path("reports/familiarity/ppl_by_source.csv").is_file()
