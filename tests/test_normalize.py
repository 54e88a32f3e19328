"""Stage `normalize`: OpenCC per config, width and punctuation tables, protected spans, idempotence."""

import json

import polars as pl
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.clean.normalize_text import PUNCT_TABLE, WIDTH_TABLE, NormalizeParams, convert_script
from stages.clean.normalizing import normalize_records, normalize_texts
from stages.clean.steps import StepTimer
from stages.lib.params import parse_section
from stages.lib.record import RECORD_SCHEMA
from stages.normalize import cli
from tests.clean.fixtures import frame, row, sources_params

PARAMS = {"opencc_default": "t2s", "opencc_by_source": {"tw_forum": "tw2sp", "hk_news": "hk2s"},
          "width": True, "punct": True}
SETTINGS = parse_section(NormalizeParams, PARAMS, "normalize")


def normalise(texts: list[str], config: str = "t2s") -> list[str]:
    frame_ = pl.DataFrame({"instruction": texts, "input": [""] * len(texts), "output": [""] * len(texts)})
    out, _ = normalize_texts(frame_, pl.Series([config] * len(texts)), SETTINGS, StepTimer())
    return out["instruction"].to_list()


@pytest.mark.parametrize("config, text, expected", [
    ("t2s", "體育運動有益健康", "体育运动有益健康"),
    ("t2s", "軟體和記憶體", "软体和记忆体"),            # character level only
    ("tw2sp", "軟體和記憶體", "软件和内存"),            # Taiwan vocabulary to mainland
    ("tw2sp", "滑鼠與計程車", "鼠标与出租车"),
    ("hk2s", "注意衞生", "注意卫生"),                   # Hong Kong variant character
    ("t2s", "注意衞生", "注意衞生"),
    ("t2s", "薴", "苎"),                                # a chain (薴 -> 苧 -> 苎) is followed to the end
])
def test_opencc_configs_on_real_phrases(config, text, expected):
    assert convert_script([text], config) == [expected]


def test_width_table_and_punctuation_table():
    assert WIDTH_TABLE["Ａ"] == "A" and WIDTH_TABLE["ｚ"] == "z" and WIDTH_TABLE["０"] == "0" and len(WIDTH_TABLE) == 62
    texts = ["你好,世界", "下雨了.我们走", "甲;乙", "时间 : 下午", "吗?好", "好!走", "见(图1)和(API)",
             "使用ＡＰＩ和１２３号", "English, not Chinese. a,b 中,", "全角，标点。保留"]
    assert normalise(texts) == [
        "你好，世界", "下雨了。我们走", "甲；乙", "时间：下午", "吗？好", "好！走", "见（图1）和(API)",
        "使用API和123号", "English, not Chinese. a,b 中,", "全角，标点。保留",
    ]
    assert set(PUNCT_TABLE) == set(",.;:?!")


def test_adjacent_marks_all_convert():
    assert normalise(["甲,乙,丙,丁.戊"]) == ["甲，乙，丙，丁。戊"]


def test_code_urls_and_latex_are_left_alone():
    text = "體育,運動 `體育,運動` https://example.org/%E9%AB%94,x $體,育$\n```\n說明,ＡＢ\n```"
    assert normalise([text]) == ["体育，运动 `體育,運動` https://example.org/%E9%AB%94,x $體,育$\n```\n說明,ＡＢ\n```"]
    # a URL is ASCII: Chinese text right after it is prose
    assert normalise(["見https://x.cn/a體育"]) == ["见https://x.cn/a体育"]


def test_transforms_only_when_changed_and_config_per_source():
    records = frame(row("1", "體育運動"), row("2", "軟體,記憶體", source="tw_forum"), row("3", "已经是简体。"))
    out, extra = normalize_records(records, SETTINGS)
    by_id = {r["id"]: r for r in out.iter_rows(named=True)}
    assert by_id[row("1", "")["id"]]["transforms"] == ["opencc:t2s"]
    second = by_id[row("2", "", source="tw_forum")["id"]]
    assert second["instruction"] == "软件，内存" and second["transforms"] == ["opencc:tw2sp", "normalize:punct"]
    assert by_id[row("3", "")["id"]]["transforms"] == []
    assert extra == {"transforms": {"normalize:punct": 1, "opencc:t2s": 1, "opencc:tw2sp": 1},
                     "opencc_records": {"t2s": 2, "tw2sp": 1}}


