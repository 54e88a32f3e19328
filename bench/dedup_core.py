"""Dedup core vs datasketch at its best, side by side: the same normalised texts in memory, alternating runs.

The core is what datasketch does here and more: from the dedup texts (already normalised, in memory)
to verified near-duplicate clusters, `stages.dedupe.near.find_near_duplicates` (shingles, MinHash
signatures, LSH band keys, candidate pairs, exact-Jaccard verification of every candidate,
connected components). `ds-best` is bench/dedup.py's datasketch at its best (bulk
`MinHash.generator`, xxhash on the same UTF-32-LE shingles, `MinHashLSH` insertion session, one query
per document, union-find; no verification). Each run is a fresh process (so the core pays for
loading its compiled kernels from numba's cache; a first run fills that cache), the methods
alternate, and the medians are reported with the load average, because this machine is shared.

The run also checks that the core's signatures equal datasketch's `hashvalues` for a sample of
the texts (the same hash function, permutations and scheme), so the speed is not bought with
different signatures.

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

from bench.dedup import (PARAMS, corpus_paths, load_average, machine, run_datasketch, texts_of,  # noqa: E402
                         utf32_shingles)

METHODS = ("core", "ds-best")


def run_core(corpus: Path) -> dict:
    import polars as pl

    from stages.dedupe.near import find_near_duplicates

    texts = pl.Series("text", texts_of(corpus))
    started = time.perf_counter()
    result = find_near_duplicates(texts, PARAMS)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "verified_pairs": int(result.left.size),
            "near_duplicates": int((result.keeper != np.arange(texts.len())).sum())}


def signatures_match(corpus: Path, sample: int = 300) -> bool:
    """The core's signatures equal datasketch's hashvalues (MinHash with the same shingle hash)."""
    import xxhash
    from datasketch import MinHash

    from stages.dedupe.near import batch_signatures
    from stages.dedupe.shingles import lower_text

    texts = texts_of(corpus)[:sample]
    ours = batch_signatures(texts, PARAMS)
    for d, text in enumerate(texts):
        m = MinHash(num_perm=PARAMS.num_perm, seed=PARAMS.seed, hashfunc=xxhash.xxh32_intdigest)
        m.update_batch(utf32_shingles(lower_text(text), PARAMS.ngram))
        if not np.array_equal(m.hashvalues.astype(np.uint32), ours[:, d]):
            return False
    return True


def run_child(method: str, corpus: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "child", method, str(corpus)]
    out = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load": load_average()}


@click.group(invoke_without_command=True)
@click.option("--size", default=100_000, show_default=True, help="Documents in the corpus.")
@click.option("--repeat", default=3, show_default=True, help="Runs of each method (alternating).")
@click.option("--work", type=click.Path(path_type=Path), default=Path("/tmp/dedup-core"), show_default=True,
              help="Folder for the generated corpus (built once per size).")
@click.pass_context
def main(ctx: click.Context, size: int, repeat: int, work: Path) -> None:
    """Time the dedup core and datasketch at its best on the same texts; print medians and the ratio.

    \b
    Example:
        python bench/dedup_core.py --size 100000 --repeat 3 --work /tmp/dedup-core
    """
    if ctx.invoked_subcommand:
        return
    work.mkdir(parents=True, exist_ok=True)
    corpus, _ = corpus_paths(work, size)
    print(f"machine: {machine()}; load at start {os.getloadavg()[0]:.2f}")
    print(f"signatures equal datasketch's: {signatures_match(corpus)}")
    run_child("core", corpus)  # fills numba's cache (not timed)
    runs: dict[str, list[dict]] = {m: [] for m in METHODS}
    for i in range(repeat):
        for method in METHODS:
            runs[method].append(run_child(method, corpus))
            found = runs[method][-1]
            pairs = (f"; {found['verified_pairs']:,} verified pairs, {found['near_duplicates']:,} near duplicates"
                     if method == "core" else "")
            print(f"run {i + 1} {method}: {found['seconds']:.2f} s (load {found['load']:.2f}){pairs}", flush=True)
    core = statistics.median(r["seconds"] for r in runs["core"])
    best = statistics.median(r["seconds"] for r in runs["ds-best"])
    print(f"| docs | method | median seconds | docs/s | x ds-best | runs (s) | load |\n|---|---|---|---|---|---|---|")
    for method, median in (("core", core), ("ds-best", best)):
        seconds = ", ".join(f"{r['seconds']:.2f}" for r in runs[method])
        loads = ", ".join(f"{r['load']:.2f}" for r in runs[method])
        print(f"| {size:,} | {method} | {median:.2f} | {size / median:,.0f} | {best / median:.1f} | {seconds} | {loads} |")


@main.command("child", hidden=True)
@click.argument("method", type=click.Choice(METHODS))
@click.argument("corpus", type=click.Path(path_type=Path))
def child_command(method: str, corpus: Path) -> None:
    found = run_core(corpus) if method == "core" else {"seconds": float(run_datasketch(corpus, best=True)["seconds"])}
    print(json.dumps(found))


if __name__ == "__main__":
    main()
