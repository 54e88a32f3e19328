"""Stage `judge` with backend `openai` against the loopback chat server: columns, retries, rejections, the
cache and its keys, the API key, a down endpoint, a broken rubric, metrics counted exactly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from stages.judge.__main__ import cli
from stages.lib.record import RECORD_SCHEMA
from tests.llm.chat_server import ChatServer, judge_answer, judge_scores
from tests.llm.fixtures import curated_frame
from tests.llm.leaks import files_holding

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "schemas" / "judge" / "rubric.yaml"
KEY = "sk-judge-3f9a7c1e5b2d4a6f8e0c9b7d"
DIMENSIONS = ("accuracy", "helpfulness", "completeness", "clarity")
BEHAVIOURS = [("新手学编程", "judge_not_json"), ("冬天手机", "judge_out_of_range"),
              ("长城", "judge_missing_dimension"), ("科幻", "judge_invalid_once"), ("", "judge")]


def params(url: str, **judge) -> dict:
    section = {"backend": "openai", "attempts": 2, "max_chars": 2000,
               "generation": {"max_new_tokens": 256, "temperature": 0.0},
               "openai": {"base_url": url, "model": "judge-test", "api_key_env": "CQIA_TEST_API_KEY",
                          "concurrency": 2, "timeout_s": 2, "retries": 1, "backoff_s": 0.01, "max_backoff_s": 0.02}}
    return {"judge": section | judge}


def candidates(path: Path) -> Path:
    """The fixture records as familiarity writes them (with ppl): 8 with an answer, 2 Ruozhiba without."""
    curated_frame().with_columns(pl.lit(12.5).alias("ppl"), pl.lit(7).alias("ppl_tokens")).write_parquet(path)
    return path


def run(tmp_path: Path, prm: dict, rubric: Path = RUBRIC):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(prm, allow_unicode=True), encoding="utf-8")
    records = tmp_path / "records.parquet"
    if not records.exists():
        candidates(records)
    args = ["--params", str(tmp_path / "params.yaml"), "--in", str(records), "--rubric", str(rubric),
            "--base-model", str(tmp_path / "nomodel"), "--cache", str(tmp_path / "cache"), "--out",
            str(tmp_path / "out"), "--metrics", str(tmp_path / "m.json"), "--reports", str(tmp_path / "reports")]
    return CliRunner().invoke(cli, args)


def outputs(tmp_path: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    out = tmp_path / "out"
    return (pl.read_parquet(out / "records.parquet"), pl.read_parquet(out / "rejected.parquet"),
            json.loads((tmp_path / "m.json").read_text()))


def files(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}


def first_user(server: ChatServer, marker: str) -> str:
    return next(r["body"]["messages"][1]["content"] for r in server.requests
                if marker in r["body"]["messages"][1]["content"])


def test_answers_become_columns_invalid_ones_are_retried_then_rejected_and_counted(tmp_path):
    with ChatServer(BEHAVIOURS) as server:
        result = run(tmp_path, params(server.base_url))
    assert result.exit_code == 0, result.output
    kept, rejected, metrics = outputs(tmp_path)
    columns = {"judge_score": pl.Float64, **{f"judge_{d}": pl.Float64 for d in DIMENSIONS},
               "judge_verdict": pl.String, "judge_rationale": pl.String, "judge_model": pl.String,
               "judge_rubric": pl.String}
    assert kept.schema == pl.Schema({**RECORD_SCHEMA, "ppl": pl.Float64, "ppl_tokens": pl.Int32, **columns})
    assert result.output == ("judge: 10 in, 7 kept, 3 dropped (judge_invalid_output 3); 8 judged, median score "
                             f"{metrics['score_median']:.2f}; cache 0 hits, 8 misses\n")
    # 8 first answers; the 3 always-invalid ones and the one invalid once are asked again (attempts: 2)
    assert (metrics["judged"], metrics["unjudged"], metrics["answers"], metrics["calls"]) == (8, 2, 12, 12)
    assert metrics["failures"] == {"missing_dimension": 2, "not_json": 3, "out_of_range": 2}
    assert metrics["prompt_tokens"] == sum(u["prompt_tokens"] for u in server.usage) > 0
    assert metrics["completion_tokens"] == sum(u["completion_tokens"] for u in server.usage) > 0
    assert (metrics["cache_hits"], metrics["cache_misses"], metrics["cache_stored"]) == (0, 8, 5)
    assert metrics["rubric"] == hashlib.sha256(RUBRIC.read_bytes()).hexdigest() and metrics["model"] == "judge-test"

    sky = kept.filter(pl.col("instruction") == "为什么天空是蓝色的？").row(0, named=True)
    expected = judge_scores(first_user(server, "天空是蓝色"))
    assert sky["judge_score"] == expected["overall"] and sky["judge_verdict"] == expected["verdict"]
    assert {d: sky[f"judge_{d}"] for d in DIMENSIONS} == expected["dimensions"]
    assert sky["judge_rationale"] == expected["rationale"] and sky["ppl"] == 12.5
    assert (sky["judge_model"], sky["judge_rubric"]) == ("judge-test", metrics["rubric"])
    retried = kept.filter(pl.col("instruction").str.contains("科幻")).row(0, named=True)
    assert retried["judge_score"] == judge_scores(first_user(server, "科幻"))["overall"]
    retry = [r["body"]["messages"] for r in server.requests if "科幻" in r["body"]["messages"][1]["content"]][1]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert retry[2]["content"] == judge_answer("", "judge_not_json")
    assert retry[3]["content"].startswith("你的上一个回答不符合要求：the answer holds no JSON object。")
    unjudged = kept.filter(pl.col("source") == "ruozhiba")
    assert unjudged.height == 2 and unjudged["judge_score"].null_count() == 2
    assert unjudged["judge_model"].null_count() == 2

    details = dict(zip(rejected["instruction"].str.slice(0, 4), rejected["detail"]))
    assert rejected["reason"].unique().to_list() == ["judge_invalid_output"]
    assert details["新手学编"] == ("2 answers invalid, the last: the answer holds no JSON object; "
                               "raw: '这条回答还不错，我给八分。'")
    assert details["为什么冬"].startswith("2 answers invalid, the last: overall: 11 is greater than the maximum of "
                                      "10; raw: '{\"dimensions\": {")
    assert details["长城大约"].startswith("2 answers invalid, the last: dimensions: 'accuracy' is a required "
                                      "property; raw: ")
    by_source = pl.read_csv(tmp_path / "reports" / "judge_by_source.csv")  # wiki's one record was rejected
    assert dict(zip(by_source["source"], by_source["n"])) == {"douban": 2, "exam": 2, "zhihu": 1}
    assert by_source.filter(pl.col("source") == "zhihu")["median_score"].to_list() == [sky["judge_score"]]
    assert sum(metrics["verdicts"].values()) == 5


def test_only_valid_judgements_are_cached_and_a_rerun_pays_only_for_the_rest(tmp_path):
    with ChatServer(BEHAVIOURS) as server:
        assert run(tmp_path, params(server.base_url)).exit_code == 0
        first = files(tmp_path)
        entries = sorted((tmp_path / "cache").rglob("*.json"))
        assert len(entries) == 5
        stored = [json.loads(json.loads(p.read_text())["response"]["text"]) for p in entries]
        assert all(set(s) == {"dimensions", "overall", "verdict", "rationale"} for s in stored)
        before = len(server.requests)
        again = run(tmp_path, params(server.base_url))
    assert again.exit_code == 0, again.output
    metrics = outputs(tmp_path)[2]
    # the three invalid records are asked again (twice each); the five valid ones come from the cache
    assert len(server.requests) - before == 6 and (metrics["cache_hits"], metrics["cache_misses"]) == (5, 3)
    assert (metrics["calls"], metrics["answers"], metrics["cache_stored"]) == (6, 6, 0)
    assert files(tmp_path) == first


def test_an_unrelated_change_costs_no_call_and_a_rubric_or_decoding_edit_invalidates(tmp_path):
    with ChatServer([("", "judge")]) as server:
        assert run(tmp_path, params(server.base_url)).exit_code == 0
    first = files(tmp_path)
    dead = "http://127.0.0.1:9/v1"  # the endpoint's URL, connection settings and attempts are not in the key
    unrelated = params(dead, attempts=5) | {"familiarity": {"batch_size": 3}}
    unrelated["judge"]["openai"] |= {"concurrency": 1, "timeout_s": 7, "retries": 0}
    result = run(tmp_path, unrelated)
    assert result.exit_code == 0, result.output
    assert "8 judged" in result.output and "cache 8 hits, 0 misses" in result.output
    assert outputs(tmp_path)[2]["calls"] == 0 and files(tmp_path) == first

    edited = tmp_path / "rubric.yaml"
    text = RUBRIC.read_text(encoding="utf-8")
    edited.write_text(text.replace("语言是否通顺规范", "语言是否通顺"), encoding="utf-8")
    (tmp_path / "output.schema.json").write_bytes((RUBRIC.parent / "output.schema.json").read_bytes())
    for changed, rubric in ((params(dead), edited), (params(dead, generation={"max_new_tokens": 300}), RUBRIC),
                            (params(dead, max_chars=500), RUBRIC)):
        result = run(tmp_path, changed, rubric)
        assert result.exit_code == 1 and "cannot reach http://127.0.0.1:9/v1/chat/completions" in result.output
    assert files(tmp_path) == first  # nothing written by the failed runs


def test_a_down_endpoint_stops_the_stage_in_one_line_before_any_row_is_lost(tmp_path):
    result = run(tmp_path, params("http://127.0.0.1:9/v1"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach http://127.0.0.1:9/v1/chat/completions after 2 attempts (")
    assert result.output.endswith("); start the server or fix judge.openai.base_url\n")
    assert result.output.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "m.json").exists()


def test_the_api_key_is_sent_never_written_and_a_leaking_answer_is_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("CQIA_TEST_API_KEY", KEY)
    with ChatServer([("长城", "leak:content:base64"), ("", "judge")]) as server:
        result = run(tmp_path, params(server.base_url))
    assert result.exit_code == 0, result.output
    assert {r["authorization"] for r in server.requests} == {f"Bearer {KEY}"}
    _, rejected, metrics = outputs(tmp_path)
    assert metrics["rows_dropped"] == {"judge_secret_in_output": 1} and metrics["failures"] == {"secret_in_output": 1}
    assert rejected["detail"].to_list() == ["the answer contains the API key (environment variable "
                                            "CQIA_TEST_API_KEY); dropped, not cached"]
    assert files_holding(tmp_path, KEY) == {} and KEY not in result.output
    (tmp_path / "refused").mkdir()
    with ChatServer([("", "401")]) as server:
        refused = run(tmp_path / "refused", params(server.base_url))
    assert refused.exit_code == 1 and refused.output.count("\n") == 1
    assert "environment variable CQIA_TEST_API_KEY" in refused.output and KEY not in refused.output


BROKEN = [
    (lambda text: text.replace("  discard_below: 5 ", "  discard_below: 5: 6 ", 1),
     ":31:19: not valid YAML: mapping values are not allowed here\n"),
    (lambda text: text.replace("retry: |", "retri: |"), ": unknown key(s) retri; allowed: "),
    (lambda text: text.replace("rationale: 用一两句话说明评分的主要理由\n", ""), ": missing required key(s) rationale\n"),
    (lambda text: text.replace("  {question}\n", "  {questoin}\n"), ".user: unknown placeholder(s) questoin; "),
    (lambda text: text.replace("- name: clarity", "- name: accuracy"), ".dimensions[3].name: duplicate dimension "
                                                                       "'accuracy'"),
]


@pytest.mark.parametrize("edit, message", BROKEN, ids=["syntax", "unknown-key", "missing", "placeholder",
                                                                "duplicate"])
def test_a_broken_rubric_is_one_line_for_the_stage_and_for_check(tmp_path, edit, message):
    from stages.check.__main__ import cli as check_cli

    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(edit(RUBRIC.read_text(encoding="utf-8")), encoding="utf-8")
    (tmp_path / "output.schema.json").write_bytes((RUBRIC.parent / "output.schema.json").read_bytes())
    result = run(tmp_path, params("http://127.0.0.1:9/v1"), rubric)
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {rubric}") and message in result.output
    checked = CliRunner().invoke(check_cli, ["--params", str(tmp_path / "params.yaml"), "--rules",
                                             str(ROOT / "schemas" / "rules.yaml"), "--rubric", str(rubric)])
    assert checked.exit_code == 1
    assert f"{result.output.removeprefix('Error: ')}" in checked.stderr


def test_disabled_passes_every_record_through_without_a_call_or_a_model(tmp_path):
    result = run(tmp_path, params("http://127.0.0.1:9/v1", enabled=False))
    assert result.exit_code == 0, result.output
    kept, rejected, metrics = outputs(tmp_path)
    assert kept.height == 10 and rejected.height == 0 and kept["judge_score"].null_count() == 10
    assert (metrics["judged"], metrics["calls"], metrics["enabled"]) == (0, 0, False)
    assert result.output == "judge: 10 in, 10 kept, 0 dropped; 0 judged, median score n/a; cache 0 hits, 0 misses\n"
