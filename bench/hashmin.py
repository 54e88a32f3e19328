"""Hash-min microbenchmark: MinHash signatures of one batch, numpy path at several chunk sizes vs the compiled loop.

One batch of `--docs` generated Chinese texts of `--chars` characters (5-gram shingles, 128
permutations, affine32), timed `--repeat` times per variant (median printed). Every variant's
signatures are checked equal to the compiled loop's. The baseline is the numpy path at the former
chunk size, 2^19 shingle hashes.

Example:
    python bench/hashmin.py --docs 4096 --chars 500 --repeat 5
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dedup import load_average  # noqa: E402
from stages.dedupe import hashmin, minhash  # noqa: E402
from stages.dedupe.shingles import shingle_hashes  # noqa: E402

HANZI = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好"


def timed(fn, repeat: int) -> tuple[float, np.ndarray]:
    runs, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), out


@click.command()
@click.option("--docs", default=4096, show_default=True, help="Documents in the batch.")
@click.option("--chars", default=500, show_default=True, help="Characters per document.")
@click.option("--repeat", default=5, show_default=True, help="Timed runs per variant (median reported).")
def main(docs: int, chars: int, repeat: int) -> None:
    """Print seconds per batch and speed-up against numpy at 2^19 for each variant."""
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list(HANZI), chars)) for _ in range(docs)]
    hashes, offsets = shingle_hashes(texts, 5)
    perms = minhash.permutations(128, 1)
    minhash.signatures(hashes[:10], offsets[:2], perms)  # compile outside the timing
    compiled_s, reference = timed(lambda: minhash.signatures(hashes, offsets, perms), repeat)
    rows = []
    available = hashmin.available
    hashmin.available = lambda: False
    try:
        for bits in (19, 18, 17, 16, 15, 14):
            minhash.CHUNK_SHINGLES = 1 << bits
            seconds, sig = timed(lambda: minhash.signatures(hashes, offsets, perms), repeat)
            assert np.array_equal(sig, reference), bits
            rows.append((f"numpy, chunk 2^{bits}", seconds))
    finally:
        hashmin.available = available
    rows.append(("compiled loop (numba)", compiled_s))
    base = rows[0][1]
    print(f"{docs} docs x {chars} chars, {hashes.size:,} shingles, 128 permutations; load {load_average()}")
    print("| variant | seconds per batch | Mshingles/s | x numpy 2^19 |\n|---|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.4f} | {hashes.size / seconds / 1e6:.1f} | {base / seconds:.2f} |")


if __name__ == "__main__":
    main()
