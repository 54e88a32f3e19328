"""Score columns of the `clean` stage, computed before any threshold is applied.

All scores stay in `data/clean/records.parquet` and `rejected.parquet`, so the
thresholds in params.yaml can be retuned without recomputing anything:

- `score_chars`       characters of instruction + input + output (cleaned).
- `score_prose_chars` the same without code, LaTeX and URLs.
- `score_output_prose_chars` the output's prose characters (the answer side
                      is judged for language only with enough of them).
- `score_chinese`     how Chinese the question (prose of instruction + input)
                      is: its Han share where that settles it, else fastText
                      lid.176's mass on Chinese labels (`langid`); null
                      without letters.
- `score_chinese_output` the same for the answer (output) on its own.
- `score_char_rep`    character repetition of the output's prose (the
                      instruction's when the output is empty): the share of
                      its 10-character chunks that repeat an earlier chunk.
                      Chunks restart after each sentence end (。！？!?；; and line
                      breaks), so a repeated sentence repeats its chunks wherever
                      it stands, and a looping phrase repeats them within a line.
                      0 for normal text, near 1 for "哈哈哈..." or a looped answer.
                      Judged on the last `window` characters (default 400): a
                      generation loop runs to the end of the text, and the regex
                      chunking is the costliest score, so its input is bounded.
                      An answer quoting its question is not a loop: a chunk
                      that also occurs in the question may repeat once
                      (`quote_aware_share`).
- `score_line_rep`    the share of the same text's lines that repeat an earlier
                      line (datatrove's duplicated-line fraction), counting only
                      lines with a letter or digit: separator lines such as
                      "·" or "——" are layout, not repetition.
- `score_flagged`     occurrences of the project's flagged words in the prose of
                      all three fields (`flagged_words_zh.txt`).
The optional fastText quality classifier's `score_quality` is added after
`clean`, by the `train_quality` stage (`quality`), which trains on clean's output.
Repetition is judged on one text because instruction and output often share a
title line legitimately; code is left out of every score since repeated lines
and non-Chinese tokens are normal there.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import polars as pl

from stages.cleaning.segments import INNER_SENTINEL, SENTINEL, prose

SCORE_COLUMNS = (
    "score_chars",
    "score_prose_chars",
    "score_chinese",
    "score_output_prose_chars",
    "score_chinese_output",
    "score_char_rep",
    "score_line_rep",
    "score_flagged",
)
FLAGGED_WORDS_FILE = Path(__file__).with_name("flagged_words_zh.txt")
_SENTENCE_END = "。！？!?；;\n"


@lru_cache(maxsize=4)
def flagged_words(path: Path = FLAGGED_WORDS_FILE) -> tuple[str, ...]:
    """The word list: one per line, '#' comments and blank lines skipped, lower-cased."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip().lower()
        if word:
            words.append(word)
    return tuple(sorted(set(words)))


def total_chars(columns: list[str]) -> pl.Expr:
    return pl.sum_horizontal(pl.col(name).str.len_chars() for name in columns)


def prose_chars(masked_columns: list[str]) -> pl.Expr:
    """Characters of the masked columns, not counting the masked spans."""
    spans = f"{SENTINEL}|{INNER_SENTINEL}"
    return pl.sum_horizontal(pl.col(name).str.len_chars() - pl.col(name).str.count_matches(spans)
                             for name in masked_columns)


def joined_prose(columns: list[str], max_chars: int | None = None) -> pl.Expr:
    """Prose of several masked columns, one line break between them (at most `max_chars`)."""
    if max_chars is None:
        return pl.concat_str([prose(pl.col(name)) for name in columns], separator="\n")
    parts = [prose(pl.col(name).str.slice(0, max_chars)) for name in columns]
    return pl.concat_str(parts, separator="\n").str.slice(0, max_chars)


def repetition_text(output: str, instruction: str) -> pl.Expr:
    """The masked text repetition is judged on: the output, else the instruction."""
    text = pl.when(pl.col(output).str.strip_chars() != "").then(pl.col(output)).otherwise(pl.col(instruction))
    return prose(text)


def repetition_units(text: pl.Expr, chunk: int, window: int) -> tuple[pl.Expr, pl.Expr]:
    """(chunks, lines) of `text` as list columns, for `repeated_share`; materialise them once."""
    # Runs of four or more symbols (`------`, `======`, `……`, emoji) become one space: a separator line
    # is layout, not a loop; letters repeating ("哈哈哈哈") still count. (Lines count only with a letter.)
    window_text = text.str.slice(-window).str.replace_all(r"[^\p{L}\p{N}\s]{4,}", " ")
    chunks = window_text.str.extract_all(f"[^{_SENTENCE_END}]{{{chunk}}}")
    lines = text.str.split("\n").list.eval(pl.element().filter(pl.element().str.contains(r"[\p{L}\p{N}]")))
    return chunks, lines


def repeated_share(units: pl.Expr) -> pl.Expr:
    """Share of a list's items that repeat an earlier item (0 for fewer than two)."""
    count = units.list.len()
    return pl.when(count > 1).then(1.0 - units.list.n_unique() / count).otherwise(0.0).round(4)


def quote_aware_share(chunks: pl.Series, question: pl.Series, share: pl.Series) -> pl.Series:
    """`share` recomputed where it is above 0, not counting an answer's quotes of its question as a loop.

    A chunk that also occurs in the question repeats legitimately once (a worked solution restates the
    question, then discusses each option by quoting it); from its third occurrence it counts again, so a
    loop over the question's words is still a loop.
    """
    rows = share.gt(0).arg_true().to_list()
    if not rows:
        return share
    values = share.to_list()
    for index in rows:
        units, text, seen, repeats = chunks[index], question[index], Counter(), 0
        for unit in units:
            seen[unit] += 1
            if seen[unit] > 1 and not (seen[unit] == 2 and unit in text):
                repeats += 1
        values[index] = round(repeats / len(units), 4)
    return pl.Series(share.name, values, dtype=share.dtype)


def flagged_count(masked_columns: list[str], words: tuple[str, ...]) -> pl.Expr:
    """Flagged-word occurrences in the masked columns (Latin letters case-insensitive)."""
    if not words:
        return pl.lit(0, dtype=pl.UInt32)
    pattern = "(?i)" + "|".join(re.escape(word) for word in words)
    return pl.sum_horizontal(pl.col(name).str.count_matches(pattern) for name in masked_columns).cast(pl.UInt32)
