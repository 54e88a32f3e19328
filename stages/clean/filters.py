"""The `clean` stage's filters, registered in one list (`FILTERS`), and its params (`CleanParams`).

Each filter is one `CleanFilter` (`stages.clean.registry`): its reason code, the score columns it
reads and how each is computed (`Score`), its limits with their defaults (`Limit`: keys of
`params.yaml: clean.defaults` and `by_source`; a key left out takes its default), when it drops a
record and the detail its rejected rows get. The filters apply in list order, the first match naming
the reason. `REASONS`, `SCORE_COLUMNS`, the `Limits` model, `build_filters` and the tables in
docs/params.md (`clean`; `python -m stages.clean.filters` prints them, a test keeps them equal) come
from the list. Scores shared by several filters are defined once above it.

`params.yaml: clean` holds `defaults` (the limits) and `by_source` (overrides keyed by the records'
`source` subset name, e.g. `segmentfault`, `ruozhiba`; a key that names no subset of the configured
`sources` fails at load, with a did-you-mean), plus the langid and repetition settings. (The optional
quality classifier filters later, in the `train_quality` stage, as `quality_low`: see
`stages.clean.quality`.)

Language is judged per side (`stages.clean.langid`): the question on `score_chinese`, the answer on
`score_chinese_output`, each only with at least `lang_min_chars` prose characters on that side (fastText
is unreliable on a few characters, and such records meet the length filters). A Chinese answer is what
an SFT record teaches, so it carries an English or mixed question ("Use Chinese to introduce ...", an
English reading passage with a Chinese explanation); an English or Japanese answer to a Chinese request
is dropped as `clean_answer_not_chinese`, unless the instruction asks for that language
(`FOREIGN_ANSWER_WANTED`: 翻译成英文, 用日语, in English, ...). `allow_empty_output` exists for Ruozhiba
dumps: their records carry only a question, and the rewrite stage writes the answer later, so they are
kept.
"""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
from pydantic import ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from stages.clean.registry import (CleanFilter, Limit, Row, Score, build, docs_table, limits_model, register,
                                      scores_of)
from stages.clean.scores import (ANSWER, PROSE_FIELDS, QUESTION, REP_CHUNKS, REP_LINES, chinese_score,
                                    flagged_count, flagged_words, prose_chars, quote_aware, repeated_share,
                                    total_chars)
from stages.clean.steps import TEXT_FIELDS
from stages.lib.contract import Filter
from stages.lib.params import Fraction, NonNegativeInt, Params, PositiveInt, check, known_subsets

# An instruction asking for an answer in another language (translate into English, answer in Japanese):
# its answer is not judged for Chinese.
FOREIGN_ANSWER_WANTED = (
    r"(?i)(?:译|翻译)(?:成|为|到)?\s*(?:英|日|韩|法|德|俄|西班牙|意大利|葡萄牙|阿拉伯)(?:文|语)"
    r"|(?:用|以|写成|写一[篇段个])\s*(?:英|日|韩|法|德|俄)(?:文|语)"
    r"|\b(?:in|into) (?:english|japanese|korean|french|german|spanish|russian)\b"
)

# Scores and limits that several filters read (each has one home); a filter's own are written in it.
CHARS = Score("score_chars", "characters of instruction + input + output (cleaned)",
              expr=lambda params: total_chars(list(TEXT_FIELDS)))
PROSE_CHARS = Score("score_prose_chars", "the same without code, LaTeX and URLs",
                    expr=lambda params: prose_chars(list(PROSE_FIELDS)))
OUTPUT_PROSE_CHARS = Score("score_output_prose_chars", "the output's prose characters",
                           expr=lambda params: prose_chars(list(PROSE_FIELDS[2:])))
CHINESE_OUTPUT = Score(
    "score_chinese_output", "how Chinese the answer (the output's prose) is, on its own, as `score_chinese`",
    series=lambda frame, params: chinese_score(frame[ANSWER.name], params, context=frame[QUESTION.name]),
    uses=(QUESTION, ANSWER))
MIN_CHINESE = Limit("min_chinese", Fraction, 0.5)
LANG_MIN_CHARS = Limit("lang_min_chars", NonNegativeInt, 10)


def blank(field: str) -> pl.Expr:
    return pl.col(field).str.strip_chars() == ""


def answer_judged(row: Row) -> pl.Expr:
    """The answer has enough prose to be judged for language, and a score."""
    return (row.score_output_prose_chars >= row.lang_min_chars) & row.score_chinese_output.is_not_null()


