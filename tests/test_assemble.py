"""Stage `assemble`: mix, caps, rewrite share, selection by ppl, deterministic split, card and manifest."""

import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from huggingface_hub import DatasetCard

from stages.lib.params import parse_section
from stages.lib.record import records_frame
from stages.sft.build import assemble
from stages.sft.card import fingerprint
from stages.sft.mix import AssembleParams, choose
from stages.validate.suites import CleanBounds
from tests.lib.test_record import sample_row

SFT_SUITE = Path(__file__).resolve().parents[1] / "schemas" / "expectations" / "sft.json"
SOURCES = ["ruozhiba", "rw", "zhihu", "douban", "a", "b"]


def curated_frame(n_per_source: dict[str, int]) -> pl.DataFrame:
    rows = []
    for source, n in n_per_source.items():
        for i in range(n):
            rows.append(sample_row() | {"id": f"{source}-{i:016x}", "source": source,
                                        "instruction": f"{source}的第{i}个问题", "output": f"回答{i}"})
    return records_frame(rows)


def with_flags(frame: pl.DataFrame, rewrite: bool, ppl: float | None = None) -> pl.DataFrame:
    return frame.with_columns(pl.lit(rewrite).alias("is_rewrite"), pl.lit(ppl, pl.Float64).alias("ppl"))


def test_caps_and_rewrite_share_and_empty_outputs_are_rejected_with_reasons():
    curated = curated_frame({"zhihu": 10, "douban": 4})
    curated = curated.with_columns(pl.when(pl.col("id") == "douban-0000000000000000").then(pl.lit(""))
                                   .otherwise(pl.col("output")).alias("output"))
    rewrites = curated_frame({"rw": 20})
    frame = pl.concat([with_flags(curated, False), with_flags(rewrites, True)])
    kept, rejected = choose(frame, AssembleParams(source_caps={"zhihu": 6}, rewrite_share=0.5))
    assert kept.height + rejected.height == 34
    assert dict(rejected.group_by("reason").len().iter_rows()) == {
        "assemble_empty_output": 1, "assemble_source_cap": 4, "assemble_rewrite_share": 11}
    assert kept.filter(pl.col("source") == "zhihu").height == 6
    assert kept.filter(pl.col("is_rewrite")).height == 9  # 6 zhihu + 3 douban curated, share 0.5


def test_replace_puts_each_rewrite_in_its_seeds_place_and_add_keeps_both():
    seeds = with_flags(curated_frame({"zhihu": 6}), False, 20.0)
    answers = with_flags(curated_frame({"rw": 4}), True, 5.0).with_columns(
        pl.Series("parent_id", [f"zhihu-{i:016x}" for i in range(4)]), pl.Series("instruction", [
            f"zhihu的第{i}个问题" for i in range(4)]))  # the same questions, other answers
    frame = pl.concat([seeds.with_columns(pl.lit(None, pl.String).alias("parent_id")), answers])
    added, _ = choose(frame, AssembleParams())
    kept, rejected = choose(frame, AssembleParams(rewrites="replace"))
    assert added.height == 10 and kept.height == 6 and "parent_id" not in kept.columns
    assert sorted(kept.filter(~pl.col("is_rewrite"))["id"].to_list()) == ["zhihu-0000000000000004",
                                                                         "zhihu-0000000000000005"]
    assert rejected["reason"].to_list() == ["assemble_replaced_by_rewrite"] * 4
    assert sorted(rejected["detail"].to_list()) == [f"replaced by its rewrite rw-{i:016x}" for i in range(4)]
    with pytest.raises(ValueError, match=r"assemble.rewrites: "):
        parse_section(AssembleParams, {"rewrites": "swap"}, "params.yaml: assemble")


def test_a_ppl_bound_drops_only_records_above_it():
    frame = pl.concat([with_flags(curated_frame({"a": 3}), False, 5.0), with_flags(curated_frame({"b": 2}), False, 50.0)])
    kept, rejected = choose(frame, parse_params({"select": {"overall": {"ppl": {"max": 10.0}}}}))
    assert sorted(kept["source"].unique().to_list()) == ["a"]
    assert rejected["reason"].to_list() == ["select_ppl_above_max"] * 2
    assert rejected["detail"].to_list() == ["ppl 50.0 > max 10.0 (overall)"] * 2


