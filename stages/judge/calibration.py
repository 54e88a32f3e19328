"""Calibration: how well each score tells the candidates from known-bad records (stages/judge/known_bad.py).

The known-bad records are scored by the same scorers as the candidates: `ppl` and `ifd` by familiarity's
(stages/llm/perplexity.py, `params.yaml: familiarity`'s batch size, length, device and threads) and
`judge_score` by the judge's backend (`params.yaml: judge`; not with `judge.enabled: false`). The good
side is every candidate with an answer, with the scores the familiarity and judge stages gave it. Known-bad
records are made only from the sources whose candidates carry a score, and a score's overall AUC compares
only the sources where the candidates have that score (`counts.compared`): an English-only familiarity
(`familiarity.sources: [mmlu]`) is not credited for finding Chinese known-bad text unlike English candidates.
`score_quality` is left out: train_quality keeps no classifier to score new text with.

`calibration_report` computes, per score (oriented by `CALIBRATED`: lower ppl and ifd, higher judge score
count as better), its AUC against each kind of known-bad record and all of them, overall and per source
(stages/judge/separation.py: the 95% interval and whether it is no better than chance); the Spearman
correlation of the scores with each other (candidates), overall and per source, and with `human_verified`
in every source where the candidates have both values; and a threshold table: for a few thresholds of each
score (its 10/25/50/75/90% quantiles over the candidates, plus ifd 1 and judge 8, COIG-CQIA's Zhihu cut),
the share of each source's candidates a selection at that threshold would keep.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from stages.judge.known_bad import KINDS, CalibrationParams, answered, known_bad
from stages.judge.separation import separation, spearman

CALIBRATED = {"ppl": "low", "ifd": "low", "judge_score": "high"}  # the end that counts as good
FIXED_THRESHOLDS = {"ifd": [1.0], "judge_score": [8.0]}
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
Rows = list[tuple[str, str, str]]
Scorer = Callable[[Rows], dict[str, list[float | None]]]  # (instruction, input, output) rows -> {column: values}


def score_bad(bad: pl.DataFrame, scorers: list[Scorer]) -> pl.DataFrame:
    """The known-bad records with a column per score the scorers give (null for scores none gives)."""
    rows = bad.select("instruction", "input", "output").rows()
    values: dict[str, list[float | None]] = {}
    for scorer in scorers:
        if rows:
            values |= scorer(rows)
    return bad.with_columns(pl.Series(name, values.get(name, [None] * bad.height), dtype=pl.Float64)
                            for name in CALIBRATED)


def scored_sources(candidates: pl.DataFrame, scores: tuple[str, ...] = tuple(CALIBRATED)) -> list[str]:
    """The sources whose answered candidates have a value of at least one of `scores` (familiarity may score only
    some sources, e.g. `familiarity.sources: [mmlu]`, and the judge may be off)."""
    present = [s for s in scores if s in candidates.columns]
    if not present:
        return []
    scored = answered(candidates).filter(pl.any_horizontal(pl.col(s).cast(pl.Float64).fill_nan(None).is_not_null()
                                                           for s in present))
    return sorted(scored["source"].unique().to_list())


def _aucs(good: pl.DataFrame, bad: pl.DataFrame, score: str, min_gap: float) -> dict[str, Any]:
    found = {"all": separation(good[score].to_list(), bad[score].to_list(), CALIBRATED[score], min_gap)}
    for kind in KINDS:
        found[kind] = separation(good[score].to_list(), bad.filter(pl.col("kind") == kind)[score].to_list(),
                                 CALIBRATED[score], min_gap)
    return found


def _agreement(frame: pl.DataFrame) -> dict[str, float | None]:
    names = list(CALIBRATED)
    return {f"{a}~{b}": spearman(frame[a].to_list(), frame[b].to_list())
            for i, a in enumerate(names) for b in names[i + 1:]}


def thresholds(good: pl.DataFrame, score: str) -> list[dict[str, Any]]:
    """For each threshold: the share of each source's candidates (and of all) with the score on the good side
    (at or below it for ppl and ifd, at or above it for the judge); a record without the score is not kept."""
    values = good[score].drop_nulls()
    if not values.len():
        return []
    cuts = sorted({round(float(values.quantile(q, interpolation="linear")), 4) for q in QUANTILES}
                  | set(FIXED_THRESHOLDS.get(score, [])))
    sources = sorted(good["source"].unique().to_list())
    table = []
    for cut in cuts:
        keep = pl.col(score) <= cut if CALIBRATED[score] == "low" else pl.col(score) >= cut
        kept = {s: round(float(good.filter(pl.col("source") == s).select(keep.fill_null(False).mean()).item()), 4)
                for s in sources}
        table.append({"threshold": cut, "keeps": f"{score} {'<=' if CALIBRATED[score] == 'low' else '>='} {cut}",
                      "all": round(float(good.select(keep.fill_null(False).mean()).item()), 4), "by_source": kept})
    return table


def human_agreement(good: pl.DataFrame) -> dict[str, dict[str, float | None]]:
    """{source: {score: Spearman with human_verified}} for sources whose candidates have both values."""
    found = {}
    for source in sorted(good["source"].unique().to_list()):
        part = good.filter(pl.col("source") == source)
        flags = part["human_verified"].drop_nulls()
        if flags.n_unique() == 2:
            verified = part["human_verified"].cast(pl.Float64).to_list()
            found[source] = {score: spearman(part[score].to_list(), verified) for score in CALIBRATED}
    return found


def calibration_report(candidates: pl.DataFrame, bad: pl.DataFrame, settings: CalibrationParams,
                       about: dict[str, Any]) -> dict[str, Any]:
    """The report's data (calibration.json) from the scored candidates and scored known-bad records."""
    good = answered(candidates).with_columns(
        (pl.col(s).cast(pl.Float64).fill_nan(None) if s in candidates.columns else pl.lit(None, pl.Float64)).alias(s)
        for s in CALIBRATED)
    sources = sorted(set(good["source"].to_list()) | set(bad["source"].to_list()))
    compared = {score: scored_sources(good, (score,)) for score in CALIBRATED}
    auc = {score: {"overall": _aucs(good, bad.filter(pl.col("source").is_in(compared[score])), score, settings.min_gap),
                   "by_source": {s: _aucs(good.filter(pl.col("source") == s), bad.filter(pl.col("source") == s),
                                          score, settings.min_gap) for s in sources}} for score in CALIBRATED}
    return {
        "kind": "cqia-calibration", "version": 1, **about,
        "settings": settings.model_dump(), "better": CALIBRATED,
        "counts": {"good": good.height, "bad": {k: int((bad["kind"] == k).sum()) for k in KINDS}, "compared": compared,
                   "bad_unscored": {s: int(bad[s].is_null().sum()) for s in CALIBRATED}},
        "auc": auc,
        "spearman": {"overall": _agreement(good),
                     "by_source": {s: _agreement(good.filter(pl.col("source") == s)) for s in sources}},
        "human_verified": human_agreement(good),
        "thresholds": {score: thresholds(good, score) for score in CALIBRATED},
    }


def calibrate(candidates: pl.DataFrame, rejected: Path | None, settings: CalibrationParams,
              scorers: list[Scorer], about: dict[str, Any]) -> tuple[dict[str, Any], pl.DataFrame]:
    """(the report's data, the scored known-bad records). The known-bad records come from the sources whose
    candidates have a score (all sources when none has): a known-bad record is compared only with candidates
    of sources scored the same way, so an English-only familiarity is not credited for Chinese known-bad text."""
    bad = score_bad(known_bad(candidates, rejected, settings, scored_sources(candidates) or None), scorers)
    return calibration_report(candidates, bad, settings, about), bad
