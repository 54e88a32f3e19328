"""The `normalize` stage's work on record frames: OpenCC per source, width, punctuation.

`run_normalize` reads one records.parquet (the `train_quality` stage's kept
records), runs `normalize_records` on it (in this process, in batches with
progress through `stages.engine.batches.map_batches`, or in Ray blocks through
`stages.engine.frames.map_files`) and writes it through the stage
contract: every row is kept, extra columns (the score columns) are carried in
their order. The text tables are in `normalize_text`.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import polars as pl

from stages.clean.normalize_text import (NormalizeParams, PUNCT_HINT, WIDTH_HINT, convert_text, normalise_punct,
                                           normalise_width)
from stages.clean.opencc_tables import changing_pattern
from stages.clean.segments import CODE_MATH_URL, CODE_MATH_URL_HINT, SENTINEL, mask, unmask
from stages.clean.steps import TEXT_FIELDS, StepTimer, TransformLog, apply_expr, apply_python
from stages.engine.batches import map_batches
from stages.engine.config import EngineParams
from stages.lib.contract import write_stage_outputs
from stages.lib.errors import StageError
from stages.lib.record import RECORD_SCHEMA, empty_rejected


def convert_masked(masked: pl.DataFrame, configs: pl.Series, log: TransformLog) -> pl.DataFrame:
    """OpenCC per config group, only on texts holding a key it replaces (`opencc_tables`); records
    whose text changed get `opencc:<config>`."""
    for config in sorted(set(configs.to_list())):
        group = None if configs.n_unique() == 1 else dict.fromkeys(masked.columns, (configs == config).arg_true())
        convert = functools.partial(convert_text, config=config)
        masked, changed = apply_python(masked, convert, changing_pattern(config), group)
        log.record(f"opencc:{config}", changed)
    return masked


def normalize_texts(texts: pl.DataFrame, configs: pl.Series, params: NormalizeParams,
                    timer: StepTimer) -> tuple[pl.DataFrame, TransformLog]:
    """Normalise the text columns; `configs` gives each row's OpenCC config."""
    log = TransformLog()
    with timer.step("mask"):
        hidden = mask(texts, CODE_MATH_URL, CODE_MATH_URL_HINT)
    masked = hidden.texts
    with timer.step("opencc"):
        masked = convert_masked(masked, configs, log)
    if params.width:
        with timer.step("width"):
            masked, changed = apply_expr(masked, normalise_width, WIDTH_HINT)
            log.record("normalize:width", changed)
    if params.punct:
        with timer.step("punct"):
            masked, changed = apply_expr(masked, normalise_punct, PUNCT_HINT)
            log.record("normalize:punct", changed)
    with timer.step("unmask"):
        return unmask(hidden, masked), log


def normalize_records(records: pl.DataFrame, params: NormalizeParams,
                      timer: StepTimer | None = None) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Return (normalised records, extra metrics); extra columns of `records` are kept."""
    timer = timer or StepTimer()
    texts = records.select(pl.col(name).fill_null("") for name in TEXT_FIELDS)
    if texts.select(pl.any_horizontal(pl.col(name).str.contains(SENTINEL, literal=True).any()
                                      for name in TEXT_FIELDS)).item():
        raise StageError("normalize: input contains U+FDD0 (a noncharacter); run the clean stage first")
    configs = records.select(
        pl.col("source").replace_strict(params.opencc_by_source, default=params.opencc_default,
                                        return_dtype=pl.String)
    ).to_series()
    normalised, log = normalize_texts(texts, configs, params, timer)
    out = records.with_columns(normalised.get_columns())
    out = out.with_columns(log.append_to(out["transforms"]))
    by_config = configs.value_counts().sort(configs.name)
    extra = {"transforms": log.counts(), "opencc_records": {config: int(n) for config, n in by_config.iter_rows()}}
    return out, extra


def normalize_block(records: pl.DataFrame, params: NormalizeParams):
    """normalize_records on one block, as (kept, rejected, extra metrics) (what a Ray worker runs)."""
    out, extra = normalize_records(records, params)
    return out, empty_rejected(), extra


def run_normalize(input_path: Path, out_dir: Path, metrics_path: Path, params: NormalizeParams,
                  engine: EngineParams | None = None) -> dict[str, Any]:
    """Normalise every record of `input_path` into `out_dir`; return the metrics."""
    started = time.perf_counter()
    if not input_path.is_file():
        raise StageError(f"{input_path}: input not found (run the train_quality stage first)")
    if engine is not None and engine.kind == "ray":
        from stages.engine.frames import map_files, parquet_rows

        columns = pl.read_parquet_schema(input_path)
        block = functools.partial(normalize_block, params=params)
        out, _, extra = map_files([input_path], block, engine, "normalize")
        out = out.select(pl.col(name).cast(dtype) for name, dtype in columns.items())
        rows_in = parquet_rows([input_path])
    else:
        records = pl.read_parquet(input_path)
        columns, rows_in = records.schema, records.height
        out, _, extra = map_batches(records, functools.partial(normalize_block, params=params), "normalize")
    extra_columns = tuple(name for name in columns if name not in RECORD_SCHEMA)
    return write_stage_outputs("normalize", out_dir, metrics_path, kept=out, rejected=empty_rejected(),
                               rows_in=rows_in, started=started, extra_columns=extra_columns,
                               extra_metrics=extra)
