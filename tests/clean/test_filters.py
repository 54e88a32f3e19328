"""Filters: one record per reason code, per-source thresholds, score columns, params validation."""

import polars as pl
import pytest

from stages.clean import langid
from stages.clean.filters import FILTERS, REASONS, SCORE_COLUMNS, CleanParams
from stages.clean.registry import limits_of
from stages.clean.records import clean_records
from stages.clean.scores import flagged_words
from stages.lib.params import parse_section
from tests.clean.fixtures import PROSE, FakeModel, clean_params, frame, row, settings

QUESTION = "请介绍一下数据清洗的主要步骤，并说明每一步的作用。"


def reasons_of(records, **limits):
    kept, rejected, _ = clean_records(frame(*records), settings(**limits))
    return kept, dict(zip(rejected["id"], rejected["reason"]))


def test_one_record_per_reason():
    records = {
        "clean_empty_instruction": row("1", "  \u200b "),
        "clean_empty_output": row("2", QUESTION, output="\n"),
        "clean_too_short": row("3", "好", output="行"),
        "clean_too_long": row("4", QUESTION, output="很长的回答。" * 400),
        "clean_not_chinese": row("5", "Describe data cleaning.", output="Data cleaning removes errors. " * 5),
        "clean_answer_not_chinese": row("10", QUESTION, output="Data cleaning removes errors before training. " * 3),
        "clean_char_repetition": row("6", QUESTION, output="我很高兴认识你" * 40),
        "clean_line_repetition": row("7", QUESTION, output="好的\n好的\n好的\n明白了"),
        "clean_flagged_words": row("8", QUESTION, output=PROSE + "另外，代开发票请联系。"),
    }
    kept, reasons = reasons_of([*records.values(), row("9", QUESTION)])
    assert reasons == {rec["id"]: reason for reason, rec in records.items()}
    assert kept["id"].to_list() == [row("9", QUESTION)["id"]]
    assert set(reasons.values()) == set(REASONS)  # the quality filter is train_quality's (quality_low)


def test_details_name_the_score_and_threshold():
    _, rejected, _ = clean_records(frame(row("1", "好", output="行")), settings())
    assert rejected["detail"].to_list() == ["2 characters < min_chars 4"]


def test_ruozhiba_keeps_empty_output_by_source_override():
    records = [row("1", "为什么冰比水硬？", output="", source="ruozhiba"), row("2", "为什么冰比水硬？", output="")]
    kept, reasons = reasons_of(records)
    assert kept["source"].to_list() == ["ruozhiba"]
    assert list(reasons.values()) == ["clean_empty_output"]


def test_scores_are_kept_as_columns_and_thresholds_can_be_retuned():
    records = [row("1", QUESTION, output="好的\n好的\n明白了\n收到")]
    kept, rejected, _ = clean_records(frame(*records), settings())
    assert rejected.height == 0 and set(SCORE_COLUMNS) <= set(kept.columns)
    assert kept["score_line_rep"][0] == 0.25 and "score_quality" not in kept.columns  # train_quality adds it
    assert kept["score_chinese"][0] > 0.9 and kept["score_flagged"][0] == 0
    _, rejected, _ = clean_records(frame(*records), settings(max_line_rep=0.2))
    assert rejected["reason"].to_list() == ["clean_line_repetition"]


def test_short_prose_is_not_judged_for_language():
    kept, reasons = reasons_of([row("1", "Hi", output="OK!", source="ruozhiba")])
    assert reasons == {} and kept["score_prose_chars"][0] == 5


def test_code_heavy_records_are_judged_on_their_prose():
    code = "```js\nconst result = items.filter(item => item.enabled).map(item => item.name);\n```"
    record = row("1", "这段代码为什么没有输出结果？" + code, output="因为数组是空的，先检查数据来源。" + code)
    kept, reasons = reasons_of([record])
    assert reasons == {} and kept["score_chinese"][0] > 0.9


def test_chinese_share_adds_japanese_mass_only_without_kana():
    model = FakeModel(["__label__ja", "__label__zh", "__label__en"], [0.6, 0.3, 0.1])
    texts = ["只有汉字的题目", "ひらがながある文"]
    absent = {"ja": [True, False], "ko": [True, True]}
    assert langid.chinese_share(texts, ("zh",), absent, model=model) == [0.9, 0.3]