FILTERS = register(
    CleanFilter(
        "clean_empty_instruction",
        when="the instruction is blank after cleaning (a question in `input` alone was moved up first)",
        drop_when=lambda row: blank("instruction"),
        detail=lambda row: pl.lit("instruction is empty after cleaning")),
    CleanFilter(
        "clean_empty_output", when="the output is blank and `allow_empty_output` is false for the source",
        limits=(Limit("allow_empty_output", bool, False),),
        drop_when=lambda row: blank("output") & ~row.allow_empty_output,
        detail=lambda row: pl.lit("output is empty after cleaning (allow_empty_output is false for this source)")),
    CleanFilter(
        "clean_too_short", when="`score_chars` < `min_chars`",
        scores=(CHARS,), limits=(Limit("min_chars", NonNegativeInt, 4),),
        drop_when=lambda row: row.score_chars < row.min_chars,
        detail=lambda row: pl.format("{} characters < min_chars {}", row.score_chars, row.min_chars)),
    CleanFilter(
        "clean_too_long", when="`score_chars` > `max_chars` (the largest `max_chars` of any configured subset "
                               "also bounds the expectation suites' `chars`: one source of truth for lengths)",
        scores=(CHARS,), limits=(Limit("max_chars", NonNegativeInt, 16000),),
        drop_when=lambda row: row.score_chars > row.max_chars,
        detail=lambda row: pl.format("{} characters > max_chars {}", row.score_chars, row.max_chars)),
    CleanFilter(
        "clean_not_chinese",
        when="the question, with at least `lang_min_chars` prose characters, has `score_chinese` < `min_chinese`, "
             "and the answer is not a judged Chinese one (`score_chinese_output` ≥ `min_chinese`)",
        scores=(PROSE_CHARS, Score(
            "score_chinese", "how Chinese the question (prose of instruction + input) is: its Han share where that "
            "settles it, else fastText lid.176's mass on `langid.chinese_labels`; null without letters",
            series=lambda frame, params: chinese_score(frame[QUESTION.name], params), uses=(QUESTION,)),
            OUTPUT_PROSE_CHARS, CHINESE_OUTPUT),
        limits=(MIN_CHINESE, LANG_MIN_CHARS),
        drop_when=lambda row: ((row.score_prose_chars - row.score_output_prose_chars) >= row.lang_min_chars)
        & row.score_chinese.is_not_null() & (row.score_chinese < row.min_chinese)
        & ~(answer_judged(row) & (row.score_chinese_output >= row.min_chinese)),
        detail=lambda row: pl.format("question's Chinese score {} < min_chinese {}, and no Chinese answer",
                                     row.score_chinese, row.min_chinese)),
    CleanFilter(
        "clean_answer_not_chinese",
        when="the answer, with at least `lang_min_chars` prose characters, has `score_chinese_output` < "
             "`min_chinese`, and the instruction does not ask for another language",
        scores=(OUTPUT_PROSE_CHARS, CHINESE_OUTPUT), limits=(MIN_CHINESE, LANG_MIN_CHARS),
        drop_when=lambda row: answer_judged(row) & (row.score_chinese_output < row.min_chinese)
        & ~pl.col("instruction").str.contains(FOREIGN_ANSWER_WANTED),
        detail=lambda row: pl.format("answer's Chinese score {} < min_chinese {}", row.score_chinese_output,
                                     row.min_chinese)),
    CleanFilter(
        "clean_char_repetition", when="`score_char_rep` > `max_char_rep`",
        scores=(Score("score_char_rep", "share of the repetition text's `repetition.chunk_chars`-character chunks "
                      "(restarting at each sentence end) that repeat an earlier one, over its last "
                      "`repetition.window_chars` characters; the repetition text is the output's prose, the "
                      "instruction's when the output is empty; an answer quoting its question is not a loop",
                      expr=lambda params: repeated_share(pl.col(REP_CHUNKS.name)), series=quote_aware,
                      uses=(REP_CHUNKS, QUESTION)),),
        limits=(Limit("max_char_rep", Fraction, 0.3),),
        drop_when=lambda row: row.score_char_rep > row.max_char_rep,
        detail=lambda row: pl.format("character repetition {} > max_char_rep {}", row.score_char_rep,
                                     row.max_char_rep)),
    CleanFilter(
        "clean_line_repetition", when="`score_line_rep` > `max_line_rep`",
        scores=(Score("score_line_rep", "share of the repetition text's lines (those with a letter or digit) that "
                      "repeat an earlier line", expr=lambda params: repeated_share(pl.col(REP_LINES.name)),
                      uses=(REP_LINES,)),),
        limits=(Limit("max_line_rep", Fraction, 0.3),),
        drop_when=lambda row: row.score_line_rep > row.max_line_rep,
        detail=lambda row: pl.format("line repetition {} > max_line_rep {}", row.score_line_rep, row.max_line_rep)),
    CleanFilter(
        "clean_flagged_words", when="`score_flagged` > `max_flagged_words`",
        scores=(Score("score_flagged", "occurrences of the project's flagged words (`flagged_words_zh.txt`) in the "
                      "prose of all three fields",
                      expr=lambda params: flagged_count(list(PROSE_FIELDS), flagged_words())),),
        limits=(Limit("max_flagged_words", NonNegativeInt, 0),),
        drop_when=lambda row: row.score_flagged > row.max_flagged_words,
        detail=lambda row: pl.format("{} flagged words > max_flagged_words {}", row.score_flagged,
                                     row.max_flagged_words)),
)
REASONS = tuple(flt.reason for flt in FILTERS)
SCORES = scores_of(FILTERS)
SCORE_COLUMNS = tuple(score.column for score in SCORES)
Limits = limits_model(FILTERS, __name__)


