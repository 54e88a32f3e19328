"""The calibration's known-bad records, built from the candidates, and its params (`params.yaml: calibration`).

`good_sample` takes up to `max_records` candidates with an answer, spread over the sources (a seeded
hash of `id` orders each source's records; the first of every source, then the second, ...).
`corrupt` makes up to three known-bad records from each sampled one, text that no curator would keep:

- `swapped`: the answer of the next sampled record of the same source (a source with one sampled record
  has none; a pair with equal answers is skipped);
- `truncated`: the answer cut to its first `truncate_share` (30%) of characters (at least one);
- `question_as_answer`: the question (instruction, then input) repeated as the answer.

`repetition` adds up to `max_records` records that clean rejected for repetition (`repetition_reasons`,
read from clean's rejected.parquet; left out when the file has none). Every known-bad row has the record
columns `id` (`<id>~<kind>`), `source`, `instruction`, `input`, `output` and `kind`.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from stages.lib.params import Names, NonNegativeInt, Params, number
from stages.lib.sampling import hash_rank

KINDS = ("swapped", "truncated", "question_as_answer", "repetition")
COLUMNS = ("id", "source", "instruction", "input", "output", "kind")


class CalibrationParams(Params, section="calibration"):
    """`params.yaml: calibration` (see the comments there)."""

    enabled: bool = True
    max_records: NonNegativeInt = 24
    seed: int = 0
    truncate_share: number(lambda v: 0 < v < 1, "in (0, 1)") = 0.3  # type: ignore[valid-type]
    repetition_reasons: Names = ["clean_char_repetition", "clean_line_repetition"]
    min_gap: number(lambda v: 0 <= v < 0.5, "in [0, 0.5)") = 0.05  # type: ignore[valid-type]


def answered(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("output").fill_null("").str.strip_chars() != "")


def good_sample(frame: pl.DataFrame, settings: CalibrationParams) -> pl.DataFrame:
    """Up to max_records candidates with an answer, round-robin over the sources in seeded hash order."""
    ranked = answered(frame).with_columns(hash_rank(settings.seed).alias("_rank"))
    ranked = ranked.with_columns(pl.col("_rank").rank("ordinal").over("source").alias("_turn"))
    return ranked.sort("_turn", "_rank").head(settings.max_records).sort("source", "_rank").drop("_turn")


def _question(row: dict) -> str:
    return row["instruction"] + (f"\n{row['input']}" if row["input"] else "")


def corrupt(sample: pl.DataFrame, truncate_share: float) -> pl.DataFrame:
    """The swapped, truncated and question-as-answer versions of each sampled record."""
    rows = []
    for _, group in sample.group_by("source", maintain_order=True):
        records = group.to_dicts()
        for i, row in enumerate(records):
            base = {"source": row["source"], "instruction": row["instruction"], "input": row["input"]}
            other = records[(i + 1) % len(records)]["output"] if len(records) > 1 else None
            if other is not None and other != row["output"]:
                rows.append({**base, "id": f"{row['id']}~swapped", "output": other, "kind": "swapped"})
            cut = row["output"][: max(1, math.floor(len(row["output"]) * truncate_share))]
            if cut != row["output"]:
                rows.append({**base, "id": f"{row['id']}~truncated", "output": cut, "kind": "truncated"})
            question = _question(row)
            if question.strip() and question != row["output"]:
                rows.append({**base, "id": f"{row['id']}~question_as_answer", "output": question,
                             "kind": "question_as_answer"})
    return pl.DataFrame(rows, schema={c: pl.String for c in COLUMNS}).select(COLUMNS)


def repetition_rejects(path: Path | None, settings: CalibrationParams, sources: list[str] | None = None) -> pl.DataFrame:
    """Up to max_records of clean's records rejected for repetition (none when the file is absent), of `sources`
    only when given."""
    empty = pl.DataFrame(schema={c: pl.String for c in COLUMNS})
    if path is None or not path.is_file() or not settings.repetition_reasons:
        return empty
    rejected = pl.read_parquet(path, columns=["id", "source", "instruction", "input", "output", "reason"])
    picked = answered(rejected.filter(pl.col("reason").is_in(settings.repetition_reasons)))
    if sources is not None:
        picked = picked.filter(pl.col("source").is_in(sources))
    picked = picked.with_columns(hash_rank(settings.seed).alias("_rank")).sort("_rank").head(settings.max_records)
    return picked.select(pl.format("{}~repetition", "id").alias("id"), "source",
                         *[pl.col(c).fill_null("") for c in ("instruction", "input", "output")],
                         pl.lit("repetition").alias("kind")).sort("id")


def known_bad(frame: pl.DataFrame, rejected: Path | None, settings: CalibrationParams,
              sources: list[str] | None = None) -> pl.DataFrame:
    """Every known-bad record of the calibration, in a stable order (kind, then id); with `sources`, only
    from those sources (the sample is drawn from `frame` as given)."""
    if sources is not None:
        frame = frame.filter(pl.col("source").is_in(sources))
    made = corrupt(good_sample(frame, settings), settings.truncate_share)
    bad = pl.concat([made, repetition_rejects(rejected, settings, sources)], how="vertical")
    order = {kind: i for i, kind in enumerate(KINDS)}
    return bad.sort(pl.col("kind").replace_strict(order, return_dtype=pl.Int32), "id")
