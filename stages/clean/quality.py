"""The optional fastText quality classifier: its params, features, training, scoring.

A supervised fastText model with two labels, `__label__good` and
`__label__bad`. Chinese has no spaces, so each Han character becomes a token
and `word_ngrams: 2` adds character bigrams; Latin words stay whole. The model
sees the prose (code, LaTeX, URLs left out) of instruction + input + output,
at most `MAX_CHARS` characters. Training runs on one thread with a fixed seed
and sorted examples; even so, fasttext-numpy2 0.10.4 does not give bit-identical
weights from run to run (the scores differ in the last digits), so the model is
a cached DVC output that is retrained only when its inputs change.

`params.yaml: train_quality` (`TrainQualityParams`): `enabled`, the labels
(`positive`: record field values of a good kept record; `negative_reasons`:
clean reasons of a bad rejected one), `min_examples` per label, `min_quality`
(the threshold of the `quality_low` filter; null = off, and it needs
`enabled: true`) and fastText's supervised options.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from stages.clean.filters import REASONS
from stages.lib.errors import StageError
from stages.lib.params import Fraction, NonNegativeInt, Params, PositiveFloat, PositiveInt, check, require_known
from stages.lib.record import RECORD_SCHEMA

MAX_CHARS = 2000
GOOD, BAD = "__label__good", "__label__bad"
MODEL_NAME = "model.bin"


class TrainQualityParams(Params, section="train_quality"):
    """`params.yaml: train_quality`."""

    enabled: bool
    positive: Annotated[dict[str, Any], check(bool, "a non-empty mapping of record field to value")]
    negative_reasons: Annotated[list[Literal[REASONS]], check(bool, "a non-empty list of clean reasons")]
    min_examples: NonNegativeInt
    min_quality: Fraction | None = None
    epoch: PositiveInt
    lr: PositiveFloat
    word_ngrams: PositiveInt
    dim: PositiveInt
    bucket: NonNegativeInt  # hash buckets of the word n-grams: >= 1 when word_ngrams > 1 (fastText dies on 0)
    min_count: NonNegativeInt
    seed: NonNegativeInt

    @field_validator("positive")
    @classmethod
    def _record_fields(cls, positive: dict[str, Any]) -> dict[str, Any]:
        require_known(positive, RECORD_SCHEMA.names(), "not a record field", "record fields")
        return positive

    @field_validator("bucket")
    @classmethod
    def _buckets_for_ngrams(cls, value: int, info: ValidationInfo) -> int:
        if value == 0 and (info.data.get("word_ngrams") or 1) > 1:
            raise PydanticCustomError("value_rule", "must be >= 1 when word_ngrams > 1 (the n-grams are hashed "
                                      "into these buckets), got {got}", {"got": value})
        return value

    @field_validator("min_quality")
    @classmethod
    def _needs_a_model(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("enabled") is False:
            raise PydanticCustomError("value_rule", "needs enabled: true (without a model nothing is scored), "
                                      "got {got}", {"got": value})
        return value


def features(prose_text: pl.Expr) -> pl.Expr:
    """Lower-cased prose with a space around every Han character, on one line."""
    text = prose_text.str.slice(0, MAX_CHARS).str.to_lowercase()
    return text.str.replace_all(r"(\p{Han})", " ${1} ").str.replace_all(r"\s+", " ").str.strip_chars()


def train(good: list[str], bad: list[str], options: TrainQualityParams, target: Path) -> Any:
    """Train on feature strings of good and bad examples; save to `target` (a model.bin path)."""
    lines = [f"{GOOD} {text}" for text in good] + [f"{BAD} {text}" for text in bad]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")
        model = _train_supervised(train_file, options)
        tmp_model = Path(tmp) / MODEL_NAME
        model.save_model(str(tmp_model))
        tmp_model.replace(target)
    return model


def _fit_and_save(train_file: str, options: TrainQualityParams, model_file: str) -> str | None:
    """In a fresh process: train and save; the fastText error text, or None."""
    import fasttext

    try:
        fasttext.train_supervised(
            input=train_file, epoch=options.epoch, lr=options.lr, wordNgrams=options.word_ngrams,
            dim=options.dim, bucket=options.bucket, minCount=options.min_count, seed=options.seed,
            thread=1, verbose=0,
        ).save_model(model_file)
    except RuntimeError as exc:  # fastText reports divergence as "Encountered NaN."
        return str(exc)
    return None


def _train_supervised(train_file: Path, options: TrainQualityParams) -> Any:
    """fastText's supervised training, in a fresh process.

    In a process that has already done other numeric work (a torch training run, in the test suite),
    fasttext-numpy2 reports "Encountered NaN." for the same data and seed that train cleanly in a new
    process (it reads memory it did not initialise, which also makes its weights differ in the last
    digits from run to run). A spawned process gives every run the same clean start; a real divergence
    (lr too high) still fails, and the error says what to change.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    model_file = train_file.with_name("fresh.bin")
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        error = pool.submit(_fit_and_save, str(train_file), options, str(model_file)).result()
    if error is not None:
        raise StageError(f"quality model training failed ({error}); try a lower train_quality.lr")
    return load(model_file)


def load(path: Path) -> Any:
    import fasttext

    if not path.is_file():
        raise StageError(f"{path}: quality model not found")
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    return fasttext.load_model(str(path))


def good_probability(model: Any, feature_texts: list[str]) -> list[float]:
    """P(good) per feature string, from one batched predict call."""
    labels, probs = model.predict(feature_texts, k=2)
    scores = []
    for names, values in zip(labels, probs):
        by_label = dict(zip(names, (float(v) for v in values)))
        scores.append(round(min(by_label.get(GOOD, 0.0), 1.0), 4))
    return scores
