"""Backend `transformers` of the judge on a tiny model: the probability-weighted scores against a direct
computation from the model's logits, the split of `1` into 1 and 10, and the stage end to end with its cache."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
import torch
import yaml
from click.testing import CliRunner

from stages.judge.__main__ import cli
from stages.judge.local import LocalJudge, ScoreTokens, expected, most_likely, score_prefix, score_weights
from stages.judge.rubric import load_rubric
from stages.judge.settings import JudgeParams
from stages.lib.params import parse_section
from stages.llm.base import load_model, read_model_dir
from stages.llm.prompts import render_prompt
from tests.llm.fixtures import TINY_PARAMS, curated_frame, write_curated

ROOT = Path(__file__).resolve().parents[2]
RUBRIC = ROOT / "schemas" / "judge" / "rubric.yaml"
SETTINGS = {"backend": "transformers", "generation": {"max_new_tokens": 6}, "transformers": {"batch_size": 3}}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """The fixtures' tiny model with room for the rubric's prompt (its byte-level tokenizer spends ~2 tokens
    per Chinese character)."""
    from stages.llm.base import ModelParams
    from stages.llm.build import build_base_model

    root = tmp_path_factory.mktemp("judge-model")
    settings = {**TINY_PARAMS, "tiny": {**TINY_PARAMS["tiny"], "max_position_embeddings": 4096}}
    build_base_model(ModelParams.model_validate(settings), write_curated(root / "records.parquet"), root / "base",
                     root / "metrics.json")
    return root / "base"


def test_the_one_token_is_split_into_one_and_ten_by_what_follows():
    tokens = ScoreTokens(digits=list(range(1, 10)), zero=0, ten=None)
    at_score = torch.full((12,), -50.0)
    at_score[1], at_score[5] = 0.0, 0.0  # "1" and "5" equally likely
    after_one = torch.full((12,), -50.0)
    after_one[0], after_one[11] = math.log(3.0), 0.0  # after "1": "0" three times as likely as anything else
    weights = score_weights(at_score, after_one, tokens)
    assert weights[0] == pytest.approx(0.5 * 0.25) and weights[9] == pytest.approx(0.5 * 0.75)
    assert weights[4] == pytest.approx(0.5) and sum(weights) == pytest.approx(1.0)
    assert expected(weights) == pytest.approx(0.125 * 1 + 0.5 * 5 + 0.375 * 10) and most_likely(weights) == 5
    with_ten = ScoreTokens(digits=list(range(1, 10)), zero=0, ten=10)
    at_score[10] = 0.0  # a single "10" token as likely as "1" and "5"
    weights = score_weights(at_score, after_one, with_ten)
    assert weights[9] == pytest.approx(1 / 3 * 0.75 + 1 / 3) and sum(weights) == pytest.approx(1.0)


def direct_scores(model, tokenizer, messages, names) -> list[float]:
    """Each score's weighted mean from one full forward pass over the whole text, as the module docstring
    defines it; the answer goes on with the most likely score."""
    digit = {s: tokenizer(str(s), add_special_tokens=False)["input_ids"] for s in range(10)}
    assert all(len(ids) == 1 for ids in digit.values())
    assert len(tokenizer("10", add_special_tokens=False)["input_ids"]) == 2  # no single "10" token
    values, means = [], []
    for _ in range(len(names) + 1):
        text = render_prompt(tokenizer, messages + [{"role": "assistant", "content": score_prefix(names, values)}])
        ids = tokenizer(text, add_special_tokens=False)["input_ids"] + digit[1]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0].double()
        p = torch.softmax(logits[-2, [digit[s][0] for s in range(1, 10)]], dim=0)
        q = torch.softmax(logits[-1], dim=0)[digit[0][0]]
        weights = [p[0] * (1 - q), *p[1:], p[0] * q]
        means.append(float(sum(score * w for score, w in zip(range(1, 11), weights))))
        values.append(1 + max(range(10), key=lambda i: float(weights[i])))
    return means


def test_weighted_scores_match_a_direct_computation_from_the_logits(model_dir):
    rubric = load_rubric(RUBRIC)
    judge = LocalJudge(read_model_dir(model_dir), rubric, parse_section(JudgeParams, SETTINGS, "judge"))
    items = [(r["instruction"], r["input"], r["output"]) for r in curated_frame().head(3).iter_rows(named=True)]
    seen = []
    outcomes = judge.judge(items, lambda index, outcome: seen.append(index))
    assert seen == [0, 1, 2] and judge.stats.calls == 3 and judge.stats.failures == {}
    model, tokenizer = load_model(read_model_dir(model_dir))
    for item, judgement in zip(items, outcomes):
        means = direct_scores(model, tokenizer, rubric.messages(*item, 2000), rubric.names)
        assert [judgement.dimensions[n] for n in rubric.names] == pytest.approx(means[:-1], abs=1e-4)
        assert judgement.overall == pytest.approx(means[-1], abs=1e-4)
        assert judgement.verdict == rubric.verdict_of(judgement.overall) and len(judgement.rationale) <= 500
    assert score_prefix(rubric.names, [7, 10]) == '{"dimensions":{"accuracy":7,"helpfulness":10,"completeness":'
    assert rubric.answer_format().startswith('{"dimensions":{"accuracy":<1-10>,"helpfulness":<1-10>,')


def run(tmp_path: Path, model_dir: Path, **settings):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"judge": {**SETTINGS, **settings}}), encoding="utf-8")
    records = tmp_path / "records.parquet"
    if not records.exists():
        curated_frame().with_columns(pl.lit(2.5).alias("ppl")).write_parquet(records)
    args = ["--params", str(tmp_path / "params.yaml"), "--in", str(records), "--rubric", str(RUBRIC),
            "--base-model", str(model_dir), "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
            "--metrics", str(tmp_path / "m.json"), "--reports", str(tmp_path / "reports")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "m.json").read_text()), {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}


def test_the_local_stage_judges_every_answer_and_a_rerun_reads_only_the_cache(tmp_path, model_dir):
    metrics, first = run(tmp_path, model_dir)
    assert (metrics["rows_in"], metrics["rows_kept"], metrics["judged"], metrics["unjudged"]) == (10, 10, 8, 2)
    assert (metrics["calls"], metrics["cache_misses"], metrics["cache_stored"], metrics["failures"]) == (8, 8, 8, {})
    assert metrics["completion_tokens"] <= 8 * 6 and metrics["prompt_tokens"] > 8 * 500
    kept = pl.read_parquet(tmp_path / "out" / "records.parquet")
    judged = kept.filter(pl.col("judge_score").is_not_null())
    assert judged.height == 8 and judged["judge_score"].is_between(1, 10).all() and (kept["ppl"] == 2.5).all()
    assert set(judged["judge_verdict"]) <= {"keep", "review", "discard"}
    assert judged["judge_model"].unique().to_list() == [read_model_dir(model_dir).name]
    # batch_size (not used by the judge) is no part of the key: the rerun is served from the cache alone
    metrics, again = run(tmp_path, model_dir, transformers={"batch_size": 1})
    assert (metrics["calls"], metrics["cache_hits"], metrics["cache_misses"]) == (0, 8, 0) and again == first
    metrics, _ = run(tmp_path, model_dir, generation={"max_new_tokens": 5})  # decoding is part of the key
    assert (metrics["calls"], metrics["cache_hits"]) == (8, 0)


def test_the_judge_calibration_bench_judges_a_sample_and_its_known_bad_versions(tmp_path, model_dir):
    """bench/judge_calibration.py on the tiny model: the sample, its swapped and truncated versions, one AUC
    per kind from exactly those judgements."""
    from bench.judge_calibration import main

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"judge": SETTINGS, "calibration": {"seed": 0}}),
                                          encoding="utf-8")
    curated_frame().write_parquet(tmp_path / "candidates.parquet")
    args = ["--candidates", str(tmp_path / "candidates.parquet"), "--params", str(tmp_path / "params.yaml"),
            "--base-model", str(model_dir), "--rubric", str(RUBRIC), "--records", "4",
            "--kinds", "swapped,truncated", "--json", str(tmp_path / "out.json")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    found = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert found["records"] == 4 and len(found["good_scores"]) == 4 and found["failures"] == {}
    assert set(found["auc"]) == {"swapped", "truncated"}
    assert found["auc"]["truncated"]["n_good"] == 4 and found["auc"]["truncated"]["n_bad"] == 4
    assert found["calls"] == 4 + found["auc"]["swapped"]["n_bad"] + 4
    assert all(1 <= s <= 10 for s in found["good_scores"])
