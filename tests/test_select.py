"""`assemble.select`: selection by ppl, ifd, judge_score and score_quality, overall and per source."""

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from stages.lib.params import parse_section
from stages.sft.build import assemble
from stages.sft.mix import AssembleParams, choose
from tests.project import project
from tests.test_assemble import SFT_SUITE, SOURCES, curated_frame, write_inputs

SUITE_PARAMS = {"min_rows": 1, "configured_sources": SOURCES, "max_chars": 16000, "chinese_sources": SOURCES}


def params(select: dict) -> AssembleParams:
    return parse_section(AssembleParams, {"eval_share": 0.5, "select": select}, "params.yaml: assemble",
                         {"subsets": SOURCES})


def scored(source: str, **scores: list) -> pl.DataFrame:
    """Curated records of `source`, one per value, with these score columns (the others null)."""
    n = len(next(iter(scores.values())))
    frame = curated_frame({source: n}).with_columns(pl.lit(False).alias("is_rewrite"))
    columns = {name: scores.get(name, [None] * n) for name in ("ppl", "ifd", "judge_score", "score_quality")}
    return frame.with_columns(pl.Series(name, values, dtype=pl.Float64) for name, values in columns.items())


def reasons(rejected: pl.DataFrame) -> dict[str, str]:
    return dict(rejected.select("id", pl.format("{}: {}", "reason", "detail")).iter_rows())


def test_a_judge_minimum_applies_per_source_and_an_override_lifts_it():
    frame = pl.concat([scored("zhihu", judge_score=[3.0, 6.0, 8.5]), scored("ruozhiba", judge_score=[2.0, 4.0])])
    select = {"overall": {"judge_score": {"min": 6}}, "by_source": {"ruozhiba": {"judge_score": {"min": None}}}}
    info: dict = {}
    kept, rejected = choose(frame, params(select), info)
    assert sorted(kept["id"].to_list()) == ["ruozhiba-0000000000000000", "ruozhiba-0000000000000001",
                                            "zhihu-0000000000000001", "zhihu-0000000000000002"]
    assert reasons(rejected) == {"zhihu-0000000000000000": "select_judge_score_below_min: judge_score 3.0 < min 6.0 "
                                                           "(overall)"}
    assert info["applied"] == {"overall": {"judge_score": {"min": 6}}}


def test_a_by_source_entry_keeps_the_overall_keys_it_does_not_name():
    select = {"overall": {"ifd": {"max": 1.5, "missing": "drop"}}, "by_source": {"zhihu": {"ifd": {"min": 0.2}}}}
    bounds = params(select).select.by_source["zhihu"].ifd
    assert (bounds.min, bounds.max, bounds.missing) == (0.2, 1.5, "drop")
    frame = scored("zhihu", ifd=[0.1, 0.5, 1.7, None])
    kept, rejected = choose(frame, params(select))
    assert kept["id"].to_list() == ["zhihu-0000000000000001"]
    assert reasons(rejected) == {
        "zhihu-0000000000000000": "select_ifd_below_min: ifd 0.1 < min 0.2 (by_source zhihu)",
        "zhihu-0000000000000002": "select_ifd_above_max: ifd 1.7 > max 1.5 (by_source zhihu)",
        "zhihu-0000000000000003": "select_ifd_missing: ifd is missing (by_source zhihu)"}


def test_ifd_above_one_is_its_own_reason():
    frame = scored("zhihu", ifd=[0.4, 0.9, 1.0, 1.2])
    kept, rejected = choose(frame, params({"overall": {"ifd": {"drop_above_one": True}}}))
    assert kept.height == 3
    assert reasons(rejected) == {"zhihu-0000000000000003": "select_ifd_above_one: ifd 1.2 > 1 (overall)"}


def test_keep_quantile_keeps_the_better_end_of_each_source():
    frame = pl.concat([scored("zhihu", ppl=[1.0, 2.0, 3.0, 4.0, 5.0], judge_score=[9, 8, 7, 6, 5]),
                       scored("douban", ppl=[10.0, 20.0, 30.0, 40.0, 50.0], judge_score=[1, 2, 3, 4, 5])])
    info: dict = {}
    kept, rejected = choose(frame, params({"overall": {"ppl": {"keep_quantile": 0.5}}}), info)
    # per source: the lowest half of ppl (the cutoff is that source's median), so douban keeps 3 of 5 too
    assert sorted(kept["ppl"].to_list()) == [1.0, 2.0, 3.0, 10.0, 20.0, 30.0]
    assert info["cutoffs"] == {"ppl": {"douban": 30.0, "zhihu": 3.0}}
    assert reasons(rejected)["zhihu-0000000000000004"] == (
        "select_ppl_above_quantile: ppl 5.0 > 3.0, the keep_quantile 0.5 cutoff of source zhihu (overall)")
    kept, rejected = choose(frame, params({"overall": {"judge_score": {"keep_quantile": 0.4}}}))
    assert sorted(kept["judge_score"].to_list()) == [4.0, 5.0, 8.0, 9.0]  # the highest 40% of each source
    assert set(rejected["reason"]) == {"select_judge_score_below_quantile"}


