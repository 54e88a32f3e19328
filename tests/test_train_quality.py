"""Stage `train_quality`: off by default, trains a fastText model on configured examples when enabled."""

import json

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from stages.clean import run_clean
from stages.cleaning.quality import MODEL_NAME
from stages.train_quality import cli, parse_train_settings
from tests.cleaning.fixtures import clean_params, frame, row, settings

PHRASES = ["学习编程要多动手", "读书让人明白道理", "运动有益身体健康", "旅行可以开阔眼界", "做饭需要耐心和细心",
           "写作需要反复修改", "科学研究讲究证据", "团队合作重在沟通", "早睡早起精神好", "节约用水从我做起"]
TRAIN = {"enabled": True, "positive": {"human_verified": True},
         "negative_reasons": ["clean_char_repetition", "clean_not_chinese"],
         "min_examples": 10, "epoch": 60, "lr": 0.1, "word_ngrams": 2, "dim": 16, "bucket": 10000, "min_count": 1,
         "seed": 1}


def write_raw(root):
    good = [row(f"g{i}", f"请谈谈{PHRASES[i % 10]}的体会。",
                output="。".join(PHRASES[(i + k) % 10] for k in range(0, 10, 3)) + f"。这是第{i}条。",
                human_verified=True) for i in range(12)]
    bad = [row(f"b{i}", "随便说点什么吧。", output=PHRASES[i % 10] * 30) for i in range(12)]
    (root / "raw" / "src").mkdir(parents=True)
    frame(*good, *bad).write_parquet(root / "raw" / "src" / "records.parquet")
    return root / "raw"


def run(tmp_path, train, out="model"):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"train_quality": train, "clean": clean_params(),
                                      "sources": {"src": {"kind": "cqia_jsonl", "path": "x"}}}, allow_unicode=True))
    return CliRunner().invoke(cli, ["run", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / out),
                                    "--metrics", str(tmp_path / f"{out}.json"), "--params", str(params)])


def test_disabled_writes_only_info(tmp_path):
    write_raw(tmp_path)
    result = run(tmp_path, TRAIN | {"enabled": False})
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "model" / "info.json").read_text()) == {"enabled": False}
    assert not (tmp_path / "model" / MODEL_NAME).exists()


def test_enabled_trains_a_model_that_clean_can_use(tmp_path):
    """fastText training is not bit-reproducible (and its accuracy on 24 examples varies under load),
    so this checks what the pipeline relies on: counts, a loadable model, and a threshold applied
    exactly to the scores it gives."""
    raw = write_raw(tmp_path)
    result = run(tmp_path, TRAIN, out="m1")
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "m1" / "info.json").read_text())
    assert info["good_examples"] == 12 and info["bad_examples"] == 12 and 0 <= info["train_accuracy"] <= 1
    metrics = run_clean(raw, tmp_path / "clean", tmp_path / "clean.json", settings(min_quality=0.5),
                        tmp_path / "m1" / MODEL_NAME, ["src"])
    kept = pl.read_parquet(tmp_path / "clean" / "records.parquet")
    rejected = pl.read_parquet(tmp_path / "clean" / "rejected.parquet")
    assert kept["score_quality"].null_count() == 0 and kept["score_quality"].min() >= 0.5
    low = rejected.filter(pl.col("reason") == "clean_low_quality")
    assert low.height == metrics["rows_dropped"].get("clean_low_quality", 0)
    assert low.is_empty() or low["score_quality"].max() < 0.5
    heuristic = {k: v for k, v in metrics["rows_dropped"].items() if k != "clean_low_quality"}
    assert sum(heuristic.values()) == 12


def test_too_few_examples_and_bad_settings_fail_clearly(tmp_path):
    write_raw(tmp_path)
    result = run(tmp_path, TRAIN | {"min_examples": 50})
    assert result.exit_code == 1 and "each needs at least min_examples (50)" in result.output
    with pytest.raises(ValueError, match="negative_reasons: must be a non-empty list"):
        parse_train_settings(TRAIN | {"negative_reasons": ["clean_bogus"]})
    with pytest.raises(ValueError, match="positive: unknown record field"):
        parse_train_settings(TRAIN | {"positive": {"verified": True}})
