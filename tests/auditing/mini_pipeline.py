"""A small stand-in for the stages after `scrape`, used only by the audit tests.

The audit must work with whatever stages a revision has, so its tests build a
temp repo whose `dvc.yaml` has the project's real `scrape` stage followed by
these tiny ones, which follow the stage contract (stages.lib.contract):

- clean:    drop records whose output is shorter than `clean.min_output_chars`
            (`clean_too_short`); mask mobile numbers (`pii:phone`).
- dedup:    exact duplicates of (instruction, output): keep the smallest id, reject
            the others (`dedup_exact`, detail names the kept id); `clusters.parquet`.
- rewrite:  when `rule` is not `none`, one new record per question (instruction
            ending in ？) with `parent_id`, `rule`, `model`.
- assemble: `data/sft/train.jsonl` and `eval.jsonl` (sources in `assemble.eval_sources`
            go to eval), each line {"id", "messages"}, sorted by id; manifest.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import polars as pl
import yaml

from stages.lib.contract import Filter, split_by_filters, write_stage_outputs
from stages.lib.io import write_json, write_text
from stages.lib.record import REJECTED_SCHEMA, make_id, reject_frame

PHONE = r"1[3-9]\d{9}"
EXTRA = ("parent_id", "rule", "model")


def params() -> dict:
    return yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))


def add_transform(frame: pl.DataFrame, when: pl.Expr, name: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(when).then(pl.col("transforms").list.concat(pl.lit([name]))).otherwise(pl.col("transforms"))
        .alias("transforms")
    )


def clean() -> None:
    started = time.perf_counter()
    frame = pl.concat([pl.read_parquet(p) for p in sorted(Path("data/raw").glob("*/records.parquet"))])
    limit = params()["clean"]["min_output_chars"]
    length = pl.col("output").str.len_chars()
    kept, rejected = split_by_filters(frame, [Filter(
        "clean_too_short", length < limit,
        pl.format("output has {} chars < min_output_chars {}", length, pl.lit(limit)),
    )])
    kept = add_transform(kept, pl.col("output").str.contains(PHONE), "pii:phone")
    kept = kept.with_columns(pl.col("output").str.replace_all(PHONE, "<PHONE>"))
    write_stage_outputs("clean", "data/clean", "metrics/clean.json", kept=kept, rejected=rejected,
                        rows_in=frame.height, started=started)


def dedup() -> None:
    started = time.perf_counter()
    frame = pl.read_parquet("data/clean/records.parquet")
    keyed = frame.with_columns(
        pl.col("id").min().over("instruction", "output").alias("kept_id"),
        pl.len().over("instruction", "output").alias("size"),
    )
    dup = pl.col("id") != pl.col("kept_id")
    rejected = reject_frame(keyed.filter(dup), "dedup_exact", pl.format("exact duplicate of {}", pl.col("kept_id")))
    clusters = keyed.filter(pl.col("size") > 1).select(
        "id", pl.format("c-{}", pl.col("kept_id")).alias("cluster_id"), "kept_id",
        pl.lit(1.0).alias("jaccard_to_kept"),
    ).sort("id")
    write_stage_outputs("dedup", "data/dedup", "metrics/dedup.json", kept=keyed.filter(~dup),
                        rejected=rejected, rows_in=frame.height, started=started)
    clusters.write_parquet("data/dedup/clusters.parquet")


def rewrite() -> None:
    started = time.perf_counter()
    rule = params()["rule"]
    frame = pl.read_parquet("data/dedup/records.parquet")
    picked = frame.filter(pl.col("instruction").str.ends_with("？")) if rule != "none" else frame.head(0)
    new = picked.with_columns(
        pl.col("id").alias("parent_id"),
        pl.col("id").map_elements(lambda p: make_id("rewrite", f"{p}:{rule}"), return_dtype=pl.String).alias("id"),
        pl.format("（{}）{}", pl.lit(rule), pl.col("instruction")).alias("instruction"),
        pl.col("transforms").list.concat(pl.lit([f"rewrite:{rule}"])).alias("transforms"),
        pl.lit(rule).alias("rule"),
        pl.lit("mini-model").alias("model"),
    )
    empty = pl.DataFrame(schema={**REJECTED_SCHEMA, "parent_id": pl.String, "rule": pl.String, "model": pl.String})
    write_stage_outputs("rewrite", "data/rewrite", "metrics/rewrite.json", kept=new, rejected=empty,
                        rows_in=new.height, started=started, extra_columns=EXTRA)


def assemble() -> None:
    eval_sources = set(params()["assemble"]["eval_sources"])
    frame = pl.concat([
        pl.read_parquet("data/dedup/records.parquet"),
        pl.read_parquet("data/rewrite/records.parquet").drop(*EXTRA),
    ]).sort("id")
    splits: dict[str, list[str]] = {"train": [], "eval": []}
    for row in frame.iter_rows(named=True):
        line = {"id": row["id"], "messages": [
            {"role": "user", "content": row["instruction"]}, {"role": "assistant", "content": row["output"]}]}
        splits["eval" if row["source"] in eval_sources else "train"].append(json.dumps(line, ensure_ascii=False))
    for name, lines in splits.items():
        write_text("".join(f"{x}\n" for x in lines), f"data/sft/{name}.jsonl")
    write_json({name: len(lines) for name, lines in splits.items()}, "data/sft/manifest.json")


def evaluate() -> None:
    """metrics/eval.json from the `rule` param alone (a stand-in for training and evaluation)."""
    rule = params()["rule"]
    table = {
        "none": {"history": 0.50, "math": 0.40, "logic": 0.30},
        "counterintuitive_thinking": {"history": 0.55, "math": 0.38, "logic": 0.42},
        "blurring_boundaries": {"history": 0.47, "math": 0.45, "logic": 0.30},
    }[rule]
    stderr = {"history": 0.05, "math": 0.05, "logic": 0.04 if rule == "none" else 0.05}
    write_json({"overall": round(sum(table.values()) / len(table), 4), "tasks": table, "stderr": stderr,
                "overall_stderr": 0.03, "n": {task: 100 for task in table}}, "metrics/eval.json")
    kept = {"none": 0, "counterintuitive_thinking": 6, "blurring_boundaries": 0}[rule]
    write_json({"rows_in": 6, "rows_kept": kept, "rows_dropped": {"rewrite_unparseable": 6 - kept}},
               "metrics/rewrite.json")


if __name__ == "__main__":
    {"clean": clean, "dedup": dedup, "rewrite": rewrite, "assemble": assemble, "evaluate": evaluate}[sys.argv[1]]()
