"""Params of the `clean` stage (`CleanParams`) and its filters (thresholds over score columns).

`params.yaml: clean` holds `defaults` (every threshold) and `by_source`
(overrides keyed by the records' `source` subset name, e.g. `segmentfault`,
`ruozhiba`; a key that names no subset of the configured `sources` fails at
load, with a did-you-mean), plus the langid and repetition settings. Each filter
returns a reason code for the rows it drops; the first matching filter wins, in
this order:

| reason                    | drops a record when                                       |
|---------------------------|-----------------------------------------------------------|
| clean_empty_instruction   | the instruction is blank after cleaning (a question in `input` alone was moved up first) |
| clean_empty_output        | the output is blank and the source is not allow_empty_output |
| clean_too_short           | score_chars < min_chars                                   |
| clean_too_long            | score_chars > max_chars                                   |
| clean_not_chinese         | the question (instruction + input) scores under min_chinese, and the answer is not a judged Chinese answer |
| clean_answer_not_chinese  | the answer scores under min_chinese (unless the instruction asks for another language) |
| clean_char_repetition     | score_char_rep > max_char_rep                             |
| clean_line_repetition     | score_line_rep > max_line_rep                             |
| clean_flagged_words       | score_flagged > max_flagged_words                         |

(The optional quality classifier filters later, in the `train_quality` stage, as
`quality_low`: see `stages.cleaning.quality`.)

Language is judged per side (`stages.cleaning.langid`): the question on
`score_chinese`, the answer on `score_chinese_output`, each only with at least
`lang_min_chars` prose characters on that side (fastText is unreliable on a
few characters, and such records meet the length filters). A Chinese answer
is what an SFT record teaches, so it carries an English or mixed question
("Use Chinese to introduce ...", an English reading passage with a Chinese
explanation); an English or Japanese answer to a Chinese request is dropped as
`clean_answer_not_chinese`, unless the instruction asks for that language
(`FOREIGN_ANSWER_WANTED`: 翻译成英文, 用日语, in English, ...).
`allow_empty_output` exists for Ruozhiba dumps: their records carry only a
question, and the rewrite stage writes the answer later, so they are kept.
"""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
from pydantic import ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from stages.lib.contract import Filter
from stages.lib.params import Fraction, NonNegativeInt, Params, PositiveInt, check, known_subsets

# An instruction asking for an answer in another language (translate into English, answer in Japanese):
# its answer is not judged for Chinese.
FOREIGN_ANSWER_WANTED = (
    r"(?i)(?:译|翻译)(?:成|为|到)?\s*(?:英|日|韩|法|德|俄|西班牙|意大利|葡萄牙|阿拉伯)(?:文|语)"
    r"|(?:用|以|写成|写一[篇段个])\s*(?:英|日|韩|法|德|俄)(?:文|语)"
    r"|\b(?:in|into) (?:english|japanese|korean|french|german|spanish|russian)\b"
)

REASONS = (
    "clean_empty_instruction", "clean_empty_output", "clean_too_short", "clean_too_long", "clean_not_chinese",
    "clean_answer_not_chinese", "clean_char_repetition", "clean_line_repetition", "clean_flagged_words",
)


class Limits(Params):
    """Thresholds for one source (`defaults`, or a `by_source` entry merged over them)."""

    min_chars: NonNegativeInt
    max_chars: NonNegativeInt
    allow_empty_output: bool
    min_chinese: Fraction
    lang_min_chars: NonNegativeInt
    max_char_rep: Fraction
    max_line_rep: Fraction
    max_flagged_words: NonNegativeInt


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


class CleanParams(Params):
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


def per_source(params: CleanParams, key: str) -> pl.Expr:
    """The threshold `key` for each row's source (defaults where no override)."""
    default = getattr(params.defaults, key)
    mapping = {source: getattr(limits, key) for source, limits in params.by_source.items()}
    if not mapping:
        return pl.lit(default)
    return pl.col("source").replace_strict(mapping, default=default)


def build_filters(params: CleanParams) -> list[Filter]:
    """The filters in order; each threshold is looked up per row from its source."""
    chars, lim = pl.col("score_chars"), (lambda key: per_source(params, key))
    answer_chars = pl.col("score_output_prose_chars")
    question_judged = ((pl.col("score_prose_chars") - answer_chars) >= lim("lang_min_chars")) \
        & pl.col("score_chinese").is_not_null()
    answer_judged = (answer_chars >= lim("lang_min_chars")) & pl.col("score_chinese_output").is_not_null()
    answer_chinese = answer_judged & (pl.col("score_chinese_output") >= lim("min_chinese"))
    blank = lambda name: pl.col(name).str.strip_chars() == ""  # noqa: E731
    return [
        Filter("clean_empty_instruction", blank("instruction"), pl.lit("instruction is empty after cleaning")),
        Filter("clean_empty_output", blank("output") & ~lim("allow_empty_output"),
               pl.lit("output is empty after cleaning (allow_empty_output is false for this source)")),
        Filter("clean_too_short", chars < lim("min_chars"),
               pl.format("{} characters < min_chars {}", chars, lim("min_chars"))),
        Filter("clean_too_long", chars > lim("max_chars"),
               pl.format("{} characters > max_chars {}", chars, lim("max_chars"))),
        Filter("clean_not_chinese", question_judged & (pl.col("score_chinese") < lim("min_chinese")) & ~answer_chinese,
               pl.format("question's Chinese score {} < min_chinese {}, and no Chinese answer",
                         pl.col("score_chinese"), lim("min_chinese"))),
        Filter("clean_answer_not_chinese",
               answer_judged & (pl.col("score_chinese_output") < lim("min_chinese"))
               & ~pl.col("instruction").str.contains(FOREIGN_ANSWER_WANTED),
               pl.format("answer's Chinese score {} < min_chinese {}", pl.col("score_chinese_output"),
                         lim("min_chinese"))),
        Filter("clean_char_repetition", pl.col("score_char_rep") > lim("max_char_rep"),
               pl.format("character repetition {} > max_char_rep {}", pl.col("score_char_rep"), lim("max_char_rep"))),
        Filter("clean_line_repetition", pl.col("score_line_rep") > lim("max_line_rep"),
               pl.format("line repetition {} > max_line_rep {}", pl.col("score_line_rep"), lim("max_line_rep"))),
        Filter("clean_flagged_words", pl.col("score_flagged") > lim("max_flagged_words"),
               pl.format("{} flagged words > max_flagged_words {}", pl.col("score_flagged"), lim("max_flagged_words"))),
    ]
