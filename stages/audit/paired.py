"""Paired comparisons of two runs over the same questions: bootstrap interval, minimum detectable effect, verdict.

For each question i, d_i = value(run) - value(baseline), where the value is either
- `accuracy`: 1 if the run answered i correctly, else 0 (so d_i is -1, 0 or +1), or
- `margin`: the gold option's log-likelihood minus the best wrong option's, in nats
  (stages/evaluate/scoring.py `margin`). Chosen over the gold log-likelihood alone because a
  shift shared by every option (the model growing surer of all answer letters after SFT on a
  chat format) cancels in the margin but not in the gold log-likelihood; and margin > 0 is
  exactly "correct", so it is the continuous version of accuracy and sees sub-threshold moves.

The delta is the mean of d. Its 95% interval is a percentile bootstrap over questions:
`RESAMPLES` resamples of the N questions with replacement (numpy's default_rng(`SEED`), so the
same inputs give the same interval), the 2.5% and 97.5% quantiles of the resampled means; `se`
is the standard deviation of those means. A delta is *detectable* when its interval excludes 0.

The minimum detectable effect at this N, for a two-sided test at alpha 0.05 with power 0.8:
    MDE = (z_0.975 + z_0.8) * s / sqrt(N) = 2.8016 * s / sqrt(N)
with s = sqrt(mean(d^2)) for accuracy (the variance of d under no effect: the share of discordant
questions, right in one run and wrong in the other, as in McNemar's test) and s the sample standard
deviation of d for the margin (a paired t design). A change smaller than the MDE could have
happened without being seen.

Below `MIN_QUESTIONS` questions no interval or MDE is computed (the percentile bootstrap of a
handful of values is too narrow to trust), and when every d_i is 0 there is no variation to size
an effect with; each cell says so in words instead of printing 0.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

Z_ALPHA = NormalDist().inv_cdf(0.975)  # two-sided alpha 0.05
Z_POWER = NormalDist().inv_cdf(0.8)  # power 0.8
RESAMPLES = 2000
SEED = 0
MIN_QUESTIONS = 10
METRICS = ("accuracy", "margin")
_CHUNK_VALUES = 4_000_000  # resampled values held at once (32 MB of float64)


def bootstrap_means(diffs: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """The means of `resamples` resamples of `diffs` with replacement (seeded: deterministic)."""
    rng = np.random.default_rng(seed)
    n = len(diffs)
    means = np.empty(resamples)
    step = max(1, _CHUNK_VALUES // max(n, 1))
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        means[start:start + rows] = diffs[rng.integers(0, n, size=(rows, n))].mean(axis=1)
    return means


def interval(diffs: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float, float]:
    """(low, high, se): the 95% percentile bootstrap interval of the mean of `diffs` and the bootstrap se."""
    means = bootstrap_means(diffs, resamples, seed)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high), float(means.std())


def spread_of(diffs: np.ndarray, metric: str) -> float:
    """s in the MDE formula: sqrt(mean(d^2)) for accuracy (McNemar), the sample sd for the margin."""
    if metric == "accuracy":
        return float(math.sqrt(np.mean(diffs * diffs)))
    return float(np.std(diffs, ddof=1))


def mde(spread: float, n: int) -> float:
    """Minimum detectable effect of a paired design: (z_0.975 + z_0.8) * s / sqrt(N)."""
    return (Z_ALPHA + Z_POWER) * spread / math.sqrt(n)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6) + 0.0  # + 0.0: no -0.0 in reports


def compare(diffs: np.ndarray, metric: str) -> dict[str, Any]:
    """One cell: n, delta, low, high, se, mde, detectable (None when not computable), why, text."""
    n = len(diffs)
    cell: dict[str, Any] = {"n": n, "delta": _r(float(diffs.mean())) if n else None, "low": None, "high": None,
                            "se": None, "mde": None, "detectable": None, "why": None}
    if n < MIN_QUESTIONS:
        cell["why"] = f"interval not computed: {n} question{'s' if n != 1 else ''} (fewer than {MIN_QUESTIONS})"
    elif not diffs.any():
        cell.update(low=0.0, high=0.0, se=0.0, detectable=False,
                    why=f"identical on all {n} questions (no interval or MDE)")
    else:
        low, high, se = interval(diffs)
        spread = spread_of(diffs, metric)
        cell.update(low=_r(low), high=_r(high), se=_r(se), mde=_r(mde(spread, n)) if spread else None,
                    detectable=bool(low > 0 or high < 0))
    cell["text"] = cell_text(cell)
    return cell


def signed(v: float) -> str:
    return f"{v:+.3f}"


def cell_text(cell: dict[str, Any]) -> str:
    """`+0.050 [+0.010, +0.090]` when detectable, else `no detectable change (...)` or why not computable."""
    if cell["delta"] is None:
        return "no questions"
    if cell["detectable"] is None:
        return f"{signed(cell['delta'])}, {cell['why']}"
    if cell["why"]:
        return f"no change: {cell['why']}"
    shown = f"{signed(cell['delta'])} [{signed(cell['low'])}, {signed(cell['high'])}]"
    if cell["detectable"]:
        return shown
    return f"no detectable change ({shown}; MDE {cell['mde']:.3f})"
