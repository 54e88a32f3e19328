"""Stage `dedup`: planted duplicates, keeper priority, exhaustive check against brute force, determinism, CLI."""

import itertools
import json
import random
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from stages.dedup.__main__ import cli
from stages.dedup.stage import CLUSTERS_SCHEMA, dedup_records, run_dedup
from stages.dedup.config import DedupParams
from stages.dedup.shingles import dedup_text
from stages.lib.errors import StageError
from stages.lib.record import RECORD_SCHEMA, REJECTED_SCHEMA
from tests.dedup.helpers import frame, random_text, record, reference_jaccard, substitute

PARAMS = DedupParams()


def planted() -> pl.DataFrame:
    rng = random.Random(11)
    base = [random_text(rng, 300) for _ in range(8)]
    base[5] += " Python 3"
    base[6] += " end  of text"
    rows = [record(f"r{i:02d}", text) for i, text in enumerate(base)]
    rows += [
        record("x00-copy", base[0], human_verified=True),                 # exact copy, verified: it is kept
        record("x01-human", substitute(base[1], 0.01, rng), answer_from="human"),  # near copy written by a human
        record("x02-longer", base[2] + "希望这个回答对你有帮助。"),             # near copy with a longer output
        record("x03-a", substitute(base[3], 0.01, rng)),                   # two near copies, same priority:
        record("x03-b", substitute(base[3], 0.01, rng)),                   # the smallest id (r03) is kept
        record("x04-far", substitute(base[4], 0.3, rng)),                  # too different: kept
        record("x05-case", base[5].replace("Python", "PYTHON")),          # case differs: near, jaccard 1.0
        record("x06-ws", base[6].replace(" end  of", "\tend\n\nof")),       # whitespace differs: exact
        record("empty-1", "", instruction=""), record("empty-2", "", instruction=""),
    ]
    return frame(rows)


def by_id(df: pl.DataFrame) -> dict[str, dict]:
    return {row["id"]: row for row in df.iter_rows(named=True)}


def test_planted_duplicates_are_found_and_the_keeper_priority_holds():
    result = dedup_records(planted(), PARAMS)
    rejected = by_id(result.rejected)
    assert set(rejected) == {"r00", "r01", "r02", "x03-a", "x03-b", "x05-case", "x06-ws"}
    assert rejected["r00"]["reason"] == "dedup_exact" and rejected["r00"]["detail"] == "exact duplicate of x00-copy"
    assert rejected["r01"]["reason"] == "dedup_near"
    assert rejected["r01"]["detail"].startswith("near duplicate of x01-human (jaccard 0.")
    assert rejected["r02"]["detail"].startswith("near duplicate of x02-longer (")
    assert rejected["x03-a"]["detail"].startswith("near duplicate of r03 (")
    assert rejected["x03-b"]["detail"].startswith("near duplicate of r03 (")
    assert rejected["x05-case"]["detail"] == "near duplicate of r05 (jaccard 1.0)"
    assert rejected["x06-ws"]["detail"] == "exact duplicate of r06"
    kept = set(result.kept["id"])
    assert {"x00-copy", "x01-human", "x02-longer", "r03", "x04-far", "empty-1", "empty-2"} <= kept
    assert result.kept["transforms"].to_list() == [[]] * result.kept.height  # dedup adds no transform
    clusters = by_id(result.clusters)
    assert result.clusters.schema == CLUSTERS_SCHEMA
    assert set(clusters) == set(rejected) | {"x00-copy", "x01-human", "x02-longer", "r03", "r05", "r06"}
    assert clusters["r00"] | {} == {"id": "r00", "cluster_id": "r00", "kept_id": "x00-copy", "jaccard_to_kept": 1.0}
    assert clusters["x03-b"]["cluster_id"] == "r03" and clusters["r03"]["jaccard_to_kept"] == 1.0
    assert PARAMS.threshold <= clusters["r01"]["jaccard_to_kept"] < 1.0
    assert result.stats["exact_duplicates"] == 2 and result.stats["near_duplicates"] == 5
    assert result.stats["clusters"] == 6 and result.stats["empty_text"] == 2


def near_threshold_corpus(seed: int = 3) -> pl.DataFrame:
    """Families of variants at edit rates from 0 to 8%: many pairs sit just above or below 0.8."""
    rng = random.Random(seed)
    rows = []
    for fam in range(6):
        base = random_text(rng, rng.randint(60, 400))
        rows.append(record(f"f{fam}-base", base))
        for k in range(6):
            rows.append(record(f"f{fam}-v{k}", substitute(base, rng.uniform(0.0, 0.08), rng),
                               human_verified=rng.random() < 0.3))
    rows += [record("short-1", "问答"), record("short-2", "问答"), record("short-3", "问")]
    return frame(rows)