def test_chinese_share_with_the_real_model():
    texts = ["人工智能可以帮助医生更快地分析病人的检查结果。", "This is an English answer written for the test.",
             "今日はとても良い天気ですね。散歩に行きましょう。", "   "]
    frame_ = pl.DataFrame({"t": texts}).with_columns(langid.script_absent(pl.col("t")))
    absent = {label: frame_[label].to_list() for label in langid.SCRIPT_CHECKS}
    zh, en, ja, blank = langid.chinese_share(texts, ("zh", "yue", "wuu"), absent)
    assert zh > 0.95 and en < 0.05 and ja < 0.05 and blank == 0.0


def test_flagged_word_list_is_ours_and_lower_case():
    words = flagged_words()
    assert len(words) > 50 and "代开发票" in words and all(w == w.lower() for w in words)


ALLOWED_LIMITS = ", ".join(sorted(limit.name for limit in limits_of(FILTERS)))  # what `defaults` may hold


@pytest.mark.parametrize("change, message", [
    (lambda p: p["defaults"].update(min_chars="4"), "clean.defaults.min_chars: must be an integer, got '4'"),
    (lambda p: p["defaults"].update(min_chinese=1.5), "clean.defaults.min_chinese: must be between 0 and 1, got 1.5"),
    (lambda p: p["defaults"].update(max_char_rep=float("inf")),
     "clean.defaults.max_char_rep: must be a finite number, got .inf"),
    (lambda p: p["defaults"].update(min_chars=-1), "clean.defaults.min_chars: must be a whole number >= 0, got -1"),
    (lambda p: p.pop("defaults"), "clean.defaults: missing required key"),
    (lambda p: p["by_source"].update(x={"max_char": 3}),
     f"clean.by_source.x.max_char: unknown key (did you mean max_chars?); allowed: {ALLOWED_LIMITS}"),
    (lambda p: p["by_source"].update(x={"allow_empty_output": "yes"}),
     "clean.by_source.x.allow_empty_output: must be true or false, got 'yes'"),
    (lambda p: p["by_source"].update({1: {"min_chars": 1}}), "clean.by_source: keys must be strings, got 1"),
    (lambda p: p["langid"].update(max_chars=0), "clean.langid.max_chars: must be a positive integer, got 0"),
    (lambda p: p["langid"].update(han_share_other=0.7),
     "clean.langid.han_share_other: must not be above han_share_chinese (0.6), got 0.7"),
    (lambda p: p["langid"].update(chinese_labels=[]),
     "clean.langid.chinese_labels: must be a non-empty list of labels such as zh, yue, got []"),
    (lambda p: p["repetition"].update(window_chars=5),
     "clean.repetition.window_chars: must be an integer of at least 2 * chunk_chars, got 5"),
    (lambda p: p["repetition"].update(chunk_chars=1),
     "clean.repetition.chunk_chars: must be an integer from 2 to 100, got 1"),
    (lambda p: p.update(extra=1), "clean.extra: unknown key; allowed: by_source, defaults, langid, repetition"),
    # min_quality moved to train_quality (the quality filter runs there, after clean)
    (lambda p: p["defaults"].update(min_quality=0.5),
     f"clean.defaults.min_quality: unknown key; allowed: {ALLOWED_LIMITS}"),
])
def test_params_are_validated_with_the_key_named(change, message):
    params = clean_params()
    change(params)
    with pytest.raises(ValueError) as error:
        parse_section(CleanParams, params, "clean")
    assert str(error.value) == message


def test_by_source_keys_must_name_a_configured_subset():
    params = clean_params()
    params["by_source"]["segmentfualt"] = {"min_chinese": 0.2}
    with pytest.raises(ValueError) as error:
        parse_section(CleanParams, params, "clean", {"subsets": ["ruozhiba", "segmentfault", "zhihu"]})
    assert str(error.value) == ("clean.by_source.segmentfualt: names no configured subset "
                                "(did you mean segmentfault?); configured: ruozhiba, segmentfault, zhihu")


def test_by_source_overrides_are_merged_over_the_defaults():
    params = settings(min_chars=7)
    assert params.by_source["ruozhiba"].min_chars == 2 and params.by_source["ruozhiba"].allow_empty_output
    assert params.by_source["ruozhiba"].max_chars == params.defaults.max_chars == 2000
    assert params.defaults.min_chars == 7


def test_a_limit_left_out_takes_its_filters_default():
    params = clean_params()
    del params["defaults"]["max_flagged_words"], params["defaults"]["min_chars"]
    settings_ = parse_section(CleanParams, params, "clean")
    assert settings_.defaults.max_flagged_words == 0 and settings_.defaults.min_chars == 4
    assert settings_.by_source["ruozhiba"].max_flagged_words == 0 and settings_.by_source["ruozhiba"].min_chars == 2
