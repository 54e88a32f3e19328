"""Candidate recall of each sketch at the threshold: on pairs made at exactly the threshold Jaccard, and on the
planted corpus (bench/dedup_corpus.py), with the default banding.

1. Pairs at exactly `threshold`: for each union size, `--pairs` pairs of sets of distinct random 32-bit
   shingle hashes sharing exactly threshold x size of them (the others split evenly between the two
   sides; how they are split does not matter: a slot collides when the union's first element in it,
   after densification for oph, is shared). A pair is a candidate when it shares a band key; the rate
   is compared with `min_candidate_recall` and with 1 - (1 - J^rows)^bands (independent slots).
2. Planted corpus of `--docs` documents: the true pairs are those whose exact Jaccard (of shingle
   sets, computed by the stage's own `exact_jaccard`) is at least the threshold, among the candidates
   of a high-recall screen (256 permutations, 64 bands x 4 rows: a pair at 0.8 escapes it with
   probability ~1e-15). Per scheme: the share of true pairs that are candidates, and precision,
   recall and F1 of the core's verified pairs (`near.find_near_duplicates`, exact verification).

Example:
    python bench/sketch_recall.py --pairs 3000 --docs 100000 --work /tmp/sketch-recall
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dedup import PARAMS, corpus_paths, load_average, machine  # noqa: E402
from stages.dedup.config import DedupParams  # noqa: E402
from stages.dedup.lsh import band_keys, candidate_pairs, candidate_probability  # noqa: E402
from stages.dedup.minhash import permutations, signatures  # noqa: E402

SCHEMES = ("oph", "affine32")
SIZES = (5, 10, 20, 40, 80, 160, 320, 640, 2000)


def pairs_at(size: int, jaccard: float, count: int, rng: np.random.Generator):
    """Hashes and offsets of `count` pairs whose union has `size` elements and Jaccard exactly `jaccard`."""
    shared = round(jaccard * size)
    own = (size - shared) // 2
    docs = []
    for _ in range(count):
        values = rng.choice(1 << 32, size=size, replace=False).astype(np.uint32)
        docs += [np.concatenate([values[:shared], values[shared:shared + own]]),
                 np.concatenate([values[:shared], values[shared + own:]])]
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([d.size for d in docs], out=offsets[1:])
    return np.concatenate(docs), offsets, shared / size


def threshold_rows(params: DedupParams, count: int) -> list[str]:
    bands, rows = params.banding()
    lines = ["| union size | exact J | " + " | ".join(f"{s} recall" for s in SCHEMES) + " | "
             + " | ".join(f"{s} mean estimate" for s in SCHEMES) + " |",
             "|---|---|" + "---|" * (2 * len(SCHEMES))]
    worst = dict.fromkeys(SCHEMES, 1.0)
    for size in SIZES:
        hashes, offsets, exact = pairs_at(size, params.threshold, count, np.random.default_rng(size))
        recall, estimate = [], []
        for scheme in SCHEMES:
            sig = signatures(hashes, offsets, permutations(params.num_perm, params.seed, scheme), scheme)
            keys = band_keys(sig, bands, rows)
            rate = float((keys[:, 0::2] == keys[:, 1::2]).any(axis=0).mean())
            worst[scheme] = min(worst[scheme], rate)
            recall.append(f"{rate:.4f}")
            estimate.append(f"{(sig[:, 0::2] == sig[:, 1::2]).mean():.4f}")
        lines.append(f"| {size} | {exact:.3f} | " + " | ".join(recall) + " | " + " | ".join(estimate) + " |")
    lines.append(f"\nBanding {bands} x {rows}; independent slots would give "
                 f"{candidate_probability(params.threshold, bands, rows):.4f}; min_candidate_recall "
                 f"{params.min_candidate_recall}; lowest rate: " + ", ".join(f"{s} {v:.4f}" for s, v in worst.items()))
    return lines


def corpus_rows(work: Path, docs: int) -> list[str]:
    import polars as pl

    from bench.dedup import screen_pairs, texts_of
    from stages.dedup.near import find_near_duplicates, sketch
    from stages.dedup.sets import shingle_sets
    from stages.dedup.verify import exact_jaccard

    corpus, _ = corpus_paths(work, docs)
    texts = pl.Series("text", texts_of(corpus))
    screen = screen_pairs(texts.to_list())
    values, offsets = shingle_sets(texts, PARAMS.ngram)
    truth_j = exact_jaccard(values, offsets, screen[:, 0], screen[:, 1])
    true = {(int(a), int(b)) for (a, b), j in zip(screen, truth_j) if j >= PARAMS.threshold}
    lines = [f"Planted corpus: {docs:,} documents, {len(true):,} true pairs (exact Jaccard >= {PARAMS.threshold})", "",
             "| scheme | candidates | true pairs that are candidates (candidate recall) | verified pairs | precision "
             "| recall | F1 |", "|---|---|---|---|---|---|---|"]
    for scheme in SCHEMES:
        params = PARAMS.model_copy(update={"scheme": scheme, "answer_threshold": None})
        keys, _ = sketch(texts, params)
        left, right = candidate_pairs(keys, params.bucket_window)
        candidates = set(zip(left.tolist(), right.tolist()))
        result = find_near_duplicates(texts, params)
        found = set(zip(result.left.tolist(), result.right.tolist()))
        hit = len(found & true)
        precision, recall = hit / max(len(found), 1), hit / max(len(true), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        lines.append(f"| {scheme} | {len(candidates):,} | {len(candidates & true) / len(true):.4f} | {len(found):,} "
                     f"| {precision:.4f} | {recall:.4f} | {f1:.4f} |")
    return lines


@click.command()
@click.option("--pairs", default=3000, show_default=True, help="Pairs per union size and split.")
@click.option("--docs", default=100_000, show_default=True, help="Planted corpus size (0: skip it).")
@click.option("--work", type=click.Path(path_type=Path), default=Path("/tmp/sketch-recall"), show_default=True)
def main(pairs: int, docs: int, work: Path) -> None:
    """Print both tables (markdown)."""
    work.mkdir(parents=True, exist_ok=True)
    print(f"Machine: {machine()}\n")
    print("\n".join(threshold_rows(PARAMS, pairs)))
    if docs:
        print()
        print("\n".join(corpus_rows(work, docs)))
    print(f"\nload at end {load_average():.2f}")


if __name__ == "__main__":
    main()