class Langid(Params):
    max_chars: PositiveInt
    chinese_labels: Annotated[list[Annotated[str, check(bool, "a label such as zh")]],
                              check(bool, "a non-empty list of labels such as zh, yue")]
    han_share_chinese: Fraction
    han_share_other: Fraction

    @field_validator("han_share_other")
    @classmethod
    def _not_above_chinese(cls, value: float, info: ValidationInfo) -> float:
        chinese = info.data.get("han_share_chinese")
        if chinese is not None and value > chinese:
            raise PydanticCustomError("value_rule", "must not be above han_share_chinese ({chinese}), got {got}",
                                      {"chinese": chinese, "got": value})
        return value


class Repetition(Params):
    chunk_chars: Annotated[int, check(lambda v: 2 <= v <= 100, "an integer from 2 to 100")]
    window_chars: int

    @field_validator("window_chars")
    @classmethod
    def _two_chunks(cls, value: int, info: ValidationInfo) -> int:
        chunk = info.data.get("chunk_chars")
        if chunk is not None and value < 2 * chunk:
            raise PydanticCustomError("value_rule", "must be an integer of at least 2 * chunk_chars, got {got}",
                                      {"got": value})
        return value


class CleanParams(Params, section="clean"):
    """`params.yaml: clean`. `by_source` entries override some `defaults` keys; each is stored merged
    over the defaults, and its key must name a configured subset (context `subsets`)."""

    langid: Langid
    repetition: Repetition
    defaults: Limits
    by_source: dict[str, Limits]

    _known_subsets = field_validator("by_source")(known_subsets)

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        """Each override mapping gets the defaults' other keys (a bad default is reported as such)."""
        if not isinstance(data, dict) or not isinstance(data.get("defaults"), dict):
            return data
        by_source = data.get("by_source")
        if not isinstance(by_source, dict):
            return data
        merged = {key: {**data["defaults"], **value} if isinstance(value, dict) else value
                  for key, value in by_source.items()}
        return {**data, "by_source": merged}


def longest_allowed(params: CleanParams, subsets: list[str]) -> int:
    """The largest `max_chars` any configured subset allows (its `by_source` entry, else the defaults).

    The expectation suites bound a record's length by this (`max_chars`), so a record `clean` keeps under
    its source's limit can never fail validate, rewrite's or assemble's suite for its length.
    """
    limits = [params.by_source.get(subset, params.defaults).max_chars for subset in subsets]
    return max(limits, default=params.defaults.max_chars)


def chinese_required(params: CleanParams, subsets: list[str]) -> list[str]:
    """The configured subsets whose records clean requires to be Chinese (`min_chinese` above 0): the
    suites' Chinese-share check applies to these only, so a source clean keeps English on purpose
    (`by_source: {mmlu: {min_chinese: 0.0}}`) cannot fail it."""
    return sorted(s for s in subsets if params.by_source.get(s, params.defaults).min_chinese > 0)


def build_filters(params: CleanParams) -> list[Filter]:
    """The filters in order; each threshold is looked up per row from its source."""
    return build(FILTERS, params)


if __name__ == "__main__":
    print(docs_table(FILTERS), end="")
