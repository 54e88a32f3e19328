"""The familiarity stage's run: score every candidate's answer-only perplexity and IFD, filter, summarise, write.

See stages/familiarity.py for the columns and the filter, stages/llm/perplexity.py for the scores.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.contract import Filter, split_by_filters, write_stage_outputs
from stages.lib.errors import StageError
from stages.lib.progress import quiet_libraries
from stages.lib.record import RECORD_SCHEMA
from stages.llm.base import load_model, place, read_model_dir, resolve_device
from stages.llm.columns import EXTRA
from stages.llm.perplexity import AnswerPerplexity, FamiliarityParams, FilterParams, answer_perplexities
from stages.llm.report import write_summaries

SCORE_COLUMNS = {"ppl": pl.Float64, "ppl_tokens": pl.Int64, "ifd": pl.Float64,
                 "loss_answer_given_question": pl.Float64, "loss_answer_alone": pl.Float64}
EXTRA_COLUMNS = (*EXTRA, *SCORE_COLUMNS)


def combine(records: pl.DataFrame, rewrites: pl.DataFrame | None) -> pl.DataFrame:
    """Curated records and rewrites in one frame, with the rewrite columns (null for curated records)."""
    frames = [records] if rewrites is None else [records, rewrites]
    frames = [f.with_columns(pl.lit(None, dtype).alias(c) for c, dtype in EXTRA.items() if c not in f.columns)
              for f in frames]
    combined = pl.concat([f.select(*RECORD_SCHEMA.names(), *EXTRA) for f in frames], how="vertical_relaxed")
    duplicated = combined.filter(pl.col("id").is_duplicated())["id"].unique().sort().to_list()
    if duplicated:
        raise StageError(f"familiarity: ids in both records and rewrites: {', '.join(duplicated[:5])}")
    return combined


def threshold(scored: pl.Series, settings: FilterParams) -> tuple[float | None, str]:
    """The ppl above which records are dropped, and which setting set it."""
    candidates = []
    if settings.max_ppl is not None:
        candidates.append((float(settings.max_ppl), f"max_ppl {settings.max_ppl}"))
    if settings.keep_quantile is not None and scored.len() > 0:
        value = scored.quantile(settings.keep_quantile, interpolation="linear")
        candidates.append((float(value), f"keep_quantile {settings.keep_quantile}"))
    return min(candidates) if candidates else (None, "")


def score(frame: pl.DataFrame, model_dir: Path, settings: FamiliarityParams) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Add the `SCORE_COLUMNS` (null for records of sources not in `settings.sources`, when it names some); loads
    the base model only when some chosen output is non-empty."""
    spec = read_model_dir(model_dir)
    device = resolve_device(settings.device, "familiarity.device")
    chosen = frame["source"].is_in(settings.sources) if settings.sources else pl.repeat(True, frame.height, eager=True)
    rows = [(i, n, o if keep else "") for (i, n, o), keep in
            zip(frame.select("instruction", "input", "output").rows(), chosen)]  # not chosen: not scored
    scores = [AnswerPerplexity(None, 0)] * frame.height
    if any(output and output.strip() for _, _, output in rows):
        model, tokenizer = load_model(spec, settings.threads)
        scores = answer_perplexities(place(model, device), tokenizer, rows, settings.batch_size, settings.max_length)
    values = {"ppl": [s.ppl for s in scores], "ppl_tokens": [s.tokens for s in scores], "ifd": [s.ifd for s in scores],
              "loss_answer_given_question": [s.loss for s in scores],
              "loss_answer_alone": [s.loss_alone for s in scores]}
    scored = frame.with_columns(pl.Series(name, values[name], dtype=dtype) for name, dtype in SCORE_COLUMNS.items())
    return scored, {"model": spec.name, "device": device, "truncated": sum(s.truncated for s in scores),
                    "sources": settings.sources or "all", "not_chosen": int((~chosen).sum())}


def run_familiarity(settings: FamiliarityParams, records_path: Path, rewrites_path: Path | None, model_dir: Path,
                    out_dir: Path, reports_dir: Path, metrics_path: Path) -> dict[str, Any]:
    """The whole stage: score records and rewrites, filter, write the summaries and outputs; the metrics."""
    started = time.perf_counter()
    quiet_libraries()  # library progress bars only on a terminal
    for path in (records_path, rewrites_path):
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"{path}: records not found")
    rewrites = pl.read_parquet(rewrites_path) if rewrites_path is not None else None
    frame, info = score(combine(pl.read_parquet(records_path), rewrites), model_dir, settings)
    ppl = frame["ppl"].drop_nulls()
    limit, why = threshold(ppl, settings.filter)
    filters = [] if limit is None else [Filter(
        "familiarity_unfamiliar", pl.col("ppl") > limit,
        pl.format("ppl {} > {} ({})", pl.col("ppl").round(3), pl.lit(round(limit, 3)), pl.lit(why)))]
    kept, rejected = split_by_filters(frame, filters)
    medians = frame.group_by("answer_from").agg(pl.col("ppl").median()).drop_nulls().sort("answer_from")
    ifd = frame["ifd"].drop_nulls()
    extra = {**info, "scored": ppl.len(), "unscored": frame.height - ppl.len(),
             "ppl_median": round(ppl.median(), 4) if ppl.len() else None,
             "ifd_median": round(ifd.median(), 4) if ifd.len() else None, "ifd_above_1": int((ifd > 1).sum()),
             "threshold": None if limit is None else round(limit, 4),
             "ppl_median_by_answer_from": {k: round(v, 4) for k, v in medians.iter_rows()}}
    return write_stage_outputs("familiarity", out_dir, metrics_path, kept=kept, rejected=rejected,
                               rows_in=frame.height, started=started, extra_columns=EXTRA_COLUMNS,
                               extra_metrics=extra, reports_dir=reports_dir,
                               reports=lambda folder: write_summaries(frame.filter(pl.col("ppl").is_not_null()),
                                                                      folder))
