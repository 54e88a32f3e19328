"""Sketch kernels per shingle, side by side: ours (affine32 MinHash, the oph sketch) and rensa's, on the same
pre-hashed shingles, one thread.

One batch of `--docs` generated Chinese texts of `--chars` characters is shingled (5-grams) and hashed
once (our XXH32 window hashes); every method then turns those same hashes into 128-slot signatures:
  affine32     `minhash.signatures(..., "affine32")`: the compiled MinHash loop (128 permutations per shingle)
  oph          `minhash.signatures(..., "oph")`: one-permutation hashing with optimal densification
  rensa        rensa's `RMinHash.digest_matrix_from_flat_token_hashes` (R-MinHash) on the same hashes as uint64
  rensa-rho    rensa's `RMinHash.digest_matrix_from_flat_token_hashes_rho` (its sparse one-permutation sketch)
rensa runs with RAYON_NUM_THREADS=1 (set before it is imported); CPU seconds are reported next to wall
seconds, so a second thread would show. rensa's time includes copying the input out of the numpy
buffer (its API does that); ours include allocating the output. The methods run in rounds, the order
rotating each round; the median of `--repeat` rounds is reported as ns per shingle, with the load
average, because this machine is shared. Without rensa installed (requirements-bench.txt) its rows
are skipped.

Example:
    python bench/hashmin.py --docs 4096 --chars 500 --repeat 9
"""

from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # rensa's thread pool: one thread (before it is imported)

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dedup import load_average, machine  # noqa: E402
from stages.dedup import minhash  # noqa: E402
from stages.dedup.shingles import shingle_hashes  # noqa: E402

HANZI = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好"


def methods(hashes: np.ndarray, offsets: np.ndarray, num_perm: int) -> dict[str, Callable[[], object]]:
    """name -> a call that computes the signatures of the whole batch from the same hashes."""
    found: dict[str, Callable[[], object]] = {}
    for scheme in ("affine32", "oph"):
        perms = minhash.permutations(num_perm, 1, scheme)
        found[scheme] = lambda perms=perms, scheme=scheme: minhash.signatures(hashes, offsets, perms, scheme)
    try:
        from rensa import RMinHash
    except ImportError:
        return found
    wide, row_offsets = hashes.astype(np.uint64), offsets.astype(np.uint64)
    found["rensa"] = lambda: RMinHash.digest_matrix_from_flat_token_hashes(wide, row_offsets, num_perm, 1)
    found["rensa-rho"] = lambda: RMinHash.digest_matrix_from_flat_token_hashes_rho(wide, row_offsets, num_perm, 1)
    return found


def measure(calls: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, cpu) seconds of each call per round; the order of the calls rotates every round."""
    names = list(calls)
    for call in calls.values():  # load compiled code, warm caches
        call()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for round_ in range(repeat):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            wall, cpu = time.perf_counter(), time.process_time()
            calls[name]()
            runs[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return runs


@click.command()
@click.option("--docs", default=4096, show_default=True, help="Documents in the batch.")
@click.option("--chars", default=500, show_default=True, help="Characters per document.")
@click.option("--num-perm", default=128, show_default=True, help="Signature length.")
@click.option("--repeat", default=9, show_default=True, help="Rounds (median reported).")
def main(docs: int, chars: int, num_perm: int, repeat: int) -> None:
    """Print ns per shingle (wall and CPU) per method and the ratios, as a markdown table."""
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list(HANZI), chars)) for _ in range(docs)]
    hashes, offsets = shingle_hashes(texts, 5)
    load_before = load_average()
    runs = measure(methods(hashes, offsets, num_perm), repeat)
    n = hashes.size
    wall = {name: statistics.median(w for w, _ in r) / n * 1e9 for name, r in runs.items()}
    cpu = {name: statistics.median(c for _, c in r) / n * 1e9 for name, r in runs.items()}
    print(f"Machine: {machine()}; RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}")
    print(f"{docs} docs x {chars} chars, {n:,} shingles (pre-hashed), {num_perm} slots, {repeat} rounds; "
          f"load {load_before:.2f} at start, {load_average():.2f} at end")
    print("| method | ns/shingle (wall, median) | ns/shingle (CPU, median) | x affine32 (wall) | rounds (wall ns) |")
    print("|---|---|---|---|---|")
    for name in runs:
        rounds = ", ".join(f"{w / n * 1e9:.1f}" for w, _ in runs[name])
        print(f"| {name} | {wall[name]:.2f} | {cpu[name]:.2f} | {wall['affine32'] / wall[name]:.2f} | {rounds} |")
    if "rensa" in wall:
        print(f"oph / rensa (wall): {wall['oph'] / wall['rensa']:.2f}; oph / rensa-rho: {wall['oph'] / wall['rensa-rho']:.2f}")


if __name__ == "__main__":
    main()
