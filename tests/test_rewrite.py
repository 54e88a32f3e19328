"""Stage `rewrite`: seed selection, records and rejects, the cache, the API key, echoes, `rule: none`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from stages.lib.io import write_parquet
from stages.lib.record import RECORD_SCHEMA, REJECTED_SCHEMA, make_id, records_frame
from stages.lib.params import parse_section
from stages.llm.columns import EXTRA_COLUMNS
from stages.llm.rewriting import select_seeds
from stages.llm.settings import RewriteParams
from stages.llm.prompts import question_text
from stages.rewrite import cli
from tests.llm.chat_server import ChatServer, answer_for
from tests.llm.fixtures import curated_frame, write_curated
from tests.llm.leaks import files_holding, key_forms
from tests.validate.samples import clean_section

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-live-5d1e8b0c7a9f4e2d6b3a1c0e"
SUBSETS = ("zhihu", "exam", "douban", "wiki", "ruozhiba")
BEHAVIOURS = [("新手学编程", "garbage"), ("冬天手机", "empty"), ("长城", "429_always"), ("科幻", "no_choices")]


def params(url: str, rule: str = "blurring_boundaries", **rewrite) -> dict:
    section = {"backend": "openai", "max_records": 20, "seed": 0,
               "generation": {"max_new_tokens": 64, "temperature": 0.0},
               "openai": {"base_url": url, "model": "qwen-test", "api_key_env": "CQIA_TEST_API_KEY",
                          "concurrency": 2, "timeout_s": 2, "retries": 1, "backoff_s": 0.01, "max_backoff_s": 0.02}}
    sources = {f"{name}_sample": {"kind": "cqia_jsonl", "path": f"{name}.jsonl", "subset": name}
               for name in SUBSETS}
    return {"rule": rule, "rewrite": section | rewrite, "sources": sources, "clean": clean_section()}


def run(tmp_path: Path, prm: dict, records: Path | None = None, base_model: Path | None = None):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(prm, allow_unicode=True), encoding="utf-8")
    records = records or write_curated(tmp_path / "records.parquet")
    args = ["run", "--params", str(tmp_path / "params.yaml"), "--in", str(records),
            "--rules", str(ROOT / "schemas" / "rules.yaml"), "--base-model", str(base_model or tmp_path / "nomodel"),
            "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--metrics", str(tmp_path / "m.json"),
            "--reports", str(tmp_path / "reports")]
    return CliRunner().invoke(cli, args)


def rewrite_params(raw, subsets=None) -> RewriteParams:
    context = None if subsets is None else {"subsets": list(subsets)}
    return parse_section(RewriteParams, raw, "params.yaml: rewrite", context)


def outputs(tmp_path: Path) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    out = tmp_path / "out"
    return (pl.read_parquet(out / "records.parquet"), pl.read_parquet(out / "rejected.parquet"),
            json.loads((tmp_path / "m.json").read_text()))


def test_seed_selection_filters_and_takes_a_stable_seeded_sample():
    frame = curated_frame()
    settings = rewrite_params({"backend": "transformers", "sources": ["zhihu", "exam"], "max_records": 3})
    seeds, candidates = select_seeds(frame, settings)
    assert candidates == 5 and seeds.height == 3 and set(seeds["source"]) <= {"zhihu", "exam"}
    assert seeds["id"].to_list() == sorted(seeds["id"].to_list())
    grown = pl.concat([frame, frame.head(1).with_columns(pl.lit("zhihu-00000000000000ff").alias("id"))])
    kept = select_seeds(grown, settings)[0]["id"].to_list()
    assert len(set(kept) & set(seeds["id"])) >= 2  # one new record can displace at most one seed
    by_task = select_seeds(frame, rewrite_params({"backend": "transformers", "task_types": ["考试", "推荐"]}))
    assert by_task[1] == 4 and set(by_task[0]["source"]) == {"exam", "douban"}
    other_seed = rewrite_params({"backend": "transformers", "max_records": 3, "seed": 5})
    assert select_seeds(frame, other_seed)[0]["id"].to_list() != select_seeds(
        frame, rewrite_params({"backend": "transformers", "max_records": 3}))[0]["id"].to_list()


def test_answers_become_records_and_bad_ones_are_rejected_with_reasons(tmp_path):
    with ChatServer(BEHAVIOURS) as server:
        result = run(tmp_path, params(server.base_url))
    assert result.exit_code == 0, result.output
    kept, rejected, metrics = outputs(tmp_path)
    assert kept.schema == pl.Schema({**RECORD_SCHEMA, **{c: pl.String for c in EXTRA_COLUMNS}})
    assert rejected.schema == pl.Schema({**REJECTED_SCHEMA, **{c: pl.String for c in EXTRA_COLUMNS}})
    assert metrics["rows_in"] == 10 and metrics["rows_kept"] == 6
    assert metrics["rows_dropped"] == {"rewrite_backend_error": 2, "rewrite_empty_answer": 1, "rewrite_unparseable": 1}
    assert (metrics["cache_hits"], metrics["cache_misses"], metrics["rule"], metrics["model"]) == (
        0, 10, "blurring_boundaries", "qwen-test")
    parent = curated_frame().filter(pl.col("source") == "wiki").row(0, named=True)
    assert rejected.filter(pl.col("parent_id") == parent["id"])["detail"][0] == "HTTP 429: try later (after 2 attempts)"
    sky = curated_frame().filter(pl.col("instruction") == "为什么天空是蓝色的？").row(0, named=True)
    row = kept.filter(pl.col("parent_id") == sky["id"]).row(0, named=True)
    prompt = next(r["body"]["messages"] for r in server.requests if "天空" in r["body"]["messages"][1]["content"])
    raw = answer_for(prompt[1]["content"])
    assert row["id"] == make_id("rewrite", f"{sky['id']}\x00blurring_boundaries\x00qwen-test")
    assert row["instruction"] == raw.split("\n")[0].removeprefix("【问题】")
    assert row["output"] == raw.split("【回答】")[1] and row["answer_from"] == "llm" and row["input"] == ""
    assert (row["source"], row["license"], row["task_type"]) == (sky["source"], sky["license"], sky["task_type"])
    assert row["source_uri"] == f"rewrite:{sky['id']}" and row["fetched_at"] is None
    assert row["transforms"] == ["clean:nfkc", "rewrite:blurring_boundaries"]
    assert row["rule"] == "blurring_boundaries" and row["model"] == "qwen-test" and len(row["prompt_sha256"]) == 64
    assert row["raw_sha256"] == hashlib.sha256(raw.encode()).hexdigest()
    garbage = rejected.filter(pl.col("reason") == "rewrite_unparseable").row(0, named=True)
    assert garbage["output"] == "我觉得这个问题很有意思，但我不想改写。" and garbage["instruction"] is None


def test_second_run_is_served_from_the_cache_without_any_call_and_is_byte_identical(tmp_path):
    good = [("新手学编程", "garbage"), ("冬天手机", "empty")]
    with ChatServer(good) as server:
        assert run(tmp_path, params(server.base_url)).exit_code == 0
        calls = len(server.requests)
    first = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    # the server is gone: any call would fail the stage with "cannot reach"
    result = run(tmp_path, params(server.base_url))
    assert result.exit_code == 0, result.output
    assert calls == 10 and "cache 10 hits, 0 misses" in result.output
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == first
    metrics = outputs(tmp_path)[2]
    assert (metrics["cache_hits"], metrics["cache_misses"], metrics["backend_calls"]) == (10, 0, 0)
    # another rule is another prompt: nothing is reused, and the endpoint is unreachable
    other = run(tmp_path, params(server.base_url, rule="false_premise"))
    assert other.exit_code == 1 and "cannot reach" in other.output


def test_the_api_key_is_sent_but_never_written_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("CQIA_TEST_API_KEY", KEY)
    with ChatServer(BEHAVIOURS) as server:
        result = run(tmp_path, params(server.base_url))
    assert result.exit_code == 0 and KEY not in result.output
    assert {r["authorization"] for r in server.requests} == {f"Bearer {KEY}"}
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) > 10
    assert files_holding(tmp_path, KEY) == {}
    (tmp_path / "refused").mkdir()
    with ChatServer([("", "401")]) as server:
        refused = run(tmp_path / "refused", params(server.base_url))
    assert refused.exit_code == 1 and "CQIA_TEST_API_KEY" in refused.output and KEY not in refused.output


# --- a hostile endpoint: the key in every field of the response and in every spelling ---------------

HOSTILE_KEY = "sk-proj-Q7x2Lm9Vr4Tz8Kp1Wn6Yc3Hd"
IGNORED_FIELDS = ("finish_reason", "id", "model", "system_fingerprint", "tool_call", "logprobs", "second_choice")
HOSTILE = [*(("content", form) for form in key_forms(HOSTILE_KEY)), ("json", ""),
           *((field, "plain") for field in IGNORED_FIELDS), ("error400", "base64"), ("malformed", "upper")]
WITHHELD = "<withheld: it contains the API key>"


def many_records(path: Path, count: int) -> Path:
    """`count` seeds: the fixture records cycled, each instruction tagged ` #NN` (the chat server's marker)."""
    rows = curated_frame().to_dicts()
    frame = [{**rows[i % len(rows)], "id": make_id("zhihu_sample", f"hostile:{i}"),
              "instruction": f"{rows[i % len(rows)]['instruction']} #{i:02d}"} for i in range(count)]
    write_parquet(records_frame(frame), path)
    return path


def test_a_hostile_endpoint_cannot_get_the_key_into_any_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CQIA_TEST_API_KEY", HOSTILE_KEY)
    behaviours = [(f"#{i:02d}", f"leak:{field}:{form}") for i, (field, form) in enumerate(HOSTILE)]
    records = many_records(tmp_path / "records.parquet", len(HOSTILE))
    prm = params("http://127.0.0.1:9/v1", max_records=100)
    with ChatServer(behaviours) as server:
        prm["rewrite"]["openai"]["base_url"] = server.base_url
        result = run(tmp_path, prm, records=records)
    assert result.exit_code == 0, result.output
    kept, rejected, metrics = outputs(tmp_path)
    leaked = len(key_forms(HOSTILE_KEY)) + 1  # every spelling in the content, and the JSON answer
    assert (metrics["rows_in"], metrics["rows_kept"], metrics["cache_stored"]) == (len(HOSTILE), 7, 7)
    assert metrics["rows_dropped"] == {"rewrite_secret_in_output": leaked, "rewrite_backend_error": 2}
    secret = rejected.filter(pl.col("reason") == "rewrite_secret_in_output")
    assert set(secret["detail"]) == {"the completion contains the API key (environment variable "
                                     "CQIA_TEST_API_KEY); dropped, not cached"}
    assert secret["output"].null_count() == leaked
    errors = rejected.filter(pl.col("reason") == "rewrite_backend_error").sort("detail")["detail"].to_list()
    assert errors[0] == f"HTTP 400: {WITHHELD}"
    assert errors[1].startswith("malformed response (JSONDecodeError: ") and errors[1].endswith(f"): {WITHHELD}")
    finish = sorted(json.loads(m)["finish_reason"] or "null" for m in kept["metadata"])
    assert finish == ["null", *["stop"] * 6]  # a finish reason outside the known values is dropped
    assert files_holding(tmp_path, HOSTILE_KEY) == {}
    assert not [name for name, form in key_forms(HOSTILE_KEY).items() if form in result.output]

    # entries tampered with on disk: the key in a field the stage never reads, in the finish reason, in a
    # broken file; each is removed and its record rejected, the rest is served from the cache
    entries = sorted((tmp_path / "cache").rglob("*.json"))
    for path, tamper in zip(entries, ({"extra": key_forms(HOSTILE_KEY)["base64"]},
                                      {"finish_reason": key_forms(HOSTILE_KEY)["fullwidth"]})):
        entry = json.loads(path.read_text())
        path.write_text(json.dumps({**entry, "response": {**entry["response"], **tamper}}))
    entries[2].write_text("{broken " + key_forms(HOSTILE_KEY)["lines"], encoding="utf-8")
    with ChatServer() as honest:
        prm["rewrite"]["openai"]["base_url"] = honest.base_url
        again = run(tmp_path, prm, records=records)
    assert again.exit_code == 0, again.output
    kept, rejected, metrics = outputs(tmp_path)
    assert len(honest.requests) == len(HOSTILE) - 7  # the prompts that failed before; none that was cached
    assert (metrics["rows_kept"], metrics["cache_hits"], metrics["cache_misses"]) == (len(HOSTILE) - 3, 7, 20)
    assert metrics["rows_dropped"] == {"rewrite_secret_in_output": 3}
    assert set(rejected["detail"]) == {"the cached completion contains the API key (environment variable "
                                       "CQIA_TEST_API_KEY); entry removed"}
    assert not any(path.exists() for path in entries[:3])
    assert files_holding(tmp_path, HOSTILE_KEY) == {}


def test_a_reply_restating_the_prompt_or_the_rule_text_is_dropped_as_an_echo(tmp_path):
    with ChatServer([("天空", "echo_prompt"), ("长城", "echo_rule")]) as server:
        result = run(tmp_path, params(server.base_url))
    assert result.exit_code == 0, result.output
    kept, rejected, metrics = outputs(tmp_path)
    assert metrics["rows_kept"] == 8 and metrics["rows_dropped"] == {"rewrite_echoes_prompt": 2}
    assert set(rejected["detail"]) == {"1.00 of the reply's character 6-grams that are not in the seed record are "
                                       "in the prompt or the rule text (threshold 0.8)"}
    echoed = rejected.filter(pl.col("output").str.contains("规则说明："))
    assert echoed.height == 2 and echoed["instruction"].null_count() == 2


def test_self_answer_keeps_each_question_and_takes_the_reply_as_its_answer(tmp_path):
    with ChatServer([("冬天手机", "empty")]) as server:
        result = run(tmp_path, params(server.base_url, rule="self_answer"))
        asked = [r["body"]["messages"] for r in server.requests]
    assert result.exit_code == 0, result.output
    kept, rejected, metrics = outputs(tmp_path)
    seeds = curated_frame().filter(pl.col("instruction").str.strip_chars() != "")
    assert all(len(m) == 1 and m[0]["role"] == "user" for m in asked)  # the question alone, as a user asks it
    assert sorted(m[0]["content"] for m in asked) == sorted(
        question_text(i, n) for i, n in seeds.select("instruction", "input").rows())
    assert metrics["rows_dropped"] == {"rewrite_empty_answer": 1}
    assert rejected["detail"].to_list() == ["the reply is blank"]
    parents = {r["id"]: r for r in seeds.iter_rows(named=True)}
    for row in kept.iter_rows(named=True):
        parent = parents[row["parent_id"]]
        assert (row["instruction"], row["input"]) == (parent["instruction"], parent["input"])
        assert row["output"] == answer_for(question_text(parent["instruction"], parent["input"]))
        assert (row["answer_from"], row["rule"]) == ("llm", "self_answer")


def test_a_corrupt_gzip_body_fails_only_that_prompt(tmp_path):
    with ChatServer([("天空", "corrupt_gzip")]) as server:
        result = run(tmp_path, params(server.base_url))
    assert result.exit_code == 0, result.output
    kept, rejected, metrics = outputs(tmp_path)
    assert metrics["rows_kept"] == 9 and metrics["rows_dropped"] == {"rewrite_backend_error": 1}
    assert rejected.row(0, named=True)["detail"] == (
        "corrupt response body (DecodingError: Error -3 while decompressing data: invalid distance too far back); "
        "the endpoint sent a body that does not decode with its Content-Encoding")
    assert metrics["cache_stored"] == 9


def test_rule_none_writes_empty_outputs_without_a_model(tmp_path):
    result = run(tmp_path, params("http://127.0.0.1:9/v1", rule="none"), records=tmp_path / "absent.parquet")
    assert result.exit_code == 0, result.output
    kept, rejected, metrics = outputs(tmp_path)
    assert kept.height == 0 and rejected.height == 0 and list(kept.columns[-4:]) == list(EXTRA_COLUMNS)
    assert metrics["rows_in"] == 0 and metrics["rule"] == "none" and "seconds" not in metrics
    assert (tmp_path / "cache").is_dir()


def test_unknown_rule_and_bad_params_fail_with_one_line(tmp_path):
    result = run(tmp_path, params("http://127.0.0.1:9/v1", rule="blurry"))
    assert result.exit_code == 1
    assert (f"Error: {tmp_path / 'params.yaml'}: rule: unknown rule 'blurry'; known rules: none, "
            "counterintuitive_thinking" in result.output)
    bad = run(tmp_path, params("http://127.0.0.1:9/v1", backend="vllm"))
    assert bad.exit_code == 1 and "rewrite.backend: must be one of transformers, openai" in bad.output
    listing = CliRunner().invoke(cli, ["rules", "--rules", str(ROOT / "schemas" / "rules.yaml")])
    catalog = yaml.safe_load((ROOT / "schemas" / "rules.yaml").read_text(encoding="utf-8"))["rules"]
    assert listing.output.splitlines() == ["none\tno rewriting"] + [
        f"{rule['name']}\t{rule['title_zh']} / {rule['title_en']}" for rule in catalog]
    assert "python -m stages.rewrite run --in" in CliRunner().invoke(cli, ["run", "--help"]).output


@pytest.mark.parametrize("section, message", [
    ({"backend": "openai"}, "rewrite.openai: backend openai needs base_url and model"),
    ({"backend": "transformers", "max_records": -1}, "max_records: must be a whole number >= 0"),
    ({"backend": "transformers", "sources": "zhihu"}, "sources: must be a list of names"),
    ({"backend": "transformers", "generation": {"temperature": -1}}, "temperature: must be >= 0"),
    ({"backend": "transformers", "generation": {"beams": 2}}, r"generation.beams: unknown key"),
])
def test_rewrite_settings_validation(section, message):
    with pytest.raises(ValueError, match=message):
        rewrite_params(section)


# --- params.yaml: rewrite, one failure per test (exact text) ----------------------------------------


def rewrite_error(raw, subsets=None) -> str:
    with pytest.raises(ValueError) as failed:
        rewrite_params(raw, subsets)
    return str(failed.value)


OPENAI = {"base_url": "http://127.0.0.1:8000/v1", "model": "m"}


def test_retries_given_as_text_is_the_wrong_type():
    assert rewrite_error({"backend": "openai", "openai": OPENAI | {"retries": "3"}}) == (
        "params.yaml: rewrite.openai.retries: must be an integer, got '3'")


def test_a_fractional_concurrency_is_the_wrong_type():
    assert rewrite_error({"backend": "openai", "openai": OPENAI | {"concurrency": 2.5}}) == (
        "params.yaml: rewrite.openai.concurrency: must be an integer, got 2.5")


def test_an_infinite_timeout_is_refused():
    assert rewrite_error({"backend": "openai", "openai": OPENAI | {"timeout_s": float("inf")}}) == (
        "params.yaml: rewrite.openai.timeout_s: must be a finite number, got .inf")


def test_top_p_out_of_range():
    assert rewrite_error({"backend": "transformers", "generation": {"top_p": 0}}) == (
        "params.yaml: rewrite.generation.top_p: must be in (0, 1], got 0")


def test_a_misspelt_key_gets_a_suggestion():
    assert rewrite_error({"backend": "transformers", "max_record": 3}).startswith(
        "params.yaml: rewrite.max_record: unknown key (did you mean max_records?); allowed: backend, generation, ")


def test_a_seed_source_that_names_no_configured_subset_is_named():
    assert rewrite_error({"backend": "transformers", "sources": ["zhihu", "zhihux"]}, SUBSETS) == (
        "params.yaml: rewrite.sources.zhihux: names no configured subset (did you mean zhihu?); "
        "configured: douban, exam, ruozhiba, wiki, zhihu")


def test_the_stage_checks_seed_sources_against_params_sources(tmp_path):
    result = run(tmp_path, params("http://127.0.0.1:9/v1", sources=["zhihu", "weibo"]))
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {tmp_path}/params.yaml: rewrite.sources.weibo: names no configured "
                                     "subset; configured: douban, exam, ruozhiba, wiki, zhihu")


def test_integer_numbers_stay_integers_in_requests():
    """A YAML `1` for top_p goes into cache keys and request bodies as written, as before the typed params."""
    settings = rewrite_params({"backend": "transformers", "generation": {"top_p": 1, "temperature": 0}})
    assert settings.generation.as_dict() == {"max_new_tokens": 512, "temperature": 0, "top_p": 1, "seed": 0}
