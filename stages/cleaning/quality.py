"""The optional fastText quality classifier: features, training, scoring.

A supervised fastText model with two labels, `__label__good` and
`__label__bad`. Chinese has no spaces, so each Han character becomes a token
and `word_ngrams: 2` adds character bigrams; Latin words stay whole. The model
sees the prose (code, LaTeX, URLs left out) of instruction + input + output,
at most `MAX_CHARS` characters. Training runs on one thread with a fixed seed
and sorted examples; even so, fasttext-numpy2 0.10.4 does not give bit-identical
weights from run to run (the scores differ in the last digits), so the model is
a cached DVC output that is retrained only when its inputs change.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from stages.lib.errors import StageError

MAX_CHARS = 2000
GOOD, BAD = "__label__good", "__label__bad"
MODEL_NAME = "model.bin"


@dataclass(frozen=True)
class TrainOptions:
    epoch: int
    lr: float
    word_ngrams: int
    dim: int
    bucket: int
    min_count: int
    seed: int


def features(prose_text: pl.Expr) -> pl.Expr:
    """Lower-cased prose with a space around every Han character, on one line."""
    text = prose_text.str.slice(0, MAX_CHARS).str.to_lowercase()
    return text.str.replace_all(r"(\p{Han})", " ${1} ").str.replace_all(r"\s+", " ").str.strip_chars()


def train(good: list[str], bad: list[str], options: TrainOptions, target: Path) -> Any:
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


def _fit_and_save(train_file: str, options: TrainOptions, model_file: str) -> str | None:
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


def _train_supervised(train_file: Path, options: TrainOptions) -> Any:
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
        raise StageError(f"{path}: quality model not found; enable train_quality in params.yaml and run it first")
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
