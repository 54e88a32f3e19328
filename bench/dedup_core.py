"""Dedup core vs datasketch at its best, side by side: the same normalised texts in memory, alternating runs.

The core is what datasketch does here and more: from the dedup texts (already normalised, in memory)
to verified near-duplicate clusters, `stages.dedup.near.find_near_duplicates` (shingles, MinHash
signatures, LSH band keys, candidate pairs, exact-Jaccard verification of every candidate,
connected components). `ds-best` is bench/dedup.py's datasketch at its best (bulk
`MinHash.generator`, xxhash on the same UTF-32-LE shingles, `MinHashLSH` insertion session, one query
per document, union-find; no verification). Each run is a fresh process, the methods alternate, and
the medians are reported with the load average, because this machine is shared. The core runs with
the default params (`scheme: oph`); `--scheme affine32` times datasketch's own signatures instead.

Both start timing once their libraries are loaded: datasketch after its import, the core after
numba's first call (loading the compiled kernels from its cache: ~0.5 s on this machine, once per
process), which is reported as `setup` and also counted in a second ratio. Peak memory is each run's
VmHWM, the texts in memory included (the core holds them as one polars Series, datasketch as
Python strings); for the core, the peak once the texts were loaded is printed too.

The run also checks that affine32 signatures equal datasketch's `hashvalues` for a sample of the
texts (the same hash function, permutations and scheme).

Example:
    python bench/dedup_core.py --size 100000 --repeat 3 --work /tmp/dedup-core
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dedup import PARAMS, corpus_paths, load_average, machine, run_datasketch, utf32_shingles  # noqa: E402

METHODS = ("core", "ds-best")


def peak_mb() -> float:
    from stages.dedup.plan import peak_mb as own_peak

    return own_peak()


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, all threads."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_core(corpus: Path, scheme: str) -> dict:
    from stages.dedup.near import find_near_duplicates

    params = PARAMS.model_copy(update={"scheme": scheme})
    texts = load_texts(corpus, params.fields)
    loaded_mb = peak_mb()
    started = time.perf_counter()
    find_near_duplicates(texts.head(64), params)  # numba's first call: the kernels from its cache
    setup = time.perf_counter() - started
    started, cpu = time.perf_counter(), cpu_seconds()
    result = find_near_duplicates(texts, params)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {"seconds": seconds, "cpu": cpu, "setup": setup, "verified_pairs": int(result.left.size),
            "near_duplicates": int((result.keeper != np.arange(texts.len())).sum()), "peak_mb": peak_mb(),
            "loaded_mb": loaded_mb}


def load_texts(corpus: Path, fields: tuple[str, ...]):
    """The dedup texts of the corpus as one polars Series, built 16,384 records at a time (a whole-file
    read held the three columns and the texts at once: 3.4 GB at 1M for 1.4 GB of text)."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stages.dedup.shingles import dedup_text

    with pq.ParquetFile(corpus, pre_buffer=False, buffer_size=1 << 20) as file:
        parts = [pl.from_arrow(batch).select(dedup_text(fields)).to_series()
                 for batch in file.iter_batches(batch_size=16_384, columns=list(fields))]
    pa.default_memory_pool().release_unused()
    return pl.concat(parts, rechunk=False)


def signatures_match(corpus: Path, sample: int = 300) -> bool:
    """affine32 signatures equal datasketch's hashvalues (MinHash with the same shingle hash)."""
    import xxhash
    from datasketch import MinHash

    from stages.dedup.near import batch_signatures
    from stages.dedup.shingles import lower_text

    import polars as pl

    from stages.dedup.shingles import dedup_text

    texts = pl.read_parquet(corpus, n_rows=sample).select(dedup_text(PARAMS.fields)).to_series().to_list()
    ours = batch_signatures(texts, PARAMS.model_copy(update={"scheme": "affine32"}))
    for d, text in enumerate(texts):
        m = MinHash(num_perm=PARAMS.num_perm, seed=PARAMS.seed, hashfunc=xxhash.xxh32_intdigest)
        m.update_batch(utf32_shingles(lower_text(text), PARAMS.ngram))
        if not np.array_equal(m.hashvalues.astype(np.uint32), ours[:, d]):
            return False
    return True


