"""Calibration on planted known-bad records: the AUC against a direct pair count, a perfect score at 1, a random
one reported as chance, the known-bad records built exactly, and the report's tables."""

from __future__ import annotations

import itertools
import random

import polars as pl
import pytest

from stages.judge.calibration import calibrate, thresholds
from stages.judge.calibration_md import render, summary_line
from stages.judge.known_bad import CalibrationParams, corrupt, known_bad
from stages.judge.separation import auc, separation, spearman
from stages.lib.record import records_frame
from tests.lib.test_record import sample_row


def pair_count(good, bad) -> float:
    """The AUC by definition: over every (good, bad) pair, 1 when good is higher, a half on a tie."""
    wins = sum(1.0 if g > b else 0.5 if g == b else 0.0 for g, b in itertools.product(good, bad))
    return wins / (len(good) * len(bad))


def test_auc_matches_a_direct_pair_count_with_ties():
    rng = random.Random(7)
    for _ in range(20):
        good = [rng.randint(0, 6) for _ in range(rng.randint(1, 15))]
        bad = [rng.randint(0, 6) for _ in range(rng.randint(1, 15))]
        assert auc(good, bad) == pytest.approx(pair_count(good, bad), abs=1e-12)
    assert auc([], [1.0]) is None


def test_a_perfect_score_is_1_a_random_one_is_chance_and_a_reversed_one_inverted():
    perfect = separation([5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0], "high", 0.05)
    assert perfect["auc"] == 1.0 and perfect["verdict"] == "separates" and perfect["high"] == 1.0
    rng = random.Random(0)
    noise = separation([rng.random() for _ in range(200)], [rng.random() for _ in range(200)], "high", 0.05)
    assert abs(noise["auc"] - 0.5) < 0.08 and noise["low"] < 0.5 < noise["high"] and noise["verdict"] == "chance"
    # lower is better for ppl: low values on the good side separate, so the same numbers under "high" invert
    assert separation([1.0, 2.0, 3.0], [7.0, 8.0, 9.0], "low", 0.05)["auc"] == 1.0
    assert separation([1.0, 2.0, 3.0, 4.0], [7.0, 8.0, 9.0, 10.0], "high", 0.05)["verdict"] == "inverted"
    # a tight interval that misses 0.5 is still chance when the AUC is within min_gap of it
    assert separation([1.0] * 50 + [2.0] * 52, [1.0] * 52 + [2.0] * 50, "high", 0.05)["verdict"] == "chance"


def test_spearman_needs_three_pairs_and_two_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == 1.0
    assert spearman([1, 2, None, 4], [4, 3, 2, 1]) == -1.0
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None


def candidates(per_source: dict[str, int]) -> pl.DataFrame:
    rows = [sample_row() | {"id": f"{source}-{i:04d}", "source": source, "instruction": f"{source}问题{i}",
                            "input": "", "output": f"{source}的回答第{i}条，内容完整而且清楚。"}
            for source, n in per_source.items() for i in range(n)]
    return records_frame(rows)


def test_the_known_bad_records_are_built_exactly():
    frame = candidates({"zhihu": 2, "douban": 1})
    bad = corrupt(frame.sort("id"), 0.3)
    by_id = dict(bad.select("id", "output").iter_rows())
    assert by_id["zhihu-0000~swapped"] == "zhihu的回答第1条，内容完整而且清楚。"
    assert by_id["zhihu-0001~swapped"] == "zhihu的回答第0条，内容完整而且清楚。"
    assert "douban-0000~swapped" not in by_id  # one sampled record: nothing of its source to swap with
    assert by_id["douban-0000~truncated"] == "douban"  # the first 30% of 22 characters: 6
    assert by_id["zhihu-0001~question_as_answer"] == "zhihu问题1"
    assert set(bad["kind"]) == {"swapped", "truncated", "question_as_answer"}


