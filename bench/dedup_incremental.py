"""Incremental dedup: a run reusing the index of n records after `--added` records arrive, against full runs
of the same input, side by side.

The corpus is bench/scale.py's (`write_corpus`, about 500 characters per record) of n + added records;
A is it without `added` random records (the second fetch), A+B all of it. Once, not timed: the stage
runs on A with `--index`, and the index is kept aside. Then, in rounds (the order rotating), each in
a fresh process running `run_dedup` on A+B:
  incremental   with a copy of A's index (records reused by id and fingerprint, pairs by their texts)
  rebuild       with an index built by other params (seed + 1): everything computed, the index written
  full          without an index (as before this change)
  floor         no dedup at all: the stage's reader reads every record and the stage contract writes them all
                as records.parquet (a lower bound for any run whose outputs are whole files: it must read
                the input and write every kept record; it writes all of them, so it is a bound within the
                kept share)
The outputs of all three are checked to be byte-identical (sha256 of records, rejected, clusters).
Reported: median wall seconds, the `decide` part (reading and deciding, `run_dedup`'s phases read +
dedup: everything but writing the outputs), peak RSS, and ratios to `full`, with the load average
(this machine is shared).

Example:
    python bench/dedup_incremental.py --records 1000000 --added 10000 --repeat 2 --work /tmp/dedup-incremental
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dedup import load_average, machine  # noqa: E402
from bench.scale import write_corpus  # noqa: E402

METHODS = ("incremental", "rebuild", "full", "floor")


def inputs(work: Path, n: int, added: int) -> tuple[Path, Path]:
    """(A, A+B): the corpus of n + added records, and it without `added` random records."""
    import numpy as np
    import polars as pl
    import pyarrow.parquet as pq

    whole = write_corpus(work / f"corpus-{n + added}.parquet", n + added)
    first = work / f"corpus-{n + added}-without-{added}.parquet"
    if not first.exists():
        drop = np.random.default_rng(7).choice(n + added, size=added, replace=False)
        ids = pl.read_parquet(whole, columns=["id"])["id"].gather(np.sort(drop))
        writer = None
        with pq.ParquetFile(whole) as file:
            for group in range(file.num_row_groups):
                table = pl.from_arrow(file.read_row_group(group)).filter(~pl.col("id").is_in(ids.implode())).to_arrow()
                writer = writer or pq.ParquetWriter(first.with_suffix(".partial"), table.schema, compression="zstd")
                writer.write_table(table, row_group_size=65_536)
        writer.close()
        first.with_suffix(".partial").rename(first)
    return first, whole


def child(method: str, corpus: Path, out: Path, index: Path) -> None:
    """One run of the stage (in this fresh process); writes result.json."""
    from stages.dedup.config import DedupParams
    from stages.dedup.plan import peak_mb
    from stages.dedup.stage import run_dedup

    started = time.perf_counter()
    if method == "floor":
        return floor(corpus, out, started)
    metrics, run = run_dedup(corpus, out / "stage", out / "metrics.json", DedupParams(),
                             index=None if method == "full" else index)
    seconds = time.perf_counter() - started
    peak = peak_mb()
    digest = hashlib.sha256()
    for name in ("records.parquet", "rejected.parquet", "clusters.parquet"):
        with open(out / "stage" / name, "rb") as handle:
            while chunk := handle.read(1 << 24):
                digest.update(chunk)
    result = {"seconds": seconds, "decide": run.seconds["read"] + run.seconds["dedup"], "peak_mb": peak,
              "phases": {k: round(v, 2) for k, v in run.seconds.items()}, "digest": digest.hexdigest()[:16],
              "index": metrics.get("dedup_index")}
    shutil.rmtree(out / "stage")
    (out / "result.json").write_text(json.dumps(result))


def floor(corpus: Path, out: Path, started: float) -> None:
    """Read every record with the stage's reader and write them all through the stage contract."""
    import polars as pl

    from stages.dedup.plan import peak_mb
    from stages.dedup.source import ParquetRecords
    from stages.lib.contract import write_stage_outputs_streaming
    from stages.lib.record import RECORD_SCHEMA, REJECTED_SCHEMA

    records = ParquetRecords(corpus, out)
    none = pl.DataFrame(schema=REJECTED_SCHEMA)
    batches = ((batch.select(RECORD_SCHEMA.names()), none) for _, batch in records.batches())
    metrics = write_stage_outputs_streaming("dedup", out / "stage", out / "metrics.json", batches=batches,
                                            rows_in=records.ids.len(), started=started)
    seconds = time.perf_counter() - started
    result = {"seconds": seconds, "decide": records.read_seconds, "peak_mb": peak_mb(), "phases": {},
              "digest": "floor", "index": None, "kept": metrics["rows_kept"]}
    shutil.rmtree(out / "stage")
    (out / "result.json").write_text(json.dumps(result))