@pytest.mark.parametrize("threshold", [0.8, 0.6])
def test_clusters_equal_brute_force_components_and_nothing_is_dropped_without_a_partner(threshold):
    records = near_threshold_corpus()
    params = DedupParams(threshold=threshold, answer_threshold=None)  # the LSH path against brute force
    result = dedup_records(records, params)
    texts = records.select(dedup_text(params.fields)).to_series().to_list()
    ids = records["id"].to_list()
    sim = {(i, j): reference_jaccard(texts[i], texts[j], params.ngram)
           for i, j in itertools.combinations(range(len(ids)), 2)}
    edges = [(i, j) for (i, j), s in sim.items() if s >= threshold]
    assert len(edges) > 20 and any(threshold - 0.1 <= s < threshold for s in sim.values())  # the case is not trivial
    # Nothing is dropped that has no partner at or above the threshold.
    for rid in result.rejected["id"]:
        i = ids.index(rid)
        assert any(sim[min(i, j), max(i, j)] >= threshold for j in range(len(ids)) if j != i), rid
    # With exact verification the clusters are exactly the brute-force components.
    left, right = zip(*edges)
    graph = coo_matrix(([1] * len(edges), (left, right)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    expected = {frozenset(ids[i] for i in range(len(ids)) if labels[i] == lab) for lab in set(labels)}
    expected = {c for c in expected if len(c) > 1}
    found = {frozenset(g["id"]) for g in result.clusters.partition_by("cluster_id", as_dict=False)}
    assert found == expected
    for row in result.pairs.iter_rows(named=True):  # every verified pair is a true pair
        assert row["jaccard"] == sim[tuple(sorted((ids.index(row["id_a"]), ids.index(row["id_b"]))))] >= threshold
    for row in result.clusters.iter_rows(named=True):
        i, k = ids.index(row["id"]), ids.index(row["kept_id"])
        assert row["jaccard_to_kept"] == pytest.approx(1.0 if i == k else sim[min(i, k), max(i, k)], abs=1e-12)


def test_estimate_mode_marks_its_details():
    result = dedup_records(planted(), DedupParams(verify="estimate"))
    near = result.rejected.filter(pl.col("reason") == "dedup_near")
    assert near.height >= 3 and all(" (estimated jaccard " in d for d in near["detail"])


def test_duplicate_ids_are_refused():
    records = planted()
    with pytest.raises(StageError, match="ids are not unique"):
        dedup_records(pl.concat([records, records.head(1)]), PARAMS)


def test_outputs_are_byte_identical_across_runs_input_orders_and_thread_counts(tmp_path):
    records = planted()
    records.write_parquet(tmp_path / "a.parquet")
    records.sample(fraction=1.0, shuffle=True, seed=4).write_parquet(tmp_path / "b.parquet")
    # c: a second run on a; b: shuffled input, small batches on 3 threads
    for name, params in (("a", PARAMS), ("b", DedupParams(batch_size=3, workers=3)), ("c", PARAMS)):
        source = tmp_path / ("a.parquet" if name == "c" else f"{name}.parquet")
        metrics, _ = run_dedup(source, tmp_path / name, tmp_path / f"{name}.json", params)
        assert metrics["rows_in"] == metrics["rows_kept"] + sum(metrics["rows_dropped"].values()) == records.height
    for file in ("records.parquet", "rejected.parquet", "clusters.parquet"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "c" / file).read_bytes()
    assert pl.read_parquet(tmp_path / "a" / "records.parquet").schema == RECORD_SCHEMA
    assert pl.read_parquet(tmp_path / "a" / "rejected.parquet").schema == REJECTED_SCHEMA


def test_small_read_batches_and_verification_chunks_give_the_same_files(tmp_path, monkeypatch):
    """The streaming path (several input batches, several row groups of clusters, pairs verified in many
    chunks from the spill file) writes what one batch does."""
    from stages.dedup import source, stage, store

    records = near_threshold_corpus()
    records.write_parquet(tmp_path / "in.parquet")
    params = DedupParams(answer_threshold=0.3)
    run_dedup(tmp_path / "in.parquet", tmp_path / "one", tmp_path / "one.json", params)
    monkeypatch.setattr(source, "READ_ROWS", 4)
    monkeypatch.setattr(store, "CHUNK_PAIRS", 3)
    monkeypatch.setattr(stage, "CLUSTER_ROWS", 5)
    metrics, run = run_dedup(tmp_path / "in.parquet", tmp_path / "many", tmp_path / "many.json", params)
    assert metrics["dedup"]["near_duplicates"] > 10 and run.pairs.height > 10
    for file in ("records.parquet", "rejected.parquet", "clusters.parquet"):
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "many" / file).read_bytes(), file
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "many.json").read_bytes()


def write_params(path: Path, **changes) -> Path:
    section = {"fields": ["instruction", "input", "output"], "ngram": 5, "num_perm": 128, "seed": 1,
               "threshold": 0.8, "verify": "exact"} | changes
    path.write_text(json.dumps({"dedup": section}), encoding="utf-8")  # JSON is YAML
    return path