def test_the_old_max_ppl_key_names_its_one_home():
    """`assemble.max_ppl` was a second home of the ppl bound; it says where the bound lives now."""
    with pytest.raises(ValueError) as info:
        parse_params({"max_ppl": 50})
    assert str(info.value) == ("params.yaml: assemble.max_ppl: moved to assemble.select.overall.ppl.max "
                               "(reason select_ppl_above_max)")


def test_split_is_stable_when_records_are_added():
    small = with_flags(curated_frame({"zhihu": 50}), False)
    big = with_flags(curated_frame({"zhihu": 80}), False)
    params = AssembleParams(eval_share=0.2)
    split_small = dict(choose(small, params)[0].select("id", "split").iter_rows())
    split_big = dict(choose(big, params)[0].select("id", "split").iter_rows())
    assert all(split_big[i] == s for i, s in split_small.items())
    assert 0 < list(split_big.values()).count("eval") < 80


def test_fingerprint_ignores_order_but_not_content():
    rows = [{"id": "a", "messages": [{"role": "user", "content": "问"}]},
            {"id": "b", "messages": [{"role": "user", "content": "答"}]}]
    assert fingerprint(rows) == fingerprint(rows[::-1])
    changed = [rows[0], {"id": "b", "messages": [{"role": "user", "content": "改"}]}]
    assert fingerprint(rows) != fingerprint(changed)


def write_inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    curated = tmp_path / "curated.parquet"
    curated_frame({"zhihu": 12, "ruozhiba": 3}).with_columns(
        pl.when(pl.col("source") == "ruozhiba").then(pl.lit("")).otherwise(pl.col("output")).alias("output")
    ).write_parquet(curated)
    rewrites = tmp_path / "rewrites.parquet"
    curated_frame({"ruozhiba": 2}).with_columns(pl.col("id").str.replace("^ruozhiba", "rw")).with_columns(
        pl.lit("x").alias("parent_id")).write_parquet(rewrites)
    lock = tmp_path / "dvc.lock"
    lock.write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "validate": {"deps": [{"path": "data/dedup/records.parquet"}], "outs": [
            {"path": "data/validate", "md5": "abc.dir"}, {"path": "reports/validate", "md5": "r.dir"},
            {"path": "metrics/validate.json", "md5": "m"}]},
        "assemble": {"deps": [{"path": "data/validate"}], "outs": [{"path": "data/sft", "md5": "old.dir"}]},
        "train": {"deps": [{"path": "data/sft"}], "outs": [{"path": "models/sft", "md5": "m.dir"}]},
        "evaluate": {"deps": [{"path": "models/sft"}], "outs": [{"path": "reports/eval/predictions.jsonl"}]},
        "scrape@kept_source": {"deps": [{"path": "in.jsonl"}],
                               "outs": [{"path": "data/raw/kept_source", "md5": "k.dir"}]},
        "scrape@removed_source": {"deps": [{"path": "old.jsonl"}],  # stale: no longer in params.yaml
                                  "outs": [{"path": "data/raw/removed_source", "md5": "stale.dir"}]},
        "gone": {"deps": [{"path": "x"}], "outs": [{"path": "data/gone", "md5": "gone.dir"}]},  # stage deleted
        "calibration": {"deps": [{"path": "data/validate"}], "outs": [  # reports only: beside the set
            {"path": "reports/judge/calibration.json", "md5": "c"}, {"path": "metrics/calibration.json", "md5": "c"}]},
    }}))
    tmp_path.joinpath("dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "scrape": {"foreach": "${sources}", "do": {"cmd": "true", "outs": ["data/raw/${key}"]}},
        "validate": {"cmd": "true"}, "calibration": {"cmd": "true"}, "assemble": {"cmd": "true"}, "train": {"cmd": "true"},
        "evaluate": {"cmd": "true"}}}))
    tmp_path.joinpath("params.yaml").write_text(yaml.safe_dump({"sources": {"kept_source": {"kind": "cqia_jsonl"}}}))
    (tmp_path / "metrics").mkdir(exist_ok=True)
    (tmp_path / "metrics" / "validate.json").write_text('{"rows_in": 14, "rows_kept": 14, "rows_dropped": {}}')
    (tmp_path / "metrics" / "calibration.json").write_text('{"rows_in": 99, "rows_kept": 99, "rows_dropped": {}}')
    return curated, rewrites, lock


