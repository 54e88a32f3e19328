"""The SFT set's scores, for the manifest, the dataset card and `dvc plots`.

- `distributions`: per score (stages/sft/select.py `SCORES`) and source of the set, `n` (records with the
  score), `min`, `p25`, `median`, `p75`, `max` (linear quantiles, 4 decimals); a score no record has is left out.
- `judge_identity`: the judge models and rubric hashes (sha256 of the rubric file) the set's records were
  judged with (the judge stage's `judge_model` and `judge_rubric` columns; empty when nothing was judged).
- `histogram_csv`: `reports/assemble/score_histograms.csv`, `score,source,bin,records`: per score, 10 bins of
  equal width between the set's smallest and largest value of it (`bin` is the lower edge, 4 significant
  digits; the last bin holds the largest value), a row per source and bin; drawn by plots/score_histogram.json.
- `scores_section`: the card's "Selection and scores" section: the bounds `assemble.select` applied, the
  judge, and the distributions.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from stages.lib import escape
from stages.sft.select import SCORES

BINS = 10


def distributions(kept: pl.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for score in SCORES:
        if score not in kept.columns or kept[score].drop_nulls().is_empty():
            continue
        col = pl.col(score)
        table = (kept.filter(col.is_not_null()).group_by("source")
                 .agg(pl.len().alias("n"), col.min().alias("min"),
                      col.quantile(0.25, interpolation="linear").alias("p25"), col.median().alias("median"),
                      col.quantile(0.75, interpolation="linear").alias("p75"), col.max().alias("max"))
                 .sort("source"))
        found[score] = {row.pop("source"): {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
                        for row in table.iter_rows(named=True)}
    return found


def judge_identity(kept: pl.DataFrame) -> dict[str, list[str]]:
    def values(name: str) -> list[str]:
        return kept[name].drop_nulls().unique().sort().to_list() if name in kept.columns else []

    return {"models": values("judge_model"), "rubrics": values("judge_rubric")}


def histogram_csv(kept: pl.DataFrame) -> str:
    lines = ["score,source,bin,records"]
    for score in SCORES:
        values = kept.filter(pl.col(score).is_not_null()) if score in kept.columns else kept.head(0)
        if values.is_empty():
            continue
        low, high = float(values[score].min()), float(values[score].max())
        width = (high - low) / BINS or 1.0
        binned = values.with_columns(((pl.col(score) - low) / width).floor().clip(0, BINS - 1).cast(pl.Int64)
                                     .alias("_bin"))
        counts = {(s, b): n for s, b, n in binned.group_by("source", "_bin").len().iter_rows()}
        for source in sorted(values["source"].unique().to_list()):
            for index in range(BINS if high > low else 1):
                edge = float(f"{low + index * width:.4g}")
                lines.append(f"{score},{source},{edge},{counts.get((source, index), 0)}")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return escape.markdown(str(value))


def scores_section(selection: dict[str, Any], judge: dict[str, list[str]],
                   found: dict[str, dict[str, dict[str, Any]]]) -> str:
    if selection:
        rows = [f"| {_cell(where)} | {_cell(score)} | {_cell(', '.join(f'{k} {v}' for k, v in bounds.items()))} |"
                for where, scores in selection.items() for score, bounds in scores.items()]
        applied = ("Records outside these bounds were dropped (`select_*` reasons in the curation table; "
                   "`assemble.select` in params.yaml):\n\n| applies to | score | bounds |\n|---|---|---|\n"
                   + "\n".join(rows) + "\n")
    else:
        applied = "No selection by score was applied (`assemble.select` sets no bound).\n"
    judged = (f"Judge model: {', '.join(escape.markdown_code(m) for m in judge['models'])}; rubric sha256: "
              f"{', '.join(escape.markdown_code(r) for r in judge['rubrics'])}.\n" if judge["models"]
              else "No record of the set was judged.\n")
    table = ["| score | source | records | min | p25 | median | p75 | max |", "|---|---|---|---|---|---|---|---|"]
    table += [f"| {score} | {_cell(source)} | {d['n']} | {d['min']} | {d['p25']} | {d['median']} | {d['p75']} | "
              f"{d['max']} |" for score, by in found.items() for source, d in by.items()]
    return ("\n## Selection and scores\n\n" + applied + "\n" + judged +
            "\nScores of the set's records per source (`ppl`, `ifd`: the base model's answer perplexity and "
            "instruction-following difficulty; `judge_score`: the judge's overall 1-10; `score_quality`: the "
            "quality classifier's P(good); histograms: `reports/assemble/score_histograms.csv`, "
            "`dvc plots show`):\n\n" + ("\n".join(table) + "\n" if found else "No record has a score.\n"))