def test_repetition_rejects_and_the_sample_cap(tmp_path):
    frame = candidates({"zhihu": 10, "douban": 10})
    rejected = tmp_path / "rejected.parquet"
    rows = [sample_row() | {"id": f"zhihu-r{i}", "source": "zhihu", "output": "哈哈" * 40} for i in range(5)]
    records_frame(rows).with_columns(pl.Series("reason", ["clean_char_repetition"] * 3 + ["clean_too_short"] * 2),
                                     pl.lit("").alias("detail")).write_parquet(rejected)
    bad = known_bad(frame, rejected, CalibrationParams(max_records=4))
    counts = dict(bad.group_by("kind").len().iter_rows())
    assert counts == {"swapped": 4, "truncated": 4, "question_as_answer": 4, "repetition": 3}
    assert bad.filter(pl.col("kind") == "swapped")["source"].sort().to_list() == ["douban"] * 2 + ["zhihu"] * 2


def planted(frame: pl.DataFrame, rng: random.Random) -> pl.DataFrame:
    """Good candidates: ppl 2-5, judge 6-9 (random), ifd random; zhihu mixes verified and unverified."""
    n = frame.height
    return frame.with_columns(pl.Series("ppl", [rng.uniform(2, 5) for _ in range(n)]),
                              pl.Series("ifd", [rng.random() for _ in range(n)]),
                              pl.Series("judge_score", [rng.uniform(6, 9) for _ in range(n)]),
                              pl.Series("human_verified", [i % 2 == 0 for i in range(n)]))


def test_calibration_with_fake_scorers_reports_each_score_honestly(tmp_path):
    rng = random.Random(3)
    frame = planted(candidates({"zhihu": 30, "douban": 30}), rng)

    def familiarity(rows):  # known-bad answers get a ppl far above every candidate's, and random ifd
        return {"ppl": [50.0 + i for i in range(len(rows))], "ifd": [rng.random() for _ in rows]}

    def judge(rows):  # the judge scores swapped answers like good ones, and the rest low
        return {"judge_score": [7.5 if "回答" in out and "问题" not in out and len(out) > 10 else 1.0
                                for _, _, out in rows]}

    report, bad = calibrate(frame, None, CalibrationParams(max_records=20), [familiarity, judge], {"scores": {}})
    assert report["counts"]["bad"] == {"swapped": 20, "truncated": 20, "question_as_answer": 20, "repetition": 0}
    ppl = report["auc"]["ppl"]["overall"]
    assert ppl["all"]["auc"] == 1.0 and ppl["swapped"]["verdict"] == "separates"
    assert report["auc"]["ppl"]["by_source"]["zhihu"]["truncated"]["auc"] == 1.0
    assert report["auc"]["ifd"]["overall"]["all"]["verdict"] == "chance"
    judge_auc = report["auc"]["judge_score"]["overall"]
    assert judge_auc["truncated"]["auc"] == 1.0 and judge_auc["swapped"]["verdict"] == "chance"
    assert ppl["repetition"]["verdict"] == "no data"
    assert set(report["human_verified"]) == {"douban", "zhihu"}
    text = render(report)
    assert "- `ifd` is **no better than chance** on all known-bad records: AUC" in text
    assert "- `judge_score` is **no better than chance** on `swapped`: AUC" in text
    assert "- `ppl` separates the candidates from `truncated`: AUC 1.00 [0.97, 1.00]." in text
    assert summary_line(report).startswith("calibration: 60 known-bad records; AUC (all kinds) ppl 1.00, ifd ")


def test_the_threshold_table_gives_the_share_kept_per_source():
    frame = pl.DataFrame({"source": ["a", "a", "a", "a", "b", "b"], "judge_score": [2.0, 4.0, 8.0, 9.0, 8.5, None]})
    table = {row["threshold"]: row for row in thresholds(frame, "judge_score")}
    assert table[8.0]["by_source"] == {"a": 0.5, "b": 0.5} and table[8.0]["keeps"] == "judge_score >= 8.0"
    assert table[8.0]["all"] == round(3 / 6, 4)