def test_assemble_writes_chat_files_card_and_manifest_byte_identically(tmp_path):
    curated, rewrites, lock = write_inputs(tmp_path)
    params = AssembleParams(eval_share=0.5, system_prompt=None)
    for name in ("a", "b"):
        metrics = assemble([curated, rewrites], None, tmp_path / name, tmp_path / f"{name}.json", params, lock,
                           SFT_SUITE, tmp_path / f"reports-{name}", {"min_rows": 5, "configured_sources": SOURCES, "max_chars": 16000,
                                                                 "chinese_sources": SOURCES})
    for file in ("train.jsonl", "eval.jsonl", "manifest.json", "README.md", "records.parquet", "rejected.parquet"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    assert metrics["rows_in"] == 17 and metrics["rows_dropped"] == {"assemble_empty_output": 3}
    lines = [json.loads(x) for f in ("train.jsonl", "eval.jsonl") for x in (tmp_path / "a" / f).read_text().splitlines()]
    assert len(lines) == 14
    first = lines[0]
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert first["messages"][0]["content"] == first["instruction"]
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["upstream"] == {"data/raw/kept_source": "k.dir", "data/validate": "abc.dir"}
    assert manifest["fingerprint"] == metrics["fingerprint"] == fingerprint(lines)
    assert "code_revision" not in manifest and set(manifest) == {"fingerprint", "counts", "upstream", "params", "judge",
                                                                 "scores"}
    card = DatasetCard.load(tmp_path / "a" / "README.md")
    assert "removed_source" not in card.text and "data/gone" not in card.text  # no stale or removed stage
    assert "| calibration |" not in card.text  # a stage of reports only is not a curation step
    header = card.data.to_dict()
    assert header["license"] == "other" and header["license_name"] == "per-source-licenses"
    assert header["language"] == ["zh"] and header["size_categories"] == ["n<1K"]
    assert header["task_categories"] == ["text-generation"] and header["source_datasets"] == ["original"]
    assert header["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "train.jsonl"}, {"split": "validation", "path": "eval.jsonl"}]}]
    for section in ("## Sources", "## Curation", "## Known limitations", "## Provenance", "## Licenses"):
        assert section in card.text
    assert "| validate | 14 | 14 | - |" in card.text  # counts per stage from the metrics dvc.lock names
    assert f"`{manifest['fingerprint']}`" in card.text


def parse_params(raw, subsets=None):
    context = {"subsets": SOURCES if subsets is None else subsets}
    return parse_section(AssembleParams, raw, "params.yaml: assemble", context)


def test_params_are_validated():
    with pytest.raises(ValueError, match=r"^params.yaml: assemble.eval_share: must be in \[0, 1\), got 1.5$"):
        parse_params({"eval_share": 1.5})
    with pytest.raises(ValueError, match="unknown key"):
        parse_params({"shuffle": True})


def test_records_sharing_an_instruction_never_straddle_the_split():
    frame = with_flags(curated_frame({"exam": 60}), False).with_columns(
        (pl.lit("同一道题") + (pl.int_range(pl.len()) // 2).cast(pl.String)).alias("instruction"))
    kept, _ = choose(frame, AssembleParams(eval_share=0.5))
    per_instruction = kept.group_by("instruction").agg(pl.col("split").n_unique().alias("n"))
    assert per_instruction["n"].max() == 1
    assert set(kept["split"]) == {"train", "eval"}


def test_a_failed_sft_suite_stops_assemble_with_the_expectation_named(tmp_path):
    from stages.lib.errors import StageError

    curated, rewrites, lock = write_inputs(tmp_path)
    with pytest.raises(StageError) as info:
        assemble([curated, rewrites], None, tmp_path / "out", tmp_path / "m.json", AssembleParams(eval_share=0.5), lock,
                 SFT_SUITE, tmp_path / "reports", {"min_rows": 1000, "configured_sources": SOURCES, "max_chars": 16000,
                                                 "chinese_sources": SOURCES})
    message = str(info.value)
    assert message.startswith("validation failed: suite 'sft' has 1 failed critical expectation(s) on 14 rows")
    assert "expect_table_row_count_to_be_between" in message
    assert (tmp_path / "reports" / "sft.md").is_file() and not (tmp_path / "out" / "train.jsonl").exists()


def test_a_wrong_type_is_one_line_naming_the_key():
    with pytest.raises(ValueError) as info:
        parse_params({"seed": "42"})
    assert str(info.value) == "params.yaml: assemble.seed: must be an integer, got '42'"


def test_a_non_finite_number_is_refused():
    with pytest.raises(ValueError) as info:
        parse_params({"select": {"overall": {"ppl": {"max": float("inf")}}}})
    assert str(info.value) == "params.yaml: assemble.select.overall.ppl.max: must be a finite number, got .inf"


def test_rewrite_share_out_of_range_is_refused():
    with pytest.raises(ValueError) as info:
        parse_params({"rewrite_share": 1.5})
    assert str(info.value) == "params.yaml: assemble.rewrite_share: must be in [0, 1] or null, got 1.5"


def test_an_unknown_key_suggests_the_close_one():
    with pytest.raises(ValueError) as info:
        parse_params({"eval_shares": 0.2})
    assert str(info.value) == ("params.yaml: assemble.eval_shares: unknown key (did you mean eval_share?); allowed: "
                               "decontam, eval_share, min_rows, min_zh_share, rewrite_share, rewrites, seed, select, "
                               "source_caps, system_prompt")


def test_a_source_cap_naming_no_configured_subset_is_refused():
    with pytest.raises(ValueError) as info:
        parse_params({"source_caps": {"zhihuu": 5}})
    assert str(info.value) == ("params.yaml: assemble.source_caps.zhihuu: names no configured subset "
                               "(did you mean zhihu?); configured: a, b, douban, ruozhiba, rw, zhihu")


def test_a_negative_source_cap_is_refused():
    with pytest.raises(ValueError) as info:
        parse_params({"source_caps": {"zhihu": -1}})
    assert str(info.value) == "params.yaml: assemble.source_caps.zhihu: must be a whole number >= 0, got -1"


def test_min_zh_share_out_of_range_is_refused():
    with pytest.raises(ValueError) as info:
        parse_params({"min_zh_share": 2})
    assert str(info.value) == "params.yaml: assemble.min_zh_share: must be between 0 and 1, got 2.0"


def test_min_zh_share_reaches_the_suite_only_when_set():
    bounds = CleanBounds(30000, ["zhihu"])
    assert parse_params({}).suite_parameters(["zhihu"], bounds) == {"min_rows": 1, "configured_sources": ["zhihu"],
                                                                    "max_chars": 30000, "chinese_sources": ["zhihu"]}
    assert parse_params({"min_zh_share": 0}).suite_parameters(["zhihu"], bounds)["min_zh_share"] == 0.0


def test_the_manifest_keeps_numbers_as_written():
    assert parse_params({"eval_share": 0}).mix()["eval_share"] == 0
    assert repr(parse_params({"select": {"overall": {"ppl": {"max": 50}}}}).mix()["select"]["overall"]["ppl"]["max"]) \
        == "50"


def test_the_stage_checks_source_caps_against_the_sources_section(tmp_path):
    from click.testing import CliRunner

    from stages.assemble import cli

    data = tmp_path / "zhihu.jsonl"
    data.write_text("", encoding="utf-8")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "sources": {"cqia_zhihu": {"kind": "cqia_jsonl", "path": str(data), "subset": "zhihu", "license": "CC0-1.0"}},
        "assemble": {"source_caps": {"douban": 3}}}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--in", str(tmp_path / "records.parquet"), "--out", str(tmp_path / "out"),
                                      "--metrics", str(tmp_path / "m.json"), "--reports", str(tmp_path / "r"),
                                      "--params", str(params)])
    assert result.exit_code == 1
    assert result.output == (f"Error: {params}: assemble.source_caps.douban: names no configured subset; "
                             "configured: zhihu\n")