def test_a_missing_score_is_kept_and_counted_unless_the_bounds_say_drop():
    frame = scored("zhihu", score_quality=[0.9, None, 0.1])
    info: dict = {}
    kept, rejected = choose(frame, params({"overall": {"score_quality": {"min": 0.5}}}), info)
    assert kept.height == 2 and info["missing_kept"] == {"score_quality": 1}
    assert rejected["reason"].to_list() == ["select_score_quality_below_min"]
    kept, rejected = choose(frame, params({"overall": {"score_quality": {"min": 0.5, "missing": "drop"}}}))
    assert kept.height == 1 and sorted(rejected["reason"]) == ["select_score_quality_below_min",
                                                               "select_score_quality_missing"]


@pytest.mark.parametrize(("select", "line"), [
    ({"overall": {"judge_scor": {}}}, "params.yaml: assemble.select.overall.judge_scor: unknown key (did you mean "
                                      "judge_score?); allowed: ifd, judge_score, ppl, score_quality"),
    ({"overall": {"ppl": {"keep_quantile": 0}}}, "params.yaml: assemble.select.overall.ppl.keep_quantile: must be in "
                                                 "(0, 1], got 0"),
    ({"overall": {"ppl": {"min": 5, "max": 2}}}, "params.yaml: assemble.select.overall.ppl: value error, min (5) is "
                                                 "above max (2), got {'min': 5, 'max': 2}"),
    ({"by_source": {"zhihuu": {}}}, "params.yaml: assemble.select.by_source.zhihuu: names no configured subset (did "
                                    "you mean zhihu?); configured: a, b, douban, ruozhiba, rw, zhihu"),
    ({"overall": {"ifd": {"missing": "skip"}}}, "params.yaml: assemble.select.overall.ifd.missing: must be one of "
                                                "keep, drop, got 'skip'"),
])
def test_bad_selection_params_are_one_line(select, line):
    with pytest.raises(ValueError) as info:
        params(select)
    assert str(info.value) == line


def test_no_selection_gives_the_same_set_as_candidates_without_scores(tmp_path):
    curated, rewrites, lock = write_inputs(tmp_path)
    with_scores = tmp_path / "scored.parquet"
    frame = pl.read_parquet(curated)
    frame.with_columns(pl.int_range(frame.height).cast(pl.Float64).alias("ppl"), pl.lit(1.5).alias("ifd"),
                       pl.lit(2.0).alias("judge_score")).write_parquet(with_scores)
    for name, first in (("plain", curated), ("scored", with_scores)):
        assemble([first, rewrites], None, tmp_path / name, tmp_path / f"{name}.json", params({}), lock,
                 SFT_SUITE, tmp_path / f"reports-{name}", SUITE_PARAMS)
    for file in ("train.jsonl", "eval.jsonl"):
        assert (tmp_path / "plain" / file).read_bytes() == (tmp_path / "scored" / file).read_bytes()


def test_assemble_counts_selection_drops_and_joins_score_quality_from_scores(tmp_path):
    curated, rewrites, lock = write_inputs(tmp_path)
    quality = tmp_path / "quality.parquet"
    ids = pl.read_parquet(curated)["id"]
    pl.DataFrame({"id": ids, "score_quality": [0.1 if i % 3 == 0 else 0.9 for i in range(ids.len())],
                  "unrelated": ["x"] * ids.len()}).write_parquet(quality)
    settings = params({"overall": {"score_quality": {"min": 0.5}}})
    metrics = assemble([curated, rewrites], quality, tmp_path / "out", tmp_path / "m.json", settings, lock,
                       SFT_SUITE, tmp_path / "reports", SUITE_PARAMS)
    # 12 zhihu with output (ids 0..11: 4 under 0.5), 3 empty ruozhiba; the 2 rewrites have no score_quality: kept
    assert metrics["rows_dropped"] == {"assemble_empty_output": 3, "select_score_quality_below_min": 4}
    assert metrics["select"]["missing_kept"] == {"score_quality": 2}
    assert json.loads((tmp_path / "m.json").read_text())["select"]["applied"] == {
        "overall": {"score_quality": {"min": 0.5}}}
    rejected = pl.read_parquet(tmp_path / "out" / "rejected.parquet")
    assert rejected.filter(pl.col("reason") == "select_score_quality_below_min")["detail"].to_list() == [
        "score_quality 0.1 < min 0.5 (overall)"] * 4
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["params"]["select"] == {"overall": {"score_quality": {"min": 0.5}}}


