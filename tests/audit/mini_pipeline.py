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


# The fake model of `evaluate`: questions whose answers the test controls. Per task, N questions of which
# the baseline gets the first BASE_RIGHT[task] right (in a fixed shuffled order); a rule flips `up` wrong
# answers to right and `down` right ones to wrong (margins move with them); `train.seed` shifts the rule's
# effect on logic by SEED_SHIFT, and flips the same few history questions for every rule (cancels in pairs).
TASKS = {"three": {"history": 100, "logic": 100, "math": 100}, "small": {"history": 100, "tiny": 4},
         "geo": {"geography": 100}}
BASE_RIGHT = {"history": 50, "logic": 30, "math": 40, "tiny": 2, "geography": 60}
PLANTED = {"none": {}, "counterintuitive_thinking": {"logic": (20, 0), "math": (5, 5)},
           "blurring_boundaries": {"history": (4, 4), "logic": (4, 4), "math": (4, 4), "tiny": (1, 0)}}
SEED_SHIFT = {42: 0, 1: -4, 2: 4}


def _order(*key: object) -> list[int]:
    import hashlib

    return sorted(range(1000), key=lambda i: hashlib.sha256(repr((*key, i)).encode()).hexdigest())


def fake_results(rule: str, seed: int, tasks: str, ppl_bound: object) -> dict:
    from stages.evaluate.scoring import Scored
    from stages.evaluate.tasks import LETTERS, Question

    by_task = {}
    for task, n in TASKS[tasks].items():
        order = [i for i in _order(task) if i < n]
        right = set(order[:BASE_RIGHT[task]])
        up, down = PLANTED[rule].get(task, (0, 0))
        if task == "logic" and rule == "counterintuitive_thinking":
            up += SEED_SHIFT[seed]
        if task == "math" and ppl_bound is not None:
            up, down = up + 2, down + 2
        flips = [i for i in _order(task, rule) if i < n]
        gained, lost = [i for i in flips if i not in right][:up], [i for i in flips if i in right][:down]
        right = (right | set(gained)) - set(lost)
        noise = [i for i in _order(task, "seed", seed) if i < n][:3] if task == "history" and seed != 42 else []
        right ^= set(noise)
        scored = []
        for i in range(n):
            answer = LETTERS[i % 4]
            gap = 0.3 + (i % 50) / 100
            margin = gap if i in right else -gap
            logliks = [-2.0] * 4
            logliks[(i + 1) % 4] = -1.5
            logliks[i % 4] = round(-1.5 + margin, 4)
            where = f"tasks/{task}.csv:{i + 1}"
            question = Question(task, f"{task} question {i}?", ("a", "b", "c", "d"), answer, where)
            scored.append(Scored(question, tuple(logliks)))
        by_task[task] = scored
    return by_task


def ppl_max(p: dict) -> object:
    """assemble.select.overall.ppl.max of the run's params (None when unset)."""
    return p["assemble"].get("select", {}).get("overall", {}).get("ppl", {}).get("max")


def evaluate() -> None:
    """metrics/eval.json, reports/eval/{predictions.jsonl,tasks.csv} of the fake model (the real evaluate writers),
    metrics/rewrite.json and metrics/assemble.json as the rule and selection would leave them."""
    from stages.evaluate.evaluation import evaluation_metrics, predictions_jsonl, tasks_csv

    p = params()
    rule, seed, evaluate_ = p["rule"], p["train"]["seed"], p.get("evaluate", {})
    by_task = fake_results(rule, seed, evaluate_.get("tasks", "three"), ppl_max(p))
    metrics = {**evaluation_metrics(by_task, "letter"), "toy": False}
    write_json(metrics, "metrics/eval.json")
    if evaluate_.get("predictions", True):
        write_text(predictions_jsonl(by_task), "reports/eval/predictions.jsonl")
        write_text(tasks_csv(by_task, metrics), "reports/eval/tasks.csv")
    kept = {"none": 0, "counterintuitive_thinking": 6, "blurring_boundaries": 0}[rule]
    write_json({"rows_in": 6, "rows_kept": kept, "rows_dropped": {"rewrite_unparseable": 6 - kept}},
               "metrics/rewrite.json")
    familiar = {"none": 21.5, "counterintuitive_thinking": 14.25, "blurring_boundaries": 21.5}[rule]
    write_json({"rows_in": 250, "rows_kept": 240 + kept - (30 if ppl_max(p) is not None else 0),
                "familiarity": {"train_ppl_mean": familiar}}, "metrics/assemble.json")


if __name__ == "__main__":
    {"clean": clean, "dedup": dedup, "rewrite": rewrite, "assemble": assemble, "evaluate": evaluate}[sys.argv[1]]()
