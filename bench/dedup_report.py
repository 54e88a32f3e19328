"""Scores and the `## dedup` section of bench/RESULTS.md for bench/dedup.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

LABELS = {
    "ours:asserted": "ours (verify=exact), pairs it asserts",
    "ours:clusters": "ours (verify=exact), same-cluster pairs",
    "ours-estimate:asserted": "ours (verify=estimate), pairs it asserts",
    "ours-estimate:clusters": "ours (verify=estimate), same-cluster pairs",
    "ds-best:candidates": "datasketch, LSH candidates",
    "ds-best:estimate": "datasketch, candidates with estimate >= threshold",
    "ds-record:candidates": "datasketch record by record (sha1), LSH candidates",
    "ds-record:estimate": "datasketch record by record (sha1), candidates with estimate >= threshold",
}
NOTES = """\
Methods. `ours`: the dedup stage end to end (`run_dedup`: read parquet, normalise, exact dedup, MinHash LSH,
verification, clusters, write parquet), default params (5-grams, 128 permutations, threshold 0.8, recall-tuned
banding 21 x 6). `ds-best`: datasketch 2.0 at its best: `MinHash.generator` (the bulk path) with
`hashfunc=xxhash.xxh32_intdigest` on UTF-32-LE shingle bytes (the same shingle hash as ours, so the same
signatures), `MinHashLSH(threshold=0.8, num_perm=128)` (its optimiser picks 9 x 13) filled in an insertion
session, one `query` per document, union-find over the candidates. `ds-record`: the usual per-record code:
`MinHash()` and `update(shingle.encode())` per shingle (default sha1 hash), `insert`, `query`. datasketch
timings start from the normalised texts in memory; `ours` includes reading and writing parquet, and
`ours (dedup step)` is the same run without them (`dedup_records`: text normalisation, exact and near
dedup, verification, clusters, output frames). Each run is a fresh process; peak RSS is its `ru_maxrss`
(the loaded corpus included). One run per cell on a shared 2-core machine: the last column is the
1-minute load average when the run ended (above 2, other work competed for the cores), so compare
cells with similar load.

