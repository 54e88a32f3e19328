"""How well a score separates good records from known-bad ones: AUC with a 95% interval, Spearman agreement.

- `auc(good, bad)`: the probability that a good record scores better than a known-bad one (ties count a
  half), the Mann-Whitney U statistic divided by n_good * n_bad, computed from the ranks of the pooled
  values (ties averaged). Higher is better: a score where lower is better is negated first (`oriented`).
  1 = every good record beats every bad one, 0.5 = chance, 0 = inverted.
- Its 95% interval is Hanley & McNeil's (1982) normal approximation, clipped to [0, 1] (near 0 or 1 its
  width is that of an AUC 1 / (2 * the smaller count) away from the edge, see `interval`).
- `verdict`: `chance` when the interval holds 0.5 or |AUC - 0.5| < `min_gap` (the calibration's
  `min_gap`, 0.05 by default: a score that orders fewer than 5 more pairs in 100 right than a coin is no
  better than chance, whatever the sample size); otherwise `separates` (AUC above 0.5) or `inverted`.
- `spearman(a, b)`: Spearman's rank correlation of two paired columns (scipy), null pairs dropped; None
  when fewer than 3 pairs remain or a column is constant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata, spearmanr

Z95 = 1.959964


def auc(good: Sequence[float], bad: Sequence[float]) -> float | None:
    """P(good > bad) + P(tie) / 2 over all pairs; None when either side is empty."""
    n_good, n_bad = len(good), len(bad)
    if not n_good or not n_bad:
        return None
    ranks = rankdata(np.concatenate([np.asarray(good, dtype=float), np.asarray(bad, dtype=float)]))
    u = float(ranks[:n_good].sum()) - n_good * (n_good + 1) / 2
    return u / (n_good * n_bad)


def interval(value: float, n_good: int, n_bad: int) -> tuple[float, float]:
    """Hanley-McNeil 95% interval of an AUC from n_good and n_bad records. Its variance is 0 at an AUC of 0
    or 1, so it is computed at no closer than 1 / (2 * the smaller count) to them: a perfect score on 3
    records is not reported as certain."""
    edge = 1 / (2 * min(n_good, n_bad))
    at = min(max(value, edge), 1 - edge)
    q1, q2 = at / (2 - at), 2 * at * at / (1 + at)
    variance = (at * (1 - at) + (n_good - 1) * (q1 - at * at) + (n_bad - 1) * (q2 - at * at)) / (n_good * n_bad)
    half = Z95 * math.sqrt(max(variance, 0.0))
    return max(0.0, value - half), min(1.0, value + half)


def verdict(value: float, low: float, high: float, min_gap: float) -> str:
    if low <= 0.5 <= high or abs(value - 0.5) < min_gap:
        return "chance"
    return "separates" if value > 0.5 else "inverted"


def oriented(values: Sequence[float | None], better: str) -> list[float]:
    """Non-null values, negated when lower is better (so higher always means better)."""
    return [(-v if better == "low" else v) for v in values if v is not None and not math.isnan(v)]


def separation(good: Sequence[float | None], bad: Sequence[float | None], better: str,
               min_gap: float) -> dict[str, Any]:
    """{n_good, n_bad, auc, low, high, verdict} (auc and the rest None without both sides)."""
    g, b = oriented(good, better), oriented(bad, better)
    value = auc(g, b)
    if value is None:
        return {"n_good": len(g), "n_bad": len(b), "auc": None, "low": None, "high": None, "verdict": "no data"}
    low, high = interval(value, len(g), len(b))
    return {"n_good": len(g), "n_bad": len(b), "auc": round(value, 4), "low": round(low, 4),
            "high": round(high, 4), "verdict": verdict(value, low, high, min_gap)}


def spearman(a: Sequence[float | None], b: Sequence[float | None]) -> float | None:
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None
             and not (isinstance(x, float) and math.isnan(x)) and not (isinstance(y, float) and math.isnan(y))]
    if len(pairs) < 3 or len({x for x, _ in pairs}) < 2 or len({y for _, y in pairs}) < 2:
        return None
    rho = spearmanr([x for x, _ in pairs], [y for _, y in pairs]).statistic
    return None if math.isnan(rho) else round(float(rho), 4)
