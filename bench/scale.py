"""Scale benchmark: the dedup stage on the local engine and on Ray (1 and 2 workers) next to datasketch.

For each size the labelled corpus of bench/dedup_corpus.py (about 500 characters per document) is
built once under --work, then each method runs in a fresh subprocess while this process samples the
resident memory of that subprocess's whole process tree every 0.2 s (Ray's GCS, raylet and workers
are children of the driver that starts a local cluster). Pages of Ray's shared object store are
counted in every process that maps them, so the Ray figures are upper bounds.
  local      `run_dedup` with engine: local (read parquet, dedup, write outputs)
  ray-1      the same with engine: ray on a local cluster of 1 CPU (cluster start included)
  ray-2      the same on 2 CPUs
  ds-best    datasketch at its best (bench/dedup.py's ds-best: bulk MinHash.generator, xxhash, MinHashLSH)
All runs of one size are checked to give byte-identical records/rejected/clusters files (ours).

The stage process's own peak (VmHWM, taken before the check digest reads the output files) is
reported next to the sampled peak of the whole process tree.

Example:
    python bench/scale.py --sizes 100000,1000000 --work /tmp/scale-bench --results bench/RESULTS.md
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dedup import load_average, machine  # noqa: E402
from bench.dedup_corpus import build_corpus  # noqa: E402

METHODS = ("local", "ray-1", "ray-2", "ds-best")
SECTION = "## scale: dedup on the local engine and on Ray"


CORPUS_BLOCK = 100_000


def write_corpus(path: Path, n: int, block: int = CORPUS_BLOCK) -> Path:
    """n records of about 500 characters in id order (as normalize writes them), built and written a block
    at a time so that 10M never sit in memory: each block is bench/dedup_corpus.py's corpus of `block`
    documents (planted families within the block; the 430 real COIG-CQIA rows, when present, recur in
    every block as exact copies), rows shuffled, ids numbered by position."""
    import numpy as np
    import polars as pl
    import pyarrow.parquet as pq

    if path.exists():
        return path
    partial = path.with_name(path.name + ".partial")
    writer = None
    for lo in range(0, n, block):
        size = min(block, n - lo)
        records, _ = build_corpus(size, seed=lo // block + 1)
        records = records[np.random.default_rng(lo).permutation(size)].with_columns(
            id=pl.format("s{}", pl.int_range(lo, lo + size, eager=False).cast(pl.String).str.zfill(10)))
        table = records.to_arrow()
        writer = writer or pq.ParquetWriter(partial, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=65_536)
    if writer is not None:
        writer.close()
    partial.rename(path)
    return path


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(stat[1])
            rss[int(entry)] = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    members, todo = set(), [root]
    while todo:
        pid = todo.pop()
        members.add(pid)
        todo += [child for child, parent in parents.items() if parent == pid and child not in members]
    return sum(rss.get(pid, 0) for pid in members)


def run_child(method: str, corpus: Path, out: Path, timeout: float) -> dict:
    """Run one method in a fresh interpreter, sampling its process tree's memory."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "child", method, str(corpus), str(out)]
    started, peak = time.perf_counter(), 0
    proc = subprocess.Popen(cmd, cwd=ROOT)
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        if time.perf_counter() - started > timeout:
            proc.kill()
            return {"method": method, "timeout": timeout}
        time.sleep(0.2)
    if proc.returncode:
        raise click.ClickException(f"{method} failed with exit code {proc.returncode}")
    result = json.loads((out / "result.json").read_text())
    return {"method": method, **result, "peak_tree_mb": peak / 2**20, "load": load_average()}


