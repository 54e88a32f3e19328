"""Stage `familiarity`: answer-only perplexity (checked by hand), the filter, the summaries."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest
import torch
import yaml
from click.testing import CliRunner

from stages.familiarity import cli
from stages.lib.params import parse_section
from stages.llm.base import load_model, read_model_dir
from stages.llm.columns import EXTRA
from stages.llm.familiarity import EXTRA_COLUMNS, run_familiarity
from stages.llm.perplexity import FamiliarityParams, answer_perplexities, encode_pair
from tests.llm.fixtures import curated_frame, tiny_model_dir, write_curated


def familiarity_params(raw) -> FamiliarityParams:
    return parse_section(FamiliarityParams, raw, "params.yaml: familiarity")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def loaded():
    return load_model(read_model_dir(tiny_model_dir()))


def test_perplexity_matches_a_hand_computation_from_the_logits(loaded):
    model, tokenizer = loaded
    instruction, output = "为什么天空是蓝色的？", "因为空气分子更容易散射蓝光。"
    prompt_text = tokenizer.apply_chat_template([{"role": "user", "content": instruction}], tokenize=False,
                                                add_generation_prompt=True)
    prompt = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    answer = tokenizer(output, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + answer])).logits[0]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    picked = [logprobs[len(prompt) + k - 1, token].item() for k, token in enumerate(answer)]
    by_hand = math.exp(-sum(picked) / len(answer))
    rows = [("长城大约有多长？", "", "两万多千米，" * 30), (instruction, "", output), ("空", "", "")]
    scores = answer_perplexities(model, tokenizer, rows, batch_size=3, max_length=512)
    assert scores[1].tokens == len(answer)
    assert scores[1].ppl == pytest.approx(by_hand, rel=1e-4)
    assert scores[2].ppl is None and scores[2].tokens == 0


def test_prompt_tokens_are_context_not_scored(loaded):
    model, tokenizer = loaded
    short = answer_perplexities(model, tokenizer, [("问", "", "答案是十三。")], 1, 512)[0]
    long = answer_perplexities(model, tokenizer, [("问" * 40, "补充说明", "答案是十三。")], 1, 512)[0]
    assert short.tokens == long.tokens and short.ppl != long.ppl


def test_truncation_keeps_the_start_of_the_answer_within_max_length(loaded):
    _, tokenizer = loaded
    prompt, answer, truncated = encode_pair(tokenizer, "问题" * 50, "", "回答很长。" * 100, max_length=64)
    assert truncated and len(prompt) + len(answer) == 64 and len(answer) >= 32
    full = tokenizer("回答很长。" * 100, add_special_tokens=False)["input_ids"]
    assert answer == full[: len(answer)]


def rewrites_frame() -> pl.DataFrame:
    parent = curated_frame().row(0, named=True)
    row = {**parent, "id": "rewrite-00000000000000aa", "answer_from": "llm", "instruction": "月亮的名字会发光吗？",
           "output": "名字不会发光，发光的是被太阳照亮的月球表面。", "parent_id": parent["id"],
           "rule": "blurring_boundaries", "model": "qwen-test", "prompt_sha256": "0" * 64}
    return pl.DataFrame([row], schema={**curated_frame().schema, **EXTRA})


def run_stage(tmp_path, filter_settings=None):
    records = write_curated(tmp_path / "records.parquet")
    rewrites = tmp_path / "rewrites.parquet"
    rewrites_frame().write_parquet(rewrites)
    settings = familiarity_params({"batch_size": 4, "max_length": 256, "filter": filter_settings or {}})
    metrics = run_familiarity(settings, records, rewrites, tiny_model_dir(), tmp_path / "out", tmp_path / "rep",
                              tmp_path / "m.json")
    return (pl.read_parquet(tmp_path / "out" / "records.parquet"),
            pl.read_parquet(tmp_path / "out" / "rejected.parquet"), metrics)


def test_every_candidate_gets_a_ppl_and_summaries_are_written(tmp_path):
    kept, rejected, metrics = run_stage(tmp_path)
    assert rejected.height == 0 and kept.height == 11 and list(kept.columns[-6:]) == list(EXTRA_COLUMNS)
    assert kept.filter(pl.col("output") == "")["ppl"].is_null().all()  # ruozhiba titles: no answer yet
    assert kept.filter(pl.col("output") != "")["ppl"].is_not_null().all()
    assert (metrics["scored"], metrics["unscored"], metrics["threshold"]) == (9, 2, None)
    assert set(metrics["ppl_median_by_answer_from"]) == {"human", "llm"}
    assert kept.filter(pl.col("answer_from") == "llm")["rule"].to_list() == ["blurring_boundaries"]
    by_source = pl.read_csv(tmp_path / "rep" / "ppl_by_source.csv")
    assert by_source.columns == ["source", "n", "mean_ppl", "median_ppl", "p25_ppl", "p75_ppl"]
    assert by_source["source"].to_list() == ["douban", "exam", "wiki", "zhihu"] and by_source["n"].sum() == 9
    assert pl.read_csv(tmp_path / "rep" / "ppl_by_answer_from.csv")["answer_from"].to_list() == ["human", "llm"]
    assert (tmp_path / "rep" / "ppl.png").read_bytes()[:4] == b"\x89PNG"
    first = {p.name: p.read_bytes() for p in [*(tmp_path / "out").iterdir(), *(tmp_path / "rep").iterdir()]}
    run_stage(tmp_path)
    assert {p.name: p.read_bytes() for p in [*(tmp_path / "out").iterdir(), *(tmp_path / "rep").iterdir()]} == first


def test_filter_by_max_ppl_and_quantile_rejects_with_a_reason(tmp_path):
    kept, _, _ = run_stage(tmp_path / "a")
    ppl = kept["ppl"].drop_nulls().sort()
    kept_q, rejected_q, metrics = run_stage(tmp_path / "b", {"keep_quantile": 0.5})
    assert rejected_q.height == (ppl > ppl.quantile(0.5, interpolation="linear")).sum() == 4
    assert set(rejected_q["reason"]) == {"familiarity_unfamiliar"}
    assert rejected_q["detail"][0].endswith("(keep_quantile 0.5)") and metrics["rows_in"] == 11
    assert kept_q["ppl"].is_null().sum() == 2  # unscored records are never filtered
    cut = float(ppl[2])
    _, rejected_m, _ = run_stage(tmp_path / "c", {"max_ppl": cut})
    assert rejected_m.height == 6 and rejected_m["detail"][0].endswith(f"(max_ppl {cut})")


@pytest.mark.parametrize("raw, message", [
    ({"filter": {"keep_quantile": 1.5}}, r"keep_quantile: must be in \(0, 1\]"),
    ({"filter": {"max_ppl": 0}}, "max_ppl: must be a positive number"),
    ({"batch_size": 0}, "batch_size: must be a positive integer"),
    ({"filter": {"min_ppl": 2}}, r"filter.min_ppl: unknown key"),
])
def test_bad_settings(raw, message):
    with pytest.raises(ValueError, match=message):
        familiarity_params(raw)


def test_cli(tmp_path):
    records = write_curated(tmp_path / "records.parquet")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"familiarity": {"batch_size": 8, "max_length": 128}}))
    args = ["--params", str(tmp_path / "params.yaml"), "--in", str(records), "--base-model",
            str(tiny_model_dir()), "--out", str(tmp_path / "out"), "--reports", str(tmp_path / "rep"),
            "--metrics", str(tmp_path / "m.json")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "familiarity: 10 in, 10 kept, 0 dropped; 8 scored" in result.output
    assert json.loads((tmp_path / "m.json").read_text())["model"].startswith("tiny-qwen2-")
    missing = CliRunner().invoke(cli, [*args, "--rewrites", str(tmp_path / "none.parquet")])
    assert missing.exit_code == 1 and "none.parquet: records not found" in missing.output


# --- params.yaml: familiarity, one failure per test (exact text) ------------------------------------


def familiarity_error(raw) -> str:
    with pytest.raises(ValueError) as failed:
        familiarity_params(raw)
    return str(failed.value)


def test_batch_size_given_as_text_is_the_wrong_type():
    assert familiarity_error({"batch_size": "8"}) == "params.yaml: familiarity.batch_size: must be an integer, got '8'"


def test_an_infinite_max_ppl_is_refused():
    assert familiarity_error({"filter": {"max_ppl": float("inf")}}) == (
        "params.yaml: familiarity.filter.max_ppl: must be a finite number, got .inf")


def test_max_length_below_two_is_out_of_range():
    assert familiarity_error({"max_length": 1}) == (
        "params.yaml: familiarity.max_length: must be an integer >= 2 (prompt + response tokens), got 1")


def test_a_misspelt_key_gets_a_suggestion():
    assert familiarity_error({"batch_sise": 8}) == (
        "params.yaml: familiarity.batch_sise: unknown key (did you mean batch_size?); "
        "allowed: batch_size, filter, max_length")


def test_an_integer_max_ppl_is_kept_as_written_in_the_detail():
    """`max_ppl: 50` reads `max_ppl 50` in rejected rows' detail, as before the typed params."""
    assert familiarity_params({"filter": {"max_ppl": 50}}).filter.max_ppl == 50
    assert isinstance(familiarity_params({"filter": {"max_ppl": 50}}).filter.max_ppl, int)
