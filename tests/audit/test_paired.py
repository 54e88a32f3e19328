"""The paired statistics of `audit rules` (stages/audit/paired.py) against direct computations.

The bootstrap interval is checked against the exact bootstrap distribution: every one of the 6^6
resamples of six differences enumerated, and for 80 differences in {-1, 0, 1} the distribution of the
resampled sum computed by convolution. Planted effects in predictions we write ourselves are detected;
null effects are not.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from stages.audit.paired import Z_ALPHA, Z_POWER, compare, interval, mde, spread_of


def exact_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value whose cumulative probability reaches q."""
    order = np.argsort(values)
    cdf = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][np.searchsorted(cdf, q - 1e-12)])


def test_bootstrap_interval_equals_the_exact_enumeration_of_every_resample():
    diffs = np.array([1.0, 0.0, 0.0, -1.0, 1.0, 1.0])
    means = np.array([diffs[list(idx)].mean() for idx in itertools.product(range(6), repeat=6)])  # 46,656 resamples
    ones = np.ones_like(means)
    low, high, se = interval(diffs)
    assert (low, high) == pytest.approx((exact_quantile(means, ones, 0.025), exact_quantile(means, ones, 0.975)))
    assert (low, high) == pytest.approx((-1 / 3, 5 / 6))
    assert se == pytest.approx(means.std(), rel=0.05)


def test_bootstrap_interval_of_80_accuracy_differences_matches_the_exact_distribution():
    diffs = np.array([1.0] * 12 + [-1.0] * 4 + [0.0] * 64)
    n = len(diffs)
    step = np.array([4, 64, 12]) / n  # P(-1), P(0), P(+1) of one draw
    dist = np.array([1.0])
    for _ in range(n):
        dist = np.convolve(dist, step)  # the sum of n draws: values -n .. n
    sums = np.arange(-n, n + 1) / n
    low, high, se = interval(diffs)
    assert abs(low - exact_quantile(sums, dist, 0.025)) <= 1 / n + 1e-9
    assert abs(high - exact_quantile(sums, dist, 0.975)) <= 1 / n + 1e-9
    assert se == pytest.approx(diffs.std() / math.sqrt(n), rel=0.05)  # the exact sd of the resampled mean
    assert interval(diffs) == (low, high, se)  # seeded: the same inputs give the same interval


def test_mde_formula_and_its_spread():
    assert Z_ALPHA + Z_POWER == pytest.approx(1.959964 + 0.841621, abs=1e-6)
    assert mde(0.5, 100) == pytest.approx(2.801585 * 0.5 / 10, abs=1e-6)
    accuracy = np.array([1.0] * 10 + [-1.0] * 5 + [0.0] * 85)
    assert spread_of(accuracy, "accuracy") == pytest.approx(math.sqrt(15 / 100))  # discordant share (McNemar)
    margin = np.array([0.5, -0.1, 0.3, 0.2])
    assert spread_of(margin, "margin") == pytest.approx(float(np.std(margin, ddof=1)))
    assert compare(accuracy, "accuracy")["mde"] == pytest.approx(2.801585 * math.sqrt(0.15) / 10, abs=1e-6)


def test_each_cell_says_in_words_whether_it_can_tell():
    assert compare(np.array([1.0, 0.0, 1.0, 0.0]), "accuracy")["text"] == (
        "+0.500, interval not computed: 4 questions (fewer than 10)")
    assert compare(np.array([1.0]), "margin")["text"] == "+1.000, interval not computed: 1 question (fewer than 10)"
    identical = compare(np.zeros(50), "accuracy")
    assert identical["text"] == "no change: identical on all 50 questions (no interval or MDE)"
    assert identical["mde"] is None and identical["detectable"] is False
    assert compare(np.array([]), "accuracy")["text"] == "no questions"


def planted(n: int, up: int, down: int) -> tuple[np.ndarray, np.ndarray]:
    """Baseline answers right on a seeded half of n questions; the run turns `up` wrong ones right and
    `down` right ones wrong. Returns (accuracy differences, margin differences)."""
    rng = np.random.default_rng(7)
    base = rng.random(n) < 0.5
    run = base.copy()
    run[np.flatnonzero(~base)[:up]] = True
    run[np.flatnonzero(base)[:down]] = False
    gap = rng.uniform(0.2, 1.0, n)
    margin = lambda right: np.where(right, gap, -gap)  # noqa: E731
    return run.astype(float) - base.astype(float), margin(run) - margin(base)


def test_a_planted_effect_is_detected():
    acc, margin = planted(400, up=40, down=0)  # +0.10 accuracy
    cell = compare(acc, "accuracy")
    assert cell["delta"] == 0.1 and cell["detectable"] is True and cell["low"] > 0
    assert cell["text"] == f"+0.100 [{cell['low']:+.3f}, {cell['high']:+.3f}]"
    assert cell["mde"] < 0.1  # the effect is larger than what this N could miss
    assert compare(margin, "margin")["detectable"] is True


def test_a_null_effect_is_not_flagged():
    acc, margin = planted(400, up=20, down=20)  # as many answers gained as lost
    cell = compare(acc, "accuracy")
    assert cell["delta"] == 0 and cell["detectable"] is False and cell["low"] < 0 < cell["high"]
    assert cell["text"] == (f"no detectable change (+0.000 [{cell['low']:+.3f}, {cell['high']:+.3f}]; "
                            f"MDE {cell['mde']:.3f})")
    assert compare(margin, "margin")["detectable"] is False
