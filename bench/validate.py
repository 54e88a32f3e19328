"""Benchmark: validating synthetic canonical records with the `records` suite (stage `validate`).

Generates clean records (Chinese question/answer text assembled from a pool of
sentences, 5% with a fenced code block, lengths like COIG-CQIA: instructions
~10-60 characters, answers ~40-900), then times `run_suite` on every row for
each size, split into derived columns (polars), conversion to pandas and GX.
GX's import and context set-up are timed separately, once.

    python bench/validate.py                     # 100k and 1M rows
    python bench/validate.py --sizes 10000 --no-write
Appends a `## validate` section to bench/RESULTS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stages.lib.record import RECORD_SCHEMA  # noqa: E402

SENTENCES = [
    "今天天气很好，我们一起去公园散步吧。", "机器学习是人工智能的一个重要分支。", "请先理解题目的条件，再一步一步推导。",
    "长城东起山海关，西至嘉峪关，全长两万多千米。", "番茄炒蛋要先炒鸡蛋，再下番茄，最后调味。",
    "这部电影讲述了一个普通家庭几十年的悲欢离合。", "光合作用把二氧化碳和水转化为有机物并释放氧气。",
    "如果遇到困难，可以先和朋友心平气和地沟通。", "在 Python 中可以用列表推导式让代码更简洁。",
    "北京是中国的首都，也是全国的政治和文化中心。", "多读多写是提高写作能力最可靠的办法。",
    "秋天叶绿素分解，叶黄素显现，所以树叶变黄。", "答案是 B，因为只有它同时满足两个条件。",
    "运动前要热身，运动后要拉伸，避免肌肉拉伤。", "古代的五声音阶常用来记录民间乐曲。",
]
QUESTIONS = ["为什么秋天的树叶会变黄？", "新手学做饭应该从哪里开始？", "请简要介绍长城。", "如何提高写作能力？",
             "计算 12 乘以 15 等于多少？", "用一句话介绍电影《活着》。", "朋友借钱不还怎么办？",
             "JavaScript 中如何判断一个变量是数组？", "什么是光合作用？", "运动前后需要注意什么？"]
CODE = "\n```js\nconst ok = Array.isArray(value);\ndocument.body.innerHTML = '<div>' + ok + '</div>';\n```\n"
SOURCES = ["zhihu", "douban", "wiki", "exam", "segmentfault", "ruozhiba", "human_value", "xhs"]


def synthetic_records(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    pool = pl.Series(SENTENCES)
    k = 24
    picks = rng.integers(0, len(SENTENCES), size=(n, k))
    used = rng.integers(2, k + 1, size=n)  # 2..24 sentences: ~40-900 characters
    parts = pl.DataFrame({f"s{j}": pool.gather(picks[:, j]) for j in range(k)})
    output = parts.select(
        pl.concat_str([pl.when(pl.lit(used) > j).then(pl.col(f"s{j}")).otherwise(pl.lit("")) for j in range(k)])
    ).to_series()
    with_code = rng.random(n) < 0.05
    output = pl.select(pl.when(pl.lit(with_code)).then(output + CODE).otherwise(output)).to_series()
    source = pl.Series(SOURCES).gather(rng.integers(0, len(SOURCES), size=n))
    frame = pl.DataFrame({
        "id": pl.select(pl.format("{}-{}", source, pl.int_range(n).map_batches(
            lambda s: s.cast(pl.String).str.zfill(16)))).to_series(),
        "source": source,
        "instruction": pl.Series(QUESTIONS).gather(rng.integers(0, len(QUESTIONS), size=n))
        + pl.Series(rng.integers(1, 10_000, size=n)).cast(pl.String),
        "output": output,
    })
    return frame.select(
        "id", "source",
        pl.format("data/sample/{}.jsonl:{}", "source", pl.int_range(n) + 1).alias("source_uri"),
        pl.lit("0" * 64).alias("raw_sha256"), pl.lit("2026-11-01").alias("fetched_at"),
        pl.lit("CC0-1.0").alias("license"),
        "instruction", pl.lit("").alias("input"), "output",
        pl.struct(pl.lit(["问答"]).alias("major"), pl.lit(["知乎问答"]).alias("minor")).alias("task_type"),
        pl.lit(["通用"]).alias("domain"), pl.lit("").alias("metadata"), pl.lit("human").alias("answer_from"),
        pl.lit(True).alias("human_verified"), pl.lit("").alias("copyright"),
        pl.lit([], dtype=pl.List(pl.String)).alias("transforms"),
    ).cast(dict(RECORD_SCHEMA))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-write", action="store_true", help="Do not append to bench/RESULTS.md.")
    args = parser.parse_args()

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    clock = time.perf_counter()
    import great_expectations  # noqa: F401

    gx_import = time.perf_counter() - clock
    from stages.validate import run_suite
    from stages.validate.runner import gx_context

    clock = time.perf_counter()
    gx_context()
    context_s = time.perf_counter() - clock
    print(f"GX import {gx_import:.2f} s, ephemeral context {context_s:.2f} s")

    rows = []
    for n in args.sizes:
        clock = time.perf_counter()
        frame = synthetic_records(n)
        generated = time.perf_counter() - clock
        clock, cpu = time.perf_counter(), time.process_time()
        result = run_suite(frame, "records", {"min_rows": 1, "configured_sources": SOURCES})
        total, cpu = time.perf_counter() - clock, time.process_time() - cpu
        if not result.success or result.failed():
            raise SystemExit(f"synthetic data should pass: {[o.label for o in result.failed()]}")
        mb = frame.estimated_size() / 1e6
        rows.append((n, mb, total, cpu, result.seconds, n / total))
        print(f"{n:>9,} rows ({mb:,.0f} MB, generated in {generated:.1f} s): validated in {total:.1f} s "
              f"(derive {result.seconds['derive']:.1f}, to_pandas {result.seconds['to_pandas']:.1f}, "
              f"gx {result.seconds['gx']:.1f}; CPU {cpu:.1f} s), {n / total:,.0f} rows/s")
        del frame, result

    if not args.no_write:
        load = os.getloadavg()
        lines = [
            "", "## validate", "",
            f"`python bench/validate.py` (suite `records`, {len(SENTENCES)}-sentence synthetic Chinese records, "
            f"every row validated). Machine: {os.cpu_count()} cores shared with other developers "
            f"(load average {load[0]:.1f} at the end), Python {platform.python_version()}, polars {pl.__version__}, "
            f"great_expectations {great_expectations.__version__}.", "",
            f"GX import: {gx_import:.2f} s; ephemeral context set-up: {context_s:.2f} s (once per process, "
            "not in the table). Times are wall clock; CPU is the process's CPU time over all threads, "
            "for comparison on a busy machine.",
            "", "| rows | data (MB) | validate total (s) | derived columns (s) | to pandas (s) | GX (s) | CPU (s) "
            "| rows/s |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [f"| {n:,} | {mb:,.0f} | {total:.1f} | {s['derive']:.1f} | {s['to_pandas']:.1f} | {s['gx']:.1f} "
                  f"| {cpu:.1f} | {rate:,.0f} |" for n, mb, total, cpu, s, rate in rows]
        results = ROOT / "bench" / "RESULTS.md"
        text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
        results.write_text(text.rstrip("\n") + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
        print(f"appended to {results}")


if __name__ == "__main__":
    main()
