"""Stage `train_quality`: after clean, off by default (a pass-through); when enabled it trains a fastText model on
clean's kept and rejected records, scores the kept ones and drops those under min_quality as quality_low."""

import json

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from stages.clean.__main__ import cli as clean_cli
from stages.clean import quality
from stages.clean.filters import REASONS as CLEAN_REASONS
from stages.clean.quality import MODEL_NAME, TrainQualityParams
from stages.clean.quality_filter import feature_texts, score_and_filter
from stages.lib.params import parse_section
from stages.lib.record import REJECTED_SCHEMA
from stages.train_quality import cli
from tests.clean.fixtures import FakeModel, clean_params, frame, row, sources_params

PHRASES = ["学习编程要多动手", "读书让人明白道理", "运动有益身体健康", "旅行可以开阔眼界", "做饭需要耐心和细心",
           "写作需要反复修改", "科学研究讲究证据", "团队合作重在沟通", "早睡早起精神好", "节约用水从我做起"]
TRAIN = {"enabled": True, "min_quality": 0.5, "positive": {"human_verified": True},
         "negative_reasons": ["clean_char_repetition", "clean_not_chinese"],
         "min_examples": 10, "epoch": 100, "lr": 0.5, "word_ngrams": 2, "dim": 16, "bucket": 10000, "min_count": 1,
         "seed": 1}  # lr 0.5: decisive scores on 24 examples (at 0.1 they all sit near 0.5)
GOOD = [row(f"g{i}", f"请谈谈{PHRASES[i % 10]}的体会。",
            output="。".join(PHRASES[(i + k) % 10] for k in range(0, 10, 3)) + f"。这是第{i}条。", human_verified=True)
        for i in range(12)]
BAD = [row(f"b{i}", "随便说点什么吧。", output=PHRASES[i % 10] * 30) for i in range(12)]  # clean_char_repetition
# kept by clean (no loop, Chinese, long enough), not verified: written like the bad examples
LOOKALIKES = [row(f"l{i}", "随便说点什么吧。", output=PHRASES[i % 10] * 2) for i in range(6)]


def cleaned(tmp_path, records=(*GOOD, *BAD, *LOOKALIKES)):
    """Run the clean stage on the records; return its output folder."""
    (tmp_path / "raw" / "cqia_zhihu").mkdir(parents=True)
    frame(*records).write_parquet(tmp_path / "raw" / "cqia_zhihu" / "records.parquet")
    params = tmp_path / "clean-params.yaml"
    params.write_text(yaml.safe_dump({"clean": clean_params() | {"by_source": {}},
                                      "sources": sources_params(["cqia_zhihu"])}, allow_unicode=True))
    result = CliRunner().invoke(clean_cli, ["--in", str(tmp_path / "raw"), "--out", str(tmp_path / "clean"),
                                            "--metrics", str(tmp_path / "clean.json"), "--params", str(params)])
    assert result.exit_code == 0, result.output
    return tmp_path / "clean"


def run(tmp_path, train, out="quality"):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"train_quality": train}, allow_unicode=True))
    return CliRunner().invoke(cli, ["--in", str(tmp_path / "clean"), "--out", str(tmp_path / out),
                                    "--metrics", str(tmp_path / f"{out}.json"), "--params", str(params)])


def read(folder):
    return pl.read_parquet(folder / "records.parquet"), pl.read_parquet(folder / "rejected.parquet")


def test_disabled_passes_every_record_through(tmp_path):
    clean_dir = cleaned(tmp_path)
    result = run(tmp_path, TRAIN | {"enabled": False, "min_quality": None})
    assert result.exit_code == 0, result.output
    assert result.output == ("train_quality: 18 in, 18 kept, 0 dropped; classifier off "
                             "(train_quality.enabled: false), score_quality left empty\n")
    kept, rejected = read(tmp_path / "quality")
    before = pl.read_parquet(clean_dir / "records.parquet")
    assert kept.columns == [*before.columns, "score_quality"] and kept["score_quality"].null_count() == 18
    assert kept.drop("score_quality").equals(before)
    assert rejected.is_empty() and rejected.columns[:len(REJECTED_SCHEMA)] == REJECTED_SCHEMA.names()
    assert json.loads((tmp_path / "quality.json").read_text()) == {
        "enabled": False, "rows_in": 18, "rows_kept": 18, "rows_dropped": {}}
    assert not (tmp_path / "quality" / MODEL_NAME).exists()


