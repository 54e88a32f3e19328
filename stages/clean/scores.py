"""What the `clean` stage's scores are built from: expressions, functions and shared temporary columns.

The scores themselves (`Score`, one column each) belong to the filters that read them, in
`stages.clean.filters` (`FILTERS`); what each column measures is in docs/params.md (`clean`,
generated from that list). They read the scoring frame: the cleaned texts (`instruction`, `input`,
`output`) and their prose (`PROSE_FIELDS`: code, LaTeX and URLs masked, see `segments`). Code is left
out of every score but `score_chars`, since repeated lines and non-Chinese tokens are normal there.

Repetition is judged on one text (`REP_TEXT`: the output's prose, the instruction's when the output is
empty) because instruction and output often share a title line legitimately: its sentence-aligned
chunks (`REP_CHUNKS`, `repetition_chunks`) and its lines (`REP_LINES`, `repetition_lines`), each
scored by `repeated_share`, the chunks recounted where an answer quotes its question (`quote_aware`).
Language is judged per side (`QUESTION`: prose of instruction + input; `ANSWER`: the output's) by
`chinese_score` (`stages.clean.langid`). The optional fastText quality classifier's `score_quality`
is added after `clean`, by the `train_quality` stage (`quality`), which trains on clean's output.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from stages.clean import langid
from stages.clean.registry import Column
from stages.clean.segments import INNER_SENTINEL, SENTINEL, prose
from stages.clean.steps import TEXT_FIELDS

if TYPE_CHECKING:
    from stages.clean.filters import CleanParams

PROSE_FIELDS = tuple(f"_prose_{name}" for name in TEXT_FIELDS)  # the prose view of each text in the scoring frame
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


def repetition_chunks(text: pl.Expr, chunk: int, window: int) -> pl.Expr:
    """`text`'s `chunk`-character chunks as a list column, for `repeated_share` (`score_char_rep`).

    Chunks restart after each sentence end (。！？!?；; and line breaks), so a repeated sentence repeats its
    chunks wherever it stands, and a looping phrase repeats them within a line: 0 for normal text, near 1
    for "哈哈哈..." or a looped answer. Only the last `window` characters are chunked: a generation loop
    runs to the end of the text, and this regex chunking is the costliest score, so its input is bounded.
    """
    # Runs of four or more symbols (`------`, `======`, `……`, emoji) become one space: a separator line
    # is layout, not a loop; letters repeating ("哈哈哈哈") still count.
    window_text = text.str.slice(-window).str.replace_all(r"[^\p{L}\p{N}\s]{4,}", " ")
    return window_text.str.extract_all(f"[^{_SENTENCE_END}]{{{chunk}}}")


def repetition_lines(text: pl.Expr) -> pl.Expr:
    """`text`'s lines with a letter or digit as a list column, for `repeated_share` (`score_line_rep`,
    datatrove's duplicated-line fraction): separator lines such as "·" or "——" are layout, not repetition."""
    return text.str.split("\n").list.eval(pl.element().filter(pl.element().str.contains(r"[\p{L}\p{N}]")))


def repeated_share(units: pl.Expr) -> pl.Expr:
    """Share of a list's items that repeat an earlier item (0 for fewer than two)."""
    count = units.list.len()
    return pl.when(count > 1).then(1.0 - units.list.n_unique() / count).otherwise(0.0).round(4)


def quote_aware(frame: pl.DataFrame, params: CleanParams) -> pl.Series:
    """`score_char_rep` where an answer's quotes of its question are not counted as a loop (`quote_aware_share`
    over the frame's `_chunks` and, for records with an answer, `_question`)."""
    question = frame.select(pl.when(pl.col("output").str.strip_chars() != "").then(pl.col(QUESTION.name))
                            .otherwise(pl.lit(""))).to_series()
    return quote_aware_share(frame[REP_CHUNKS.name], question, frame["score_char_rep"])


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


def chinese_score(texts: pl.Series, params: CleanParams, context: pl.Series | None = None) -> pl.Series:
    """How Chinese each text is (`langid.chinese_scores` with `clean.langid`); `context`: each one's question."""
    lang = params.langid
    return langid.chinese_scores(texts, lang.max_chars, tuple(lang.chinese_labels), lang.han_share_chinese,
                                 lang.han_share_other, context=context)


def flagged_count(masked_columns: list[str], words: tuple[str, ...]) -> pl.Expr:
    """Flagged-word occurrences in the masked columns (Latin letters case-insensitive)."""
    if not words:
        return pl.lit(0, dtype=pl.UInt32)
    pattern = "(?i)" + "|".join(re.escape(word) for word in words)
    return pl.sum_horizontal(pl.col(name).str.count_matches(pattern) for name in masked_columns).cast(pl.UInt32)


# Temporary columns several scores read (`stages.clean.registry.Column`), computed once per frame.
QUESTION = Column("_question", lambda params: joined_prose(list(PROSE_FIELDS[:2])))
ANSWER = Column("_answer", lambda params: joined_prose(list(PROSE_FIELDS[2:])))
REP_TEXT = Column("_rep_text", lambda params: repetition_text(PROSE_FIELDS[2], PROSE_FIELDS[0]))
REP_CHUNKS = Column("_chunks", lambda params: repetition_chunks(pl.col(REP_TEXT.name), params.repetition.chunk_chars,
                                                                params.repetition.window_chars), uses=(REP_TEXT,))
REP_LINES = Column("_lines", lambda params: repetition_lines(pl.col(REP_TEXT.name)), uses=(REP_TEXT,))