def child(method: str, corpus: Path, out: Path) -> None:
    if method == "ds-best":
        from bench.dedup import run_datasketch

        seconds = float(run_datasketch(corpus, best=True)["seconds"])
        result = {"seconds": seconds}
    else:
        from stages.dedup.config import DedupParams
        from stages.dedup.stage import run_dedup
        from stages.engine.config import EngineParams, ray_engine

        engine = EngineParams() if method == "local" else ray_engine(num_cpus=int(method[-1]))
        started = time.perf_counter()
        metrics, run = run_dedup(corpus, out / "stage", out / "metrics.json", DedupParams(), engine)
        seconds = time.perf_counter() - started
        stage_peak_mb = run.peak_mb["write"]  # this process's peak, before the digest below reads the files
        digest = hashlib.sha256()
        for name in ("records.parquet", "rejected.parquet", "clusters.parquet"):
            with open(out / "stage" / name, "rb") as handle:  # in chunks: 10M records of output are ~10 GB
                while chunk := handle.read(1 << 24):
                    digest.update(chunk)
        result = {"seconds": seconds, "core_seconds": run.seconds["dedup"],
                  "stage_peak_mb": stage_peak_mb,
                  "phases": {k: round(v, 1) for k, v in run.seconds.items()},
                  "peak_mb_after": {k: round(v) for k, v in run.peak_mb.items()},
                  "digest": digest.hexdigest()[:16], "near": metrics["dedup"]["near_duplicates"]}
        shutil.rmtree(out / "stage")  # 10M records of output: keep only the digest
    (out / "result.json").write_text(json.dumps(result))


def table(n: int, rows: list[dict]) -> list[str]:
    best = next((r["seconds"] for r in rows if r["method"] == "ds-best" and "seconds" in r), None)
    lines = []
    for r in rows:
        if "timeout" in r:
            lines.append(f"| {n:,} | {r['method']} | > {r['timeout']:.0f} (stopped) | - | - | - | - | - | - |")
            continue
        ratio = f"{best / r['seconds']:.1f}" if best else "-"
        core = f"{n / r['core_seconds']:,.0f}" if "core_seconds" in r else "-"
        own = f"{r['stage_peak_mb']:,.0f}" if "stage_peak_mb" in r else "-"
        lines.append(f"| {n:,} | {r['method']} | {r['seconds']:.1f} | {n / r['seconds']:,.0f} | {core} | {own} | "
                     f"{r['peak_tree_mb']:,.0f} | {ratio} | {r['load']:.2f} |")
    return lines


def write_section(results: Path, body: list[str]) -> None:
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    if SECTION in text:
        text = text[: text.index(SECTION)].rstrip() + "\n"
    results.write_text(text.rstrip() + "\n\n" + "\n".join(body) + "\n", encoding="utf-8")


@click.group(invoke_without_command=True)
@click.option("--sizes", default="1000000", show_default=True, help="Corpus sizes, comma-separated.")
@click.option("--methods", default=",".join(METHODS), show_default=True, help="Methods, comma-separated.")
@click.option("--work", type=click.Path(path_type=Path), default=Path("/tmp/scale-bench"), show_default=True)
@click.option("--results", type=click.Path(path_type=Path), default=None, help="RESULTS.md to append the section to.")
@click.option("--timeout", default=1800.0, show_default=True, help="Seconds allowed to one run.")
@click.pass_context
def main(ctx: click.Context, sizes: str, methods: str, work: Path, results: Path | None, timeout: float) -> None:
    """Time local vs ray (1 and 2 CPUs) vs datasketch; print (and optionally write) a markdown section."""
    if ctx.invoked_subcommand:
        return
    work.mkdir(parents=True, exist_ok=True)
    host = machine()
    body = [SECTION, "", f"Command: `python bench/scale.py {' '.join(sys.argv[1:])}`", "", f"Machine: {host}", "",
            "| docs | method | seconds | docs/s (stage) | docs/s (dedup step) | peak RSS of the stage process (MB) "
            "| peak RSS of process tree (MB) | x ds-best | load at end |", "|---|---|---|---|---|---|---|---|---|"]
    for n in [int(s) for s in sizes.split(",")]:
        corpus = write_corpus(work / f"corpus-{n}.parquet", n)
        rows = []
        for method in methods.split(","):
            row = run_child(method, corpus, work / f"run-{n}-{method}", timeout)
            print(json.dumps({"n": n, **row}), flush=True)
            rows.append(row)
        digests = {r["digest"] for r in rows if "digest" in r}
        if len(digests) > 1:
            raise click.ClickException(f"n={n}: engines disagree: {digests}")
        body += table(n, rows)
    print("\n".join(body))
    if results is not None:
        write_section(results, body)


@main.command("child", hidden=True)
@click.argument("method", type=click.Choice(METHODS))
@click.argument("corpus", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
def child_command(method: str, corpus: Path, out: Path) -> None:
    child(method, corpus, out)


if __name__ == "__main__":
    main()