def test_a_perfect_score_on_few_records_is_not_reported_as_certain():
    few = separation([5.0, 6.0, 7.0, 8.0], [1.0, 2.0], "high", 0.05)
    assert few["auc"] == 1.0 and few["high"] == 1.0 and few["low"] < 0.8
    many = separation([float(v) for v in range(100, 200)], [float(v) for v in range(100)], "high", 0.05)
    assert many["auc"] == 1.0 and many["low"] > 0.97


def test_known_bad_records_come_only_from_sources_whose_candidates_have_a_score():
    """Familiarity scored only zhihu (as `familiarity.sources: [mmlu]` scores only mmlu) and the judge is off: the
    known-bad records are zhihu's, and douban's unscored candidates neither join the sample nor the AUC."""
    rng = random.Random(5)
    frame = planted(candidates({"zhihu": 12, "douban": 12}), rng).with_columns(
        [pl.when(pl.col("source") == "zhihu").then(pl.col(s)).otherwise(None).alias(s) for s in ("ppl", "ifd")]
    ).with_columns(pl.lit(None, pl.Float64).alias("judge_score"))
    seen = []

    def familiarity(rows):
        seen.extend(rows)
        return {"ppl": [60.0] * len(rows), "ifd": [0.5] * len(rows)}

    report, bad = calibrate(frame, None, CalibrationParams(max_records=8), [familiarity], {"scores": {}})
    assert set(bad["source"]) == {"zhihu"} and len(seen) == bad.height == 24
    assert report["counts"]["compared"] == {"ppl": ["zhihu"], "ifd": ["zhihu"], "judge_score": []}
    assert report["auc"]["ppl"]["overall"]["all"]["n_good"] == 12 and report["auc"]["ppl"]["overall"]["all"]["auc"] == 1.0
    assert report["auc"]["judge_score"]["overall"]["all"]["verdict"] == "no data"
    assert ("Sources compared (candidates with the score): ppl: zhihu (24 known-bad); ifd: zhihu (24 known-bad); "
            "judge_score: none.") in render(report)
    everything = planted(candidates({"zhihu": 12, "douban": 12}), rng).with_columns(
        pl.lit(None, pl.Float64).alias(s) for s in ("ppl", "ifd", "judge_score"))
    _, unscored = calibrate(everything, None, CalibrationParams(max_records=8), [familiarity], {"scores": {}})
    assert set(unscored["source"]) == {"zhihu", "douban"}  # no score anywhere: the sample spans every source


def test_repetition_rejects_of_unscored_sources_do_not_take_the_places_of_scored_ones(tmp_path):
    rejected = tmp_path / "rejected.parquet"
    rows = [sample_row() | {"id": f"{source}-r{i}", "source": source, "output": "哈哈" * 40}
            for source in ("douban", "zhihu") for i in range(6)]
    records_frame(rows).with_columns(pl.lit("clean_char_repetition").alias("reason"),
                                     pl.lit("").alias("detail")).write_parquet(rejected)
    frame = candidates({"zhihu": 4, "douban": 4})
    bad = known_bad(frame, rejected, CalibrationParams(max_records=4), ["zhihu"])
    repetition = bad.filter(pl.col("kind") == "repetition")
    assert repetition.height == 4 and set(repetition["source"]) == {"zhihu"} and set(bad["source"]) == {"zhihu"}


def test_a_score_column_the_candidates_lack_is_reported_as_no_data():
    frame = planted(candidates({"zhihu": 10}), random.Random(1)).drop("judge_score")
    report, _ = calibrate(frame, None, CalibrationParams(max_records=4),
                          [lambda rows: {"ppl": [99.0] * len(rows), "ifd": [0.9] * len(rows)}], {"scores": {}})
    assert report["auc"]["judge_score"]["overall"]["all"]["verdict"] == "no data"
    assert report["counts"]["compared"]["judge_score"] == [] and report["auc"]["ppl"]["overall"]["all"]["auc"] == 1.0