def test_cli_writes_the_contract_outputs_and_metrics(tmp_path):
    planted().write_parquet(tmp_path / "in.parquet")
    params = write_params(tmp_path / "params.yaml")
    args = ["--in", str(tmp_path / "in.parquet"), "--out", str(tmp_path / "out"),
            "--metrics", str(tmp_path / "m.json"), "--params", str(params)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "dedup: 18 in, 11 kept, 7 dropped (dedup_exact 2, dedup_near 5)" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "clusters.parquet", "records.parquet", "rejected.parquet"]
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["rows_dropped"] == {"dedup_exact": 2, "dedup_near": 5}
    assert metrics["dedup"]["bands"] == 21 and metrics["dedup"]["rows"] == 6
    assert "seconds_by_phase" not in metrics and "seconds" not in metrics
    timings = json.loads((tmp_path / "m.timings.json").read_text())
    assert set(timings["phases"]) == {"read", "dedup"}


def test_cli_errors_are_one_line(tmp_path):
    params = write_params(tmp_path / "params.yaml", ngram=0)
    args = ["--in", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "out"), "--metrics",
            str(tmp_path / "m.json"), "--params"]
    result = CliRunner().invoke(cli, [*args, str(params)])
    assert result.exit_code == 1 and "Error: " in result.output and "dedup.ngram: must be an integer" in result.output
    result = CliRunner().invoke(cli, [*args, str(write_params(tmp_path / "ok.yaml"))])
    assert result.exit_code == 1 and "missing.parquet: input not found" in result.output


def test_cli_keeps_an_index_and_reuses_it(tmp_path):
    """--index: the first run says there is none (one line on stderr) and writes it; the second reuses it
    and writes the same files; a changed param is named, and everything is computed again."""
    planted().write_parquet(tmp_path / "in.parquet")
    index = tmp_path / "dedup_index"

    def run(name, params):
        args = ["--in", str(tmp_path / "in.parquet"), "--out", str(tmp_path / name), "--metrics",
                str(tmp_path / f"{name}.json"), "--params", str(params), "--index", str(index)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        return result, json.loads((tmp_path / f"{name}.json").read_text())["dedup_index"]

    first, note = run("one", write_params(tmp_path / "params.yaml"))
    assert first.stderr == f"dedup: not reusing the index: there is no index at {index}; computing every record\n"
    assert note["used"] is False and sorted(p.name for p in index.iterdir()) == [
        "answers.arrow", "index.json", "keys.npy", "records.arrow", "texts.arrow"]
    second, note = run("two", write_params(tmp_path / "params.yaml"))
    assert second.stderr == "" and note["used"] and note["reused_records"] == 18 and note["sketched_records"] == 0
    for file in ("records.parquet", "rejected.parquet", "clusters.parquet"):
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes()
    third, note = run("three", write_params(tmp_path / "other.yaml", ngram=4))
    assert third.stderr == ("dedup: not reusing the index: it was built with ngram 5, now 4; computing every "
                            "record\n") and note["reason"] == "it was built with ngram 5, now 4"


def test_cli_help_has_an_example():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "python -m stages.dedup --in data/normalize/records.parquet" in result.output


def test_records_sharing_a_task_template_with_different_answers_are_not_duplicates():
    from stages.lib.record import make_id, records_frame

    template = ("请判断下面这段来自手机银行的客户留言的意图，并从以下类别中选择一个：冻结账户、修改地址、缴纳账单、"
                "查询余额、挂失补卡、境外消费、转账限额、贷款咨询、开通网银、注销账户、信用卡还款、理财赎回、"
                "外汇兑换、积分查询。留言以 <> 括起，请只输出类别，以 {\"意图\": 类别} 的格式作答，不要解释。")

    def rec(key, said, label):
        return {"id": make_id("t", key), "source": "finance", "source_uri": f"t:{key}", "raw_sha256": "0" * 64,
                "fetched_at": None, "license": "CC0", "instruction": template, "input": f"留言：<{said}>",
                "output": f'{{"意图": "{label}"}}', "task_type": {"major": ["分类"], "minor": ["意图"]},
                "domain": ["金融"], "metadata": "", "answer_from": "human", "human_verified": False,
                "copyright": "", "transforms": []}

    records = records_frame([rec("1", "卡冻结", "冻结账户"), rec("2", "改地址", "修改地址"),
                             rec("3", "卡冻结吧", "冻结账户")])
    result = dedup_records(records, DedupParams())
    assert result.kept.height == 2 and result.rejected["reason"].to_list() == ["dedup_near"]
    off = dedup_records(records, DedupParams(answer_threshold=None))
    assert off.kept.height == 1  # without the answer check the shared template makes all three one cluster
