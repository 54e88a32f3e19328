"""Every expectation of every suite fails on a frame built to break it, and the samples pass.

Each expectation has a key (`type:column`, plus `:severity` when not critical)
and a breaker that changes one thing in the suite's clean sample. A test fails
if a suite gains an expectation without a breaker here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest

from stages.lib.errors import StageError
from stages.lib.record import RECORD_SCHEMA
from stages.validate import Outcome, SuiteResult, run_suite
from stages.validate.derived import DERIVED
from stages.validate.runner import NULL_ID
from stages.validate.suites import load_suite_config, parameter_names
from tests.validate.samples import MAX_CHARS, parameters, sample_records, sample_rewrites, sample_sft

SAMPLES: dict[str, Callable[[], pl.DataFrame]] = {
    "records": sample_records, "rewrites": sample_rewrites, "sft": sample_sft,
}


def key(exp: dict[str, Any]) -> str:
    column = exp["kwargs"].get("column")
    parts = [exp["type"]] + ([column] if isinstance(column, str) else [])
    return ":".join(parts + ([exp["severity"]] if exp["severity"] != "critical" else []))


def set_value(frame: pl.DataFrame, column: str, value: Any, rows: tuple[int, ...]) -> pl.DataFrame:
    data = frame.to_dicts()
    for row in rows:
        data[row][column] = value
    return pl.DataFrame(data, schema=frame.schema)


Break = Callable[[pl.DataFrame, int], pl.DataFrame]


def setter(column: str, value: Any) -> Break:
    return lambda f, row: set_value(f, column, value, (row,))


def appender(column: str, extra: str) -> Break:
    return lambda f, row: set_value(f, column, f[column][row] + extra, (row,))


@dataclass(frozen=True)
class Breaker:
    """Breaks one expectation by changing row `row` of a frame (and, for table checks, the whole frame).

    `alone`: the breaker needs a run of its own (table-level checks, `mostly`
    thresholds, warnings); the others are applied together, each to its own
    copy of a sample row, in one run per suite, and each must report exactly
    the id of its row among the offending ids.
    """

    apply: Break
    alone: bool = False
    also: Callable[[pl.DataFrame, int], list[int]] = lambda f, row: []  # other rows it makes offending


def english(f: pl.DataFrame, row: int) -> pl.DataFrame:
    f = set_value(f, "instruction", "What is the Great Wall?", (row,))
    return set_value(f, "output", "The Great Wall is a series of fortifications built across northern China.", (row,))


def leak(f: pl.DataFrame, row: int) -> pl.DataFrame:
    """Give a train row the instruction of an eval row."""
    eval_row = f["split"].to_list().index("eval")
    return set_value(f, "instruction", f["instruction"][eval_row], (row,))


def swap_roles(f: pl.DataFrame, row: int) -> pl.DataFrame:
    user, assistant = f["messages"][row].to_list()
    return set_value(f, "messages", [{**user, "role": "assistant"}, {**assistant, "role": "user"}], (row,))


def empty_turn(f: pl.DataFrame, row: int) -> pl.DataFrame:
    user, assistant = f["messages"][row].to_list()
    return set_value(f, "messages", [user, {**assistant, "content": "  "}], (row,))


BREAKERS: dict[str, Breaker] = {
    "expect_table_row_count_to_be_between": Breaker(lambda f, row: f.head(f.height - 1), alone=True),
    "expect_table_columns_to_match_set": Breaker(lambda f, row: f.drop("copyright"), alone=True),
    **{f"expect_column_values_to_not_be_null:{c}": Breaker(setter(c, None))
       for c in [*RECORD_SCHEMA, "messages", "split"] if c != "fetched_at"},
    "expect_column_values_to_not_be_null:fetched_at:warning": Breaker(setter("fetched_at", None), alone=True),
    "expect_column_values_to_be_unique:id": Breaker(lambda f, row: set_value(f, "id", f["id"][0], (row,))),
    "expect_column_values_to_be_in_set:answer_from": Breaker(setter("answer_from", "robot")),
    "expect_column_values_to_be_in_set:source": Breaker(setter("source", "weibo")),
    "expect_column_values_to_be_in_set:task_type_ok": Breaker(setter("task_type", {"major": ["问答"], "minor": [None]})),
    "expect_column_values_to_be_in_set:domain_ok": Breaker(setter("domain", ["通用", None])),
    "expect_column_values_to_be_in_set:transforms_ok": Breaker(setter("transforms", [None])),
    "expect_column_values_to_be_between:instruction_len": Breaker(setter("instruction", "")),
    "expect_column_values_to_be_between:chars": Breaker(lambda f, row: set_value(
        f, "output", "答" * (MAX_CHARS + 1 - len(f["instruction"][row]) - len(f["input"][row])), (row,))),
    "expect_column_values_to_be_between:output_len": Breaker(setter("output", "")),
    "expect_column_values_to_be_between:output_len:warning": Breaker(
        lambda f, row: set_value(f, "output", "", tuple(range(row, row + 7))), alone=True),
    "expect_column_values_to_be_between:pii_phone": Breaker(appender("output", "如有疑问请致电 138 1234 5678。")),
    "expect_column_values_to_be_between:pii_email": Breaker(appender("input", "联系邮箱：zhang.san@example.com")),
    "expect_column_values_to_be_between:pii_id_card": Breaker(appender("output", "（身份证号 11010819950612002X）")),
    "expect_column_values_to_be_between:html_tags": Breaker(appender("output", "<br/>详见<a href=\"x\">链接</a>")),
    "expect_column_values_to_be_between:zh_share": Breaker(english, alone=True),
    "expect_column_values_to_be_between:trad_chars": Breaker(appender("output", "這裡說話"), alone=True),
    "expect_column_values_to_be_in_set:messages_roles_ok": Breaker(swap_roles),
    "expect_column_values_to_be_between:messages_empty_turns": Breaker(empty_turn),
    "expect_column_values_to_be_in_set:split": Breaker(setter("split", "test")),
    "expect_column_distinct_values_to_contain_set:split": Breaker(
        lambda f, row: f.with_columns(pl.lit("train").alias("split")), alone=True),
    "expect_column_mean_to_be_between:is_eval": Breaker(
        lambda f, row: f.with_columns(pl.lit("eval").alias("split")), alone=True),
    "expect_column_values_to_be_in_set:split_leak": Breaker(
        leak, also=lambda f, row: [f["split"].to_list().index("eval")]),
}

BROKEN_ROW = 1  # the sample row that `alone` breakers change (a train row in the SFT sample)


def keys_of(suite: str) -> list[str]:
    return [key(exp) for exp in load_suite_config(suite)["expectations"]]


def outcome_for(result: SuiteResult, suite: str, key_: str) -> Outcome:
    [outcome] = [o for o, k in zip(result.outcomes, keys_of(suite)) if k == key_]
    return outcome


@functools.cache
def combined_run(suite: str) -> tuple[SuiteResult, dict[str, str], dict[str, set[str]]]:
    """The sample plus one broken copy of a sample row per row-level breaker, validated once.

    Returns the result, per breaker key the id its broken row carries, and the
    ids of other rows the breaker makes offending (a leak has two sides).
    """
    sample = SAMPLES[suite]()
    keys = [k for k in keys_of(suite) if not BREAKERS[k].alone]
    template = sample.slice(BROKEN_ROW, 1)
    copies = [template.with_columns(pl.lit(f"{template['source'][0]}-{0xB00 + i:016x}").alias("id"))
              for i in range(len(keys))]
    frame = pl.concat([sample, *copies])
    expected, also = {}, {}
    for i, k in enumerate(keys):
        row = sample.height + i
        frame = BREAKERS[k].apply(frame, row)
        expected[k] = NULL_ID if frame["id"][row] is None else frame["id"][row]
        also[k] = {frame["id"][r] for r in BREAKERS[k].also(frame, row)}
    return run_suite(frame, suite, parameters(sample)), expected, also


CASES = [(suite, key(exp)) for suite in SAMPLES for exp in load_suite_config(suite)["expectations"]]


@pytest.mark.parametrize("suite", SAMPLES)
def test_suite_files_are_complete_and_every_expectation_has_a_breaker(suite):
    config = load_suite_config(suite)
    keys = [key(exp) for exp in config["expectations"]]
    assert len(keys) == len(set(keys)), "expectation keys must be unique within a suite"
    assert set(keys) <= set(BREAKERS), f"no breaker for {sorted(set(keys) - set(BREAKERS))}"
    assert parameter_names(config) == {"min_rows", "configured_sources", "min_zh_share", "max_chars", "chinese_sources"}
    assert config["parameter_defaults"] == {"min_zh_share": 0.2}  # run_suite fills it unless a stage sets it


def test_rewrites_and_sft_keep_every_records_invariant():
    """The same record invariants, except that rewrites and SFT records must have an answer
    and may lack `fetched_at` (rewrites are generated, not captured)."""
    records = {key(e): e for e in load_suite_config("records")["expectations"]}
    only_records = {"expect_column_values_to_be_between:output_len:warning",
                    "expect_column_values_to_not_be_null:fetched_at:warning"}
    for suite in ("rewrites", "sft"):
        other = {key(e): e for e in load_suite_config(suite)["expectations"]}
        assert set(records) - only_records <= set(other)
        for k, exp in records.items():
            if k in other and k not in ("expect_column_values_to_be_between:output_len",
                                        "expect_table_columns_to_match_set"):
                assert other[k]["kwargs"] == exp["kwargs"], (suite, k)
                assert other[k]["severity"] == exp["severity"], (suite, k)
        assert other["expect_column_values_to_be_between:output_len"]["kwargs"]["min_value"] == 1


@pytest.mark.parametrize("suite", SAMPLES)
def test_the_sample_passes_every_expectation(suite):
    sample = SAMPLES[suite]()
    result = run_suite(sample, suite, parameters(sample))
    assert [o.label for o in result.outcomes if not o.success] == []
    assert result.success and result.rows == sample.height


@pytest.mark.parametrize(("suite", "key_"), CASES, ids=[f"{s}-{k}" for s, k in CASES])
def test_expectation_fails_on_a_frame_built_to_break_it(suite, key_):
    breaker = BREAKERS[key_]
    if breaker.alone:
        sample = SAMPLES[suite]()
        result = run_suite(breaker.apply(sample, BROKEN_ROW), suite, parameters(sample))
        outcome = outcome_for(result, suite, key_)
        assert not outcome.success, outcome.observed
        # a failed critical expectation fails the run; the warnings broken here break nothing critical
        assert result.success is (outcome.severity != "critical")
    else:
        result, expected, also = combined_run(suite)
        outcome = outcome_for(result, suite, key_)
        assert not outcome.success, outcome.observed
        # only the row built to break it is reported, or rows whose input column of a derived check was nulled
        inputs = DERIVED[outcome.column].inputs if outcome.column in DERIVED else ()
        nulled = {expected.get(f"expect_column_values_to_not_be_null:{c}") for c in inputs}
        assert expected[key_] in outcome.ids
        assert set(outcome.ids) <= {expected[key_]} | nulled | also[key_], outcome.ids
        assert not result.success


def test_a_missing_column_is_reported_on_its_derived_checks_not_as_a_gx_error():
    sample = sample_records()
    result = run_suite(sample.drop("output"), "records", parameters(sample))
    failed = {o.label: o.observed for o in result.failed()}
    assert failed["expect_table_columns_to_match_set(exact_match=False)"] == "missing columns ['output']"
    assert failed["expect_column_values_to_not_be_null(output)"] == "not evaluated: column output is missing"
    assert failed["expect_column_values_to_be_between(zh_share, min_value=0.2, mostly=0.95)"] == (
        "not evaluated: derived column zh_share not computed: input column(s) output missing")


def test_wrong_parameters_and_bad_suites_stop_with_a_clear_error(tmp_path):
    sample = sample_records()
    with pytest.raises(StageError, match=r"parameters missing \['configured_sources'\], not used by the suite \[\]"):
        run_suite(sample, "records", {"min_rows": 1, "max_chars": 16000, "chinese_sources": []})
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "bad", "expectations": [{"type": "expect_column_values_to_be_unique", '
                   '"kwargs": {"column": "id"}, "description": "ids are unique"}]}', encoding="utf-8")
    with pytest.raises(StageError, match=r"expectations\[0\] \(expect_column_values_to_be_unique\): 'severity' must"):
        run_suite(sample, bad, {})
    bad.write_text('{"name": "bad", "expectations": [{"type": "expect_column_values_to_be_uniq", '
                   '"kwargs": {"column": "id"}, "severity": "critical", "description": "ids"}]}', encoding="utf-8")
    with pytest.raises(StageError, match=r"expectations\[0\] \(expect_column_values_to_be_uniq\) is invalid"):
        run_suite(sample, bad, {})


def test_gx_runs_offline_in_an_ephemeral_context_with_analytics_off(monkeypatch):
    import os
    import socket

    from stages.validate.runner import _batch_definition, gx_context

    def refuse(*args, **kwargs):
        raise AssertionError("GX tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    gx_context.cache_clear()
    _batch_definition.cache_clear()
    sample = sample_records()
    assert run_suite(sample, "records", parameters(sample)).success
    context = gx_context()
    assert type(context).__name__ == "EphemeralDataContext"
    assert context.config.analytics_enabled is False and os.environ["GX_ANALYTICS_ENABLED"] == "false"