def run_child(method: str, corpus: Path, scheme: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "child", method, str(corpus), scheme]
    out = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load": load_average()}


@click.group(invoke_without_command=True)
@click.option("--size", default=100_000, show_default=True, help="Documents in the corpus.")
@click.option("--repeat", default=3, show_default=True, help="Runs of each method (alternating).")
@click.option("--work", type=click.Path(path_type=Path), default=Path("/tmp/dedup-core"), show_default=True,
              help="Folder for the generated corpus (built once per size).")
@click.option("--scheme", type=click.Choice(["oph", "affine32"]), default=PARAMS.scheme, show_default=True,
              help="The core's sketch.")
@click.option("--methods", default=",".join(METHODS), show_default=True, help="Methods, comma-separated.")
@click.pass_context
def main(ctx: click.Context, size: int, repeat: int, work: Path, scheme: str, methods: str) -> None:
    """Time the dedup core and datasketch at its best on the same texts; print medians and the ratio.

    \b
    Example:
        python bench/dedup_core.py --size 100000 --repeat 3 --work /tmp/dedup-core
    """
    if ctx.invoked_subcommand:
        return
    work.mkdir(parents=True, exist_ok=True)
    corpus, _ = corpus_paths(work, size)
    print(f"machine: {machine()}; load at start {os.getloadavg()[0]:.2f}; core scheme {scheme}")
    print(f"signatures equal datasketch's: {signatures_match(corpus)}")
    run_child("core", corpus, scheme)  # fills numba's cache (not timed)
    chosen = methods.split(",")
    runs: dict[str, list[dict]] = {m: [] for m in chosen}
    for i in range(repeat):
        for method in chosen:
            runs[method].append(run_child(method, corpus, scheme))
            found = runs[method][-1]
            extra = (f"; setup {found['setup']:.2f} s; texts loaded at {found['loaded_mb']:,.0f} MB; "
                     f"{found['verified_pairs']:,} verified pairs, {found['near_duplicates']:,} near duplicates"
                     if method == "core" else "")
            print(f"run {i + 1} {method}: {found['seconds']:.2f} s ({found['cpu']:.2f} CPU s), "
                  f"peak {found['peak_mb']:,.0f} MB (load {found['load']:.2f}){extra}", flush=True)
    medians = {m: statistics.median(r["seconds"] for r in runs[m]) for m in chosen}
    best = medians.get("ds-best")
    print("| docs | method | median seconds | docs/s | x ds-best | runs (s) | peak MB | load |\n"
          "|---|---|---|---|---|---|---|---|")
    for method in chosen:
        seconds = ", ".join(f"{r['seconds']:.2f}" for r in runs[method])
        loads = ", ".join(f"{r['load']:.2f}" for r in runs[method])
        ratio = f"{best / medians[method]:.1f}" if best else "-"
        peak = statistics.median(r["peak_mb"] for r in runs[method])
        print(f"| {size:,} | {method} | {medians[method]:.2f} | {size / medians[method]:,.0f} | {ratio} | {seconds} "
              f"| {peak:,.0f} | {loads} |")
    if best and "core" in runs:
        setup = statistics.median(r["setup"] for r in runs["core"])
        print(f"core with numba's setup ({setup:.2f} s median) counted: x ds-best {best / (medians['core'] + setup):.1f}")
        cpu = {m: statistics.median(r["cpu"] for r in runs[m]) for m in ("core", "ds-best")}
        print(f"CPU seconds (all threads, median): core {cpu['core']:.2f}, ds-best {cpu['ds-best']:.2f}: "
              f"x ds-best {cpu['ds-best'] / cpu['core']:.1f} per CPU-second")


@main.command("child", hidden=True)
@click.argument("method", type=click.Choice(METHODS))
@click.argument("corpus", type=click.Path(path_type=Path))
@click.argument("scheme")
def child_command(method: str, corpus: Path, scheme: str) -> None:
    if method == "core":
        found = run_core(corpus, scheme)
    else:
        timed = run_datasketch(corpus, best=True)
        found = {"seconds": float(timed["seconds"]), "cpu": float(timed["cpu"]), "peak_mb": peak_mb()}
    print(json.dumps(found))


if __name__ == "__main__":
    main()
