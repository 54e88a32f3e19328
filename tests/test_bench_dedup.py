"""The dedup benchmarks: bench/dedup.py's corpus, scores and report section (that benchmark runs by hand),
and bench/dedup_core.py end to end on a small corpus."""

import numpy as np
import polars as pl

from bench.dedup_corpus import build_corpus
from bench.dedup_report import accuracy_rows, write_section
from stages.lib.record import RECORD_SCHEMA


def test_corpus_has_planted_variants_with_labels():
    records, labels = build_corpus(400, seed=1)
    assert records.schema == RECORD_SCHEMA and records.height == labels.height == 400
    assert records["id"].n_unique() == 400
    assert set(labels["kind"]) >= {"base", "substitute", "reorder", "punct", "boilerplate", "exact"}
    joined = labels.join(records, on="id").join(records.select("id", pl.col("output").alias("base_output")),
                                                left_on="family", right_on="id")
    exact = joined.filter(pl.col("kind") == "exact")
    assert (exact["output"] == exact["base_output"]).all()
    generated = records.filter(pl.col("id").is_in(labels.filter(pl.col("kind") == "base")["id"].implode()))
    assert generated["output"].str.len_chars().median() > 300


def test_accuracy_rows_count_pairs_against_the_threshold():
    pool = np.array([1, 2, 3, 4])
    jaccard = np.array([0.95, 0.85, 0.75, 0.5])
    rows = accuracy_rows(pool, jaccard, {"m": np.array([1, 3])}, 0.8)
    (row,) = rows
    assert (row["pairs"], row["true"]) == (2, 2)
    assert row["precision"] == 0.5 and row["recall"] == 0.5 and row["f1"] == 0.5
    assert row["near_true"] == 1 and row["near_recall"] == 0.0 and row["near_precision"] == 0.0


def test_write_section_replaces_only_the_dedup_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## clean\n\nkeep me\n\n## dedup\n\nstale figures\n\n"
                       "## other\n\nme too\n")
    speed = [{"n": 10, "method": "ours", "seconds": 1.0, "peak_rss_mb": 10.0, "load": 0.5},
             {"n": 10, "method": "ds-best", "seconds": 4.0, "peak_rss_mb": 10.0, "load": 0.5},
             {"n": 10, "method": "ds-record", "extrapolated_seconds": 100.0}]
    write_section(results, speed, {}, "test machine", "python bench/dedup.py --sizes 10")
    text = results.read_text()
    assert "keep me" in text and "me too" in text and "stale figures" not in text
    assert "| 10 | ours | 1.0 | 10 | 10 | 4.0 | 100 (vs extrapolated) | 0.5 |" in text
    assert "~100 (extrapolated)" in text


def test_the_core_benchmark_runs_both_methods_and_checks_the_signatures(tmp_path):
    """bench/dedup_core.py end to end on a small corpus: fresh processes, the signature check, the table."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "bench/dedup_core.py", "--size", "300", "--repeat", "1", "--work",
                          str(tmp_path)], cwd=root, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "signatures equal datasketch's: True" in out.stdout
    rows = [line.split(" | ") for line in out.stdout.splitlines() if line.startswith("| 300 |")]
    assert [row[1] for row in rows] == ["core", "ds-best"]
    for row in rows:  # median seconds, docs/s and the ratio to ds-best are all measured figures
        assert float(row[2]) > 0 and int(row[3].replace(",", "")) > 0 and float(row[4]) > 0


def run_bench(*args: str, timeout: int = 600) -> str:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_sketch_benchmark_times_every_scheme_on_the_same_hashes():
    out = run_bench("bench/hashmin.py", "--docs", "64", "--chars", "120", "--repeat", "2")
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in out.splitlines() if line.startswith("| ")}
    assert {"affine32", "oph"} <= set(rows) and "7,424 shingles (pre-hashed)" in out  # 64 x (120 - 4)
    assert float(rows["affine32"][3]) == 1.0 and float(rows["oph"][1]) > 0 and float(rows["oph"][3]) > 0


def test_the_recall_benchmark_reports_pairs_at_the_threshold_and_the_planted_corpus(tmp_path):
    out = run_bench("bench/sketch_recall.py", "--pairs", "40", "--docs", "400", "--work", str(tmp_path))
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith("| 5 |") or line.startswith("| 2000 |")]
    assert [row[1] for row in rows] == ["0.800", "0.800"]  # exactly the threshold
    corpus = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in out.splitlines()
              if line.startswith("| oph |") or line.startswith("| affine32 |")}
    assert set(corpus) == {"oph", "affine32"}
    assert all(float(row[4]) == 1.0 for row in corpus.values())  # precision: every verified pair is true


def test_the_incremental_benchmark_checks_that_all_runs_write_the_same_files(tmp_path):
    out = run_bench("bench/dedup_incremental.py", "--records", "1500", "--added", "30", "--repeat", "1",
                    "--work", str(tmp_path))
    assert "outputs byte-identical across all dedup runs: True" in out
    rows = {line.split(" | ")[1]: line.split(" | ") for line in out.splitlines() if line.startswith("| 1,500 + 30 |")}
    assert set(rows) == {"incremental", "rebuild", "full", "floor"} and float(rows["full"][5]) == 1.0
    assert "floor writes 1,530 records, a full run keeps " in out
    runs = [line for line in out.splitlines() if line.startswith('{"round"')]
    assert '"reused_records": 1500, "sketched_records": 30' in next(r for r in runs if '"incremental"' in r)