def test_enabled_learns_from_clean_verdicts_and_filters(tmp_path):
    """fastText training is not bit-reproducible, so this checks what the pipeline relies on: counts, a loadable
    model that tells the labels apart, and a threshold applied exactly to the scores it gives."""
    cleaned(tmp_path)
    result = run(tmp_path, TRAIN)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "quality.json").read_text())
    assert metrics["enabled"] and metrics["good_examples"] == 12 and metrics["bad_examples"] == 12
    assert 0 <= metrics["train_accuracy"] <= 1 and metrics["rows_in"] == 18
    model = quality.load(tmp_path / "quality" / MODEL_NAME)
    good = quality.good_probability(model, feature_texts(frame(*GOOD)))
    bad = quality.good_probability(model, feature_texts(frame(*BAD)))
    assert min(good) > max(bad)
    kept, rejected = read(tmp_path / "quality")
    assert kept["score_quality"].null_count() == 0 and kept["score_quality"].min() >= 0.5
    assert set(rejected["reason"]) <= {"quality_low"}
    assert rejected.height == metrics["rows_dropped"].get("quality_low", 0)
    assert rejected.is_empty() or rejected["score_quality"].max() < 0.5
    assert rejected["detail"].str.contains(r"^quality 0\.\d+ < min_quality 0\.5$").all()
    assert set(rejected["id"]) == {r["id"] for r in LOOKALIKES} and kept.height == 12


def test_a_low_score_is_dropped_as_quality_low():
    model = FakeModel(["__label__bad", "__label__good"], [0.8, 0.2])
    records = frame(row("1", "请介绍一下数据清洗的主要步骤。"))
    kept, dropped = score_and_filter(records, model, parse_section(TrainQualityParams, TRAIN, "train_quality"))
    assert kept.is_empty() and dropped["reason"].to_list() == ["quality_low"] and dropped["score_quality"][0] == 0.2
    assert dropped["detail"].to_list() == ["quality 0.2 < min_quality 0.5"]
    kept, dropped = score_and_filter(records, model, parse_section(TrainQualityParams, TRAIN | {"min_quality": None},
                                                                   "train_quality"))
    assert kept["score_quality"].to_list() == [0.2] and dropped.is_empty()


def test_too_few_examples_fail_clearly(tmp_path):
    cleaned(tmp_path)
    result = run(tmp_path, TRAIN | {"min_examples": 50})
    assert result.exit_code == 1
    assert result.output == ("Error: train_quality: 12 good and 12 bad examples; each needs at least "
                             "min_examples (50): adjust positive or negative_reasons\n")


def test_missing_clean_output_fails_clearly(tmp_path):
    result = run(tmp_path, TRAIN)
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'clean' / 'records.parquet'}: not found (run the clean stage first)\n"


REASONS = ", ".join(CLEAN_REASONS)  # the clean stage's reason codes, in their filters' order


@pytest.mark.parametrize("change, message", [
    ({"enabled": "yes"}, "train_quality.enabled: must be true or false, got 'yes'"),
    ({"negative_reasons": ["clean_bogus"]},
     f"train_quality.negative_reasons.0: must be one of {REASONS}, got 'clean_bogus'"),
    ({"negative_reasons": []}, "train_quality.negative_reasons: must be a non-empty list of clean reasons, got []"),
    ({"positive": {"verified": True}},
     "train_quality.positive.verified: not a record field (did you mean human_verified?); record fields: id, source, "
     "source_uri, raw_sha256, fetched_at, license, instruction, input, output, task_type, domain, metadata, "
     "answer_from, human_verified, copyright, transforms"),
    ({"positive": {}}, "train_quality.positive: must be a non-empty mapping of record field to value, got {}"),
    ({"epoch": 2.5}, "train_quality.epoch: must be an integer, got 2.5"),
    ({"epoch": 0}, "train_quality.epoch: must be a positive integer, got 0"),
    ({"dim": 0}, "train_quality.dim: must be a positive integer, got 0"),
    ({"bucket": 0}, "train_quality.bucket: must be >= 1 when word_ngrams > 1 (the n-grams are hashed into these "
     "buckets), got 0"),
    ({"lr": 0}, "train_quality.lr: must be a positive number, got 0.0"),
    ({"lr": float("nan")}, "train_quality.lr: must be a finite number, got .nan"),
    ({"min_quality": 1.5}, "train_quality.min_quality: must be between 0 and 1, got 1.5"),
    ({"min_quality": float("inf")}, "train_quality.min_quality: must be a finite number, got .inf"),
    ({"enabled": False}, "train_quality.min_quality: needs enabled: true (without a model nothing is scored), got 0.5"),
    ({"seeds": 1}, "train_quality.seeds: unknown key (did you mean seed?); allowed: bucket, dim, enabled, epoch, lr, "
     "min_count, min_examples, min_quality, negative_reasons, positive, seed, word_ngrams"),
])
def test_params_are_validated_with_the_key_named(change, message):
    with pytest.raises(ValueError) as error:
        parse_section(TrainQualityParams, TRAIN | change, "train_quality")
    assert str(error.value) == message


def test_min_quality_is_optional_and_off_by_default():
    params = parse_section(TrainQualityParams, {k: v for k, v in TRAIN.items() if k != "min_quality"}, "train_quality")
    assert params.min_quality is None
