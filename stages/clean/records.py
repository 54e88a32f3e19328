"""The `clean` stage's work on record frames: clean the texts, score, filter, write.

`run_clean` reads `<raw>/<name>/records.parquet` for exactly the configured
sources (a removed source's leftover folder is never read), runs
`clean_records` on them (on the configured engine: this process, in batches
with progress through `stages.engine.batches.map_batches`, or Ray blocks
through `stages.engine.frames.map_files`) and writes through the stage
contract. `clean_records`: the texts (`texts.clean_texts`), then every registered
filter's score columns (`registry.add_scores`), then the per-source thresholds
(`filters.build_filters`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from stages.clean.filters import SCORE_COLUMNS, SCORES, CleanParams, build_filters
from stages.clean.registry import add_scores
from stages.clean.scores import PROSE_FIELDS
from stages.clean.steps import TEXT_FIELDS, StepTimer
from stages.clean.texts import Cleaned, clean_texts
from stages.engine.batches import map_batches
from stages.engine.config import EngineParams
from stages.lib.contract import split_by_filters, write_stage_outputs
from stages.lib.errors import StageError
from stages.lib.record import RECORD_SCHEMA


def raw_files(raw_dir: Path, sources: Sequence[str]) -> list[Path]:
    """`<raw_dir>/<name>/records.parquet` of each configured source, in name order (nothing else)."""
    files = [raw_dir / name / "records.parquet" for name in sorted(sources)]
    for name, file in zip(sorted(sources), files):
        if not file.is_file():
            raise StageError(f"{file}: not found; source '{name}' is configured but not scraped "
                             f"(run: dvc repro scrape@{name})")
    return files


def load_raw(raw_dir: Path, sources: Sequence[str]) -> pl.DataFrame:
    """The configured sources' scrape outputs, in name order."""
    frames = [pl.read_parquet(file).select(RECORD_SCHEMA.names()).cast(dict(RECORD_SCHEMA))
              for file in raw_files(raw_dir, sources)]
    return pl.concat(frames, how="vertical")


def score_records(records: pl.DataFrame, cleaned: Cleaned, params: CleanParams, timer: StepTimer) -> pl.DataFrame:
    """The record frame with cleaned texts and every score column."""
    view = cleaned.prose.rename(dict(zip(TEXT_FIELDS, PROSE_FIELDS)))
    frame = pl.concat([records.drop(TEXT_FIELDS), cleaned.texts, view], how="horizontal")
    return add_scores(frame, SCORES, params, timer).drop(PROSE_FIELDS)


def clean_records(records: pl.DataFrame, params: CleanParams,
                  timer: StepTimer | None = None) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Return (kept, rejected, extra metrics) for a frame of raw records."""
    timer = timer or StepTimer()
    texts = records.select(pl.col(name).fill_null("") for name in TEXT_FIELDS)
    cleaned = clean_texts(texts, timer)
    frame = score_records(records, cleaned, params, timer)
    with timer.step("filter"):
        frame = frame.with_columns(cleaned.log.append_to(frame["transforms"]))
        kept, rejected = split_by_filters(frame, build_filters(params))
    extra = {"transforms": cleaned.log.counts(), "pii": dict(sorted(cleaned.pii_counts.items()))}
    return kept, rejected, extra


def clean_block(frame: pl.DataFrame, params: CleanParams):
    """clean_records on one block of raw records (what a Ray worker runs)."""
    return clean_records(frame.select(RECORD_SCHEMA.names()).cast(dict(RECORD_SCHEMA)), params)


def run_clean(raw_dir: Path, out_dir: Path, metrics_path: Path, params: CleanParams, sources: Sequence[str],
              engine: EngineParams | None = None) -> dict[str, Any]:
    """Clean the configured sources' raw records into `out_dir`; return the metrics."""
    started = time.perf_counter()
    if engine is not None and engine.kind == "ray":
        from stages.engine.frames import map_files, parquet_rows

        files = raw_files(raw_dir, sources)
        kept, rejected, extra = map_files(files, functools.partial(clean_block, params=params), engine, "clean")
        rows_in = parquet_rows(files)
    else:
        records = load_raw(raw_dir, sources)
        kept, rejected, extra = map_batches(records, functools.partial(clean_records, params=params), "clean")
        rows_in = records.height
    return write_stage_outputs("clean", out_dir, metrics_path, kept=kept, rejected=rejected, rows_in=rows_in,
                               started=started, extra_columns=SCORE_COLUMNS, extra_metrics=extra)