def run_child(method: str, corpus: Path, out: Path, index: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "child", method, str(corpus), str(out), str(index)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return {**json.loads((out / "result.json").read_text()), "load": load_average()}


def prepare_index(method: str, built: Path, target: Path) -> None:
    """The index the run starts from: A's (incremental), one of other params (rebuild), none (full)."""
    shutil.rmtree(target, ignore_errors=True)
    if method == "incremental":
        shutil.copytree(built, target)
    elif method == "rebuild":
        shutil.copytree(built, target)
        meta = json.loads((target / "index.json").read_text())
        meta["identity"]["seed"] += 1
        (target / "index.json").write_text(json.dumps(meta))


@click.group(invoke_without_command=True)
@click.option("--records", default=1_000_000, show_default=True, help="Records indexed (A).")
@click.option("--added", default=10_000, show_default=True, help="Records added (B).")
@click.option("--repeat", default=2, show_default=True, help="Rounds (the order of the methods rotates).")
@click.option("--work", type=click.Path(path_type=Path), default=Path("/tmp/dedup-incremental"), show_default=True)
@click.pass_context
def main(ctx: click.Context, records: int, added: int, repeat: int, work: Path) -> None:
    """Time the incremental run against full runs on the same input; print a markdown table."""
    if ctx.invoked_subcommand:
        return
    work.mkdir(parents=True, exist_ok=True)
    first, whole = inputs(work, records, added)
    print(f"Machine: {machine()}")
    built = work / "index-A"
    if not (built / "index.json").exists():
        indexing = run_child("rebuild", first, work / "run-A", built)
        print(f"indexing run on A ({records:,} records): {indexing['seconds']:.1f} s (load {indexing['load']:.2f})")
    runs: dict[str, list[dict]] = {m: [] for m in METHODS}
    for round_ in range(repeat):
        for method in METHODS[round_ % len(METHODS):] + METHODS[: round_ % len(METHODS)]:
            prepare_index(method, built, work / "index")
            found = run_child(method, whole, work / f"run-{method}", work / "index")
            runs[method].append(found)
            print(json.dumps({"round": round_ + 1, "method": method, **found}), flush=True)
    digests = {r["digest"] for m, rs in runs.items() for r in rs if m != "floor"}
    print(f"outputs byte-identical across all dedup runs: {len(digests) == 1} ({', '.join(sorted(digests))})")
    full = statistics.median(r["seconds"] for r in runs["full"])
    full_decide = statistics.median(r["decide"] for r in runs["full"])
    print("| records (A + B) | method | median s | runs (s) | decide: read + dedup (median s) | x full (stage) "
          "| x full (decide) | peak RSS (MB) | load |\n|---|---|---|---|---|---|---|---|---|")
    for method in METHODS:
        rs = runs[method]
        seconds, decide = statistics.median(r["seconds"] for r in rs), statistics.median(r["decide"] for r in rs)
        each = ", ".join(f"{r['seconds']:.1f}" for r in rs)
        loads = ", ".join(f"{r['load']:.2f}" for r in rs)
        peak = statistics.median(r["peak_mb"] for r in rs)
        print(f"| {records:,} + {added:,} | {method} | {seconds:.1f} | {each} | {decide:.1f} | {seconds / full:.3f} "
              f"| {decide / full_decide:.3f} | {peak:,.0f} | {loads} |")
    kept = json.loads((work / "run-full" / "metrics.json").read_text())["rows_kept"]
    print(f"floor writes {runs['floor'][0]['kept']:,} records, a full run keeps {kept:,}")
    print(f"load at end {os.getloadavg()[0]:.2f}")


@main.command("child", hidden=True)
@click.argument("method", type=click.Choice(METHODS))
@click.argument("corpus", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.argument("index", type=click.Path(path_type=Path))
def child_command(method: str, corpus: Path, out: Path, index: Path) -> None:
    child(method, corpus, out, index)


if __name__ == "__main__":
    main()