PIECES = st.sampled_from([
    "體", "育", "運", "動", "軟體", "記憶體", "衞生", "薴", "苧", "乾隆", "中", "文", "字", "汉",
    ",", ".", ";", ":", "?", "!", "(", ")", " ", "\n", "Ａ", "ｂ", "１", "a", "1", "`", "```", "$",
    "https://x.cn/體", "，", "。", "\t", "\x00",
])
TEXTS = st.lists(st.lists(PIECES, max_size=30).map("".join), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.sampled_from(["t2s", "tw2sp", "hk2s"]))
def test_normalising_twice_equals_once(texts, config):
    once = normalise(texts, config)
    assert normalise(once, config) == once


@pytest.mark.parametrize("change, message", [
    ({"opencc_by_source": {"x": "s2t"}},
     "normalize.opencc_by_source.x: must be one of t2s, tw2s, tw2sp, hk2s, got 's2t'"),
    ({"opencc_default": "t2t"}, "normalize.opencc_default: must be one of t2s, tw2s, tw2sp, hk2s, got 't2t'"),
    ({"width": "yes"}, "normalize.width: must be true or false, got 'yes'"),
    ({"punct": 1}, "normalize.punct: must be true or false, got 1"),
    ({"opencc_by_source": ["tw2sp"]}, "normalize.opencc_by_source: must be a mapping, got ['tw2sp']"),
    ({"opencc": "t2s"}, "normalize.opencc: unknown key (did you mean opencc_default?); allowed: opencc_by_source, "
                        "opencc_default, punct, width"),
])
def test_settings_are_validated(change, message):
    with pytest.raises(ValueError) as error:
        parse_section(NormalizeParams, PARAMS | change, "normalize")
    assert str(error.value) == message


def test_opencc_by_source_keys_must_name_a_configured_subset():
    with pytest.raises(ValueError) as error:
        parse_section(NormalizeParams, PARAMS | {"opencc_by_source": {"tw_froum": "tw2sp"}}, "normalize",
                      {"subsets": ["hk_news", "tw_forum"]})
    assert str(error.value) == ("normalize.opencc_by_source.tw_froum: names no configured subset (did you mean "
                                "tw_forum?); configured: hk_news, tw_forum")


def test_cli_keeps_every_row_and_carries_score_columns(tmp_path):
    records = frame(row("1", "體育運動"), row("2", "数据"))
    records.with_columns(pl.lit(0.9).alias("score_chinese")).write_parquet(tmp_path / "in.parquet")
    params = tmp_path / "params.yaml"
    sources = sources_params(["cqia_tw_forum", "cqia_hk_news", "cqia_zhihu"])
    params.write_text(yaml.safe_dump({"normalize": PARAMS, "sources": sources}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--in", str(tmp_path / "in.parquet"), "--out", str(tmp_path / "n"),
                                      "--metrics", str(tmp_path / "n.json"), "--params", str(params)])
    assert result.exit_code == 0, result.output
    out = pl.read_parquet(tmp_path / "n" / "records.parquet")
    assert out.columns == [*RECORD_SCHEMA.names(), "score_chinese"] and out.height == 2
    assert pl.read_parquet(tmp_path / "n" / "rejected.parquet").height == 0
    metrics = json.loads((tmp_path / "n.json").read_text())
    assert metrics["rows_in"] == metrics["rows_kept"] == 2 and metrics["rows_dropped"] == {}
    result = CliRunner().invoke(cli, ["--in", str(tmp_path / "none.parquet"), "--out", str(tmp_path / "x"),
                                      "--metrics", str(tmp_path / "x.json"), "--params", str(params)])
    assert result.exit_code == 1 and "run the train_quality stage first" in result.output


def test_cli_names_an_opencc_by_source_typo(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"normalize": PARAMS, "sources": sources_params(["cqia_tw_forum"])}),
                      encoding="utf-8")
    result = CliRunner().invoke(cli, ["--in", str(tmp_path / "in.parquet"), "--out", str(tmp_path / "n"),
                                      "--metrics", str(tmp_path / "n.json"), "--params", str(params)])
    assert result.exit_code == 1
    assert result.output == (f"Error: {params}: normalize.opencc_by_source.hk_news: names no configured subset; "
                             "configured: tw_forum\n")