def test_an_experiment_value_under_select_is_checked_like_any_other(tmp_path, monkeypatch):
    """`python -m stages.exp -S assemble.select...` checks the value before DVC runs: a good key passes, a typo
    is one line with a did-you-mean."""
    from stages.check.experiment import check_overrides

    shipped = yaml.safe_load((project() / "params.yaml").read_text(encoding="utf-8"))
    for source in shipped["sources"].values():
        source["path"] = str(project() / source["path"])
    shipped["evaluate"]["tasks"] = str(project() / shipped["evaluate"]["tasks"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8")
    shutil.copytree(project() / "schemas", tmp_path / "schemas")
    monkeypatch.chdir(tmp_path)
    assert check_overrides(["assemble.select.overall.ifd.max=1", "assemble.select.overall.ppl.keep_quantile=0.8",
                            "+assemble.select.by_source={ruozhiba: {judge_score: {min: null}}}"]) == []
    assert check_overrides(["assemble.select.overall.ifd.maxx=1"]) == [
        "params.yaml: assemble.select.overall.ifd.maxx: unknown key (did you mean max?); allowed: drop_above_one, "
        "keep_quantile, max, min, missing"]
    assert Path("params.yaml").read_text(encoding="utf-8") == yaml.safe_dump(shipped, allow_unicode=True)


def test_the_card_manifest_and_histograms_list_the_selection_the_judge_and_the_scores(tmp_path):
    curated, rewrites, lock = write_inputs(tmp_path)
    judged = tmp_path / "judged.parquet"
    frame = pl.read_parquet(curated)
    frame.with_columns(pl.Series("judge_score", [float(i % 10) for i in range(frame.height)]),
                       pl.lit("tiny-judge").alias("judge_model"), pl.lit("ab" * 32).alias("judge_rubric")
                       ).write_parquet(judged)
    settings = params({"overall": {"judge_score": {"min": 2}}, "by_source": {"zhihu": {"judge_score": {"max": 9}}}})
    assemble([judged, rewrites], None, tmp_path / "out", tmp_path / "m.json", settings, lock, SFT_SUITE,
             tmp_path / "reports", SUITE_PARAMS)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["params"]["select"] == {"overall": {"judge_score": {"min": 2}},
                                            "zhihu": {"judge_score": {"min": 2, "max": 9}}}
    assert manifest["judge"] == {"models": ["tiny-judge"], "rubrics": ["ab" * 32]}
    # zhihu records 0..11 score i % 10: kept 2..9 (2-9) -> 8 records; the 2 rewrites have no judge score
    assert manifest["scores"]["judge_score"] == {"zhihu": {"n": 8, "min": 2.0, "p25": 3.75, "median": 5.5,
                                                           "p75": 7.25, "max": 9.0}}
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "| zhihu | judge_score | min 2, max 9 |" in card and "| overall | judge_score | min 2 |" in card
    assert f"Judge model: `tiny-judge`; rubric sha256: `{'ab' * 32}`." in card
    assert "| judge_score | zhihu | 8 | 2.0 | 3.75 | 5.5 | 7.25 | 9.0 |" in card
    histogram = (tmp_path / "reports" / "score_histograms.csv").read_text().splitlines()
    assert histogram[0] == "score,source,bin,records"
    judge_rows = [line for line in histogram if line.startswith("judge_score,zhihu,")]
    assert judge_rows[:3] == ["judge_score,zhihu,2.0,1", "judge_score,zhihu,2.7,1", "judge_score,zhihu,3.4,1"]
    assert sum(int(line.rsplit(",", 1)[1]) for line in judge_rows) == 8 and len(judge_rows) == 10


def test_selection_drops_are_found_by_audit_summary_and_trace(tmp_path):
    """The select reasons live in data/sft/rejected.parquet, where `audit` finds every stage's rejects."""
    from click.testing import CliRunner

    from stages.audit.__main__ import cli
    from tests.audit.repo_builder import dvc, git

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    dvc(repo, "init", "-q")
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"assemble": {"cmd": "true", "outs": ["data/sft"]}}}))
    curated, rewrites, lock = write_inputs(tmp_path)
    settings = params({"overall": {"ifd": {"drop_above_one": True}}})
    frame = pl.read_parquet(curated)
    frame.with_columns(pl.Series("ifd", [1.25 if i == 3 else 0.5 for i in range(frame.height)])).write_parquet(curated)
    assemble([curated, rewrites], None, repo / "data" / "sft", repo / "m.json", settings, lock, SFT_SUITE,
             tmp_path / "reports", SUITE_PARAMS)
    dropped = frame["id"][3]
    summary = json.loads(CliRunner().invoke(cli, ["summary", "--repo", str(repo), "--json"]).stdout)
    stage = next(s for s in summary["stages"] if s["stage"] == "assemble")
    assert stage["rows_dropped"]["select_ifd_above_one"] == 1
    assert stage["dropped_examples"]["select_ifd_above_one"][0]["detail"] == "ifd 1.25 > 1 (overall)"
    trace = CliRunner().invoke(cli, ["trace", dropped, "--repo", str(repo), "--json"])
    assert trace.exit_code == 0, trace.output
    assert json.loads(trace.stdout)["dropped"] == {"stage": "assemble", "reason": "select_ifd_above_one",
                                                   "detail": "ifd 1.25 > 1 (overall)"}


def test_an_empty_by_source_entry_takes_the_overall_bounds():
    select = params({"overall": {"ppl": {"max": 9}}, "by_source": {"zhihu": None, "douban": {"ppl": None}}}).select
    assert select.of("zhihu")[0].ppl.max == 9 and select.of("douban")[0].ppl.max == 9
    assert select.of("exam") == (select.overall, "overall")
