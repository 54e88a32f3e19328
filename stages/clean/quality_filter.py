"""The `train_quality` stage's work: label clean's output, train the classifier, score, filter.

Runs after `clean`, on its `records.parquet` (kept) and `rejected.parquet`:
- off (`enabled: false`, the default): every kept record passes through with
  `score_quality` null, and no model is written;
- on: good examples are kept records matching every `positive` field value,
  bad ones rejected records with one of `negative_reasons`; their prose
  (code, LaTeX, URLs left out) trains the fastText model (`quality.train`, in a
  spawned process), which scores every kept record (`score_quality`, P(good)),
  and with `min_quality` set a record scoring under it is dropped as
  `quality_low`. The model is written as `model.bin` beside the records.
Metrics add `enabled` and, when on, the example counts and training accuracy.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from stages.clean import quality
from stages.clean.quality import TrainQualityParams
from stages.clean.scores import joined_prose
from stages.clean.segments import CODE_MATH_URL, CODE_MATH_URL_HINT, mask
from stages.clean.steps import TEXT_FIELDS
from stages.lib.contract import Filter, split_by_filters, write_stage_outputs
from stages.lib.errors import StageError
from stages.lib.progress import tracker
from stages.lib.record import RECORD_SCHEMA

QUALITY_COLUMN = "score_quality"
REASON = "quality_low"
SCORE_BATCH = 20_000  # records per predict call (one progress update each)


def read_clean(in_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, rejected) of the clean stage's output folder."""
    frames = []
    for name in ("records.parquet", "rejected.parquet"):
        path = in_dir / name
        if not path.is_file():
            raise StageError(f"{path}: not found (run the clean stage first)")
        frames.append(pl.read_parquet(path))
    return frames[0], frames[1]


def feature_texts(frame: pl.DataFrame) -> list[str]:
    """The classifier's input per record: its prose (code, LaTeX, URLs masked out), tokenised."""
    hidden = mask(frame.select(pl.col(name).fill_null("") for name in TEXT_FIELDS), CODE_MATH_URL, CODE_MATH_URL_HINT)
    return hidden.texts.select(quality.features(joined_prose(list(TEXT_FIELDS)))).to_series().to_list()


def examples(kept: pl.DataFrame, kept_features: list[str], rejected: pl.DataFrame,
             params: TrainQualityParams) -> tuple[list[str], list[str]]:
    """(good, bad) feature strings as configured, each in id order; the good ones are picked from the
    kept records' features (`kept_features`, row for row), which scoring uses too."""
    condition = pl.all_horizontal(pl.col(field) == value for field, value in params.positive.items())
    good_rows = kept.with_row_index("_row").filter(condition).sort("id")["_row"].to_list()
    bad = rejected.filter(pl.col("reason").is_in(params.negative_reasons))
    return [kept_features[row] for row in good_rows], feature_texts(bad.sort("id"))


def train_model(kept: pl.DataFrame, kept_features: list[str], rejected: pl.DataFrame, params: TrainQualityParams,
                target: Path) -> tuple[Any, dict[str, Any]]:
    """Train on clean's output; return the model and what to report about it."""
    good, bad = examples(kept, kept_features, rejected, params)
    if min(len(good), len(bad)) < params.min_examples:
        raise StageError(f"train_quality: {len(good)} good and {len(bad)} bad examples; each needs at least "
                         f"min_examples ({params.min_examples}): adjust positive or negative_reasons")
    with tracker("train_quality: train", total=len(good) + len(bad), unit="example") as shown:
        model = quality.train(good, bad, params, target)
        shown.update(len(good) + len(bad))
    predicted = quality.good_probability(model, good + bad)
    correct = sum(p >= 0.5 for p in predicted[:len(good)]) + sum(p < 0.5 for p in predicted[len(good):])
    return model, {"good_examples": len(good), "bad_examples": len(bad),
                   "train_accuracy": round(correct / (len(good) + len(bad)), 4)}


def quality_filters(params: TrainQualityParams) -> list[Filter]:
    if params.min_quality is None:
        return []
    threshold = pl.lit(params.min_quality)
    return [Filter(REASON, pl.col(QUALITY_COLUMN) < threshold,
                   pl.format("quality {} < min_quality {}", pl.col(QUALITY_COLUMN), threshold))]


def score_and_filter(kept: pl.DataFrame, model: Any | None, params: TrainQualityParams,
                     kept_features: list[str] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(passed, dropped): `kept` with `score_quality` (null without a model), split by `min_quality`;
    `kept_features` are `feature_texts(kept)` when the caller has them already."""
    scores: list[float | None] = [None] * kept.height
    if model is not None and kept.height:
        features, scores = kept_features or feature_texts(kept), []
        with tracker("train_quality: score", total=len(features), unit="record") as shown:
            for start in range(0, len(features), SCORE_BATCH):
                scores += quality.good_probability(model, features[start:start + SCORE_BATCH])
                shown.update(len(features[start:start + SCORE_BATCH]))
    scored = kept.with_columns(pl.Series(QUALITY_COLUMN, scores, dtype=pl.Float64))
    return split_by_filters(scored, quality_filters(params))


def run_train_quality(in_dir: Path, out_dir: Path, metrics_path: Path, params: TrainQualityParams) -> dict[str, Any]:
    """Score (and filter) clean's kept records into `out_dir`; return the metrics."""
    started = time.perf_counter()
    kept, rejected = read_clean(in_dir)
    extra_columns = (*(c for c in kept.columns if c not in RECORD_SCHEMA and c != QUALITY_COLUMN), QUALITY_COLUMN)
    info: dict[str, Any] = {"enabled": params.enabled}
    with tempfile.TemporaryDirectory(prefix="train_quality.") as tmp:
        model_file, model = Path(tmp) / quality.MODEL_NAME, None
        features = feature_texts(kept) if params.enabled else None  # masked and tokenised once
        if params.enabled:
            model, trained = train_model(kept, features, rejected, params, model_file)
            info.update(trained)
        passed, dropped = score_and_filter(kept, model, params, features)

        def with_model(folder: Path) -> None:  # the model goes into the output folder with the records
            if model is not None:
                shutil.copyfile(model_file, folder / quality.MODEL_NAME)

        return write_stage_outputs("train_quality", out_dir, metrics_path, kept=passed, rejected=dropped,
                                   rows_in=kept.height, started=started, extra_columns=extra_columns,
                                   extra_metrics=info, extra_files=with_model)


def model_summary(metrics: dict[str, Any]) -> str:
    """What the summary line adds after the counts."""
    if not metrics["enabled"]:
        return "classifier off (train_quality.enabled: false), score_quality left empty"
    return (f"{metrics['good_examples']} good and {metrics['bad_examples']} bad examples, "
            f"train accuracy {metrics['train_accuracy']:.3f}")