Accuracy. Ground truth is the exact Jaccard of the 5-gram shingle sets (Python sets of strings) of each pair.
Scored pairs: every pair any method proposed, every pair within a planted family, and every candidate of a
high-recall screen (256 permutations, 64 bands x 4 rows; a pair at 0.8 escapes it with probability ~1e-15).
A pair is a true duplicate when its Jaccard is >= 0.8. "Near threshold" restricts recall to true pairs with
Jaccard in [0.8, 0.9) and precision to proposed pairs with Jaccard in [0.7, 0.9). "Pairs it asserts" are the
pairs a method claims are >= threshold (ours: verified pairs, expanded over exact copies); "same-cluster
pairs" are all pairs that end up in one cluster, which adds pairs linked only through a third document.
"""


def prf(tp: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_true if n_true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def accuracy_rows(pool: np.ndarray, jaccard: np.ndarray, predicted: dict[str, np.ndarray],
                  threshold: float) -> list[dict]:
    """Precision, recall and F1 of each predicted pair set (codes within `pool`)."""
    true = jaccard >= threshold
    band_true = true & (jaccard < threshold + 0.1)
    rows = []
    for name, codes in predicted.items():
        j = jaccard[np.searchsorted(pool, codes)]
        tp = int((j >= threshold).sum())
        near = (j >= threshold - 0.1) & (j < threshold + 0.1)
        near_tp = int(((j >= threshold) & (j < threshold + 0.1)).sum())
        p, r, f = prf(tp, codes.size, int(true.sum()))
        near_p = (j[near] >= threshold).mean() if near.any() else 1.0
        near_r = near_tp / band_true.sum() if band_true.any() else 1.0
        near_f = 2 * near_p * near_r / (near_p + near_r) if near_p + near_r else 0.0
        rows.append({"name": name, "pairs": int(codes.size), "true": int(true.sum()), "precision": p, "recall": r,
                     "f1": f, "near_true": int(band_true.sum()), "near_precision": float(near_p),
                     "near_recall": float(near_r), "near_f1": float(near_f)})
    return rows


def _ratio(x: float) -> str:
    return f"{x:.1f}" if x >= 1 else f"{x:.2f}"


def _speed_table(speed: list[dict]) -> list[str]:
    rate = {(s["n"], s["method"]): s["n"] / s["seconds"] for s in speed if "seconds" in s}
    extrapolated = {(s["n"], s["method"]): s["n"] / s["extrapolated_seconds"] for s in speed
                    if "extrapolated_seconds" in s}
    lines = ["| docs | method | seconds | docs/s | peak RSS (MB) | x ds-best | x ds-record | load at end |",
             "|---|---|---|---|---|---|---|---|"]
    for s in speed:
        key = (s["n"], s["method"])
        if "seconds" not in s:
            what = (f"~{s['extrapolated_seconds']:.0f} (extrapolated)" if "extrapolated_seconds" in s
                    else f"> {s['timeout']:.0f} (stopped)")
            lines.append(f"| {s['n']:,} | {s['method']} | {what} | - | - | - | - | - |")
            continue
        best = rate.get((s["n"], "ds-best"))
        slow = rate.get((s["n"], "ds-record")) or extrapolated.get((s["n"], "ds-record"))
        slow_note = "" if (s["n"], "ds-record") in rate else " (vs extrapolated)"
        best_x = _ratio(rate[key] / best) if best else "-"
        slow_x = f"{rate[key] / slow:.0f}{slow_note}" if slow else "-"
        lines.append(f"| {s['n']:,} | {s['method']} | {s['seconds']:.1f} | {rate[key]:,.0f} | "
                     f"{s['peak_rss_mb']:,.0f} | {best_x} | {slow_x} | {s.get('load', '-')} |")
    return lines


def _curve(speed: list[dict]) -> list[str]:
    sizes = sorted({s["n"] for s in speed})
    methods = list(dict.fromkeys(s["method"] for s in speed))
    cell = {(s["n"], s["method"]): s for s in speed}
    lines = ["| method | " + " | ".join(f"{n:,} docs" for n in sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
    for m in methods:
        vals = []
        for n in sizes:
            s = cell.get((n, m), {})
            vals.append(f"{n / s['seconds']:,.0f}" if "seconds" in s else
                        f"~{n / s['extrapolated_seconds']:,.0f} (extrapolated)" if "extrapolated_seconds" in s else "-")
        lines.append(f"| {m} | " + " | ".join(vals) + " |")
    return lines


def _accuracy_table(accuracy: dict[int, list[dict]]) -> list[str]:
    lines = ["| docs | pairs scored by | pairs | true pairs | precision | recall | F1 | near-threshold P / R / F1 |",
             "|---|---|---|---|---|---|---|---|"]
    for n, rows in accuracy.items():
        for r in rows:
            lines.append(f"| {n:,} | {LABELS.get(r['name'], r['name'])} | {r['pairs']:,} | {r['true']:,} | "
                         f"{r['precision']:.4f} | {r['recall']:.4f} | **{r['f1']:.4f}** | "
                         f"{r['near_precision']:.3f} / {r['near_recall']:.3f} / {r['near_f1']:.3f} "
                         f"(of {r['near_true']:,}) |")
    return lines


def write_section(results: Path, speed: list[dict], accuracy: dict[int, list[dict]], machine: str,
                  command: str) -> None:
    """Replace (or add) the `## dedup` section of RESULTS.md."""
    body = ["## dedup", "", f"Command: `{command}`", "", f"Machine: {machine}", "", NOTES,
            "### Speed (documents of about 500 characters)", "", *_speed_table(speed), "",
            "### Scaling curve (documents per second)", "", *_curve(speed), "",
            "### Accuracy at threshold 0.8", "", *_accuracy_table(accuracy), ""]
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    start = text.find("\n## dedup")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + "\n".join(body)
    else:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + "\n".join(body) + (text[end:] if end >= 0 else "")
    results.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
