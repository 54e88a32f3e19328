"""Settings of the `clean` stage and its filters (thresholds over score columns).

`params.yaml: clean` holds `defaults` (every threshold) and `by_source`
(overrides keyed by the records' `source` subset name, e.g. `segmentfault`,
`ruozhiba`), plus the langid and repetition settings. Each filter returns a
reason code for the rows it drops; the first matching filter wins, in this order:

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
| clean_low_quality         | min_quality is set and score_quality < min_quality        |

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

from dataclasses import dataclass, fields
from typing import Any

import polars as pl

from stages.lib.contract import Filter
from stages.lib.params import require_keys

# An instruction asking for an answer in another language (translate into English, answer in Japanese):
# its answer is not judged for Chinese.
FOREIGN_ANSWER_WANTED = (
    r"(?i)(?:译|翻译)(?:成|为|到)?\s*(?:英|日|韩|法|德|俄|西班牙|意大利|葡萄牙|阿拉伯)(?:文|语)"
    r"|(?:用|以|写成|写一[篇段个])\s*(?:英|日|韩|法|德|俄)(?:文|语)"
    r"|\b(?:in|into) (?:english|japanese|korean|french|german|spanish|russian)\b"
)

REASONS = (
    "clean_empty_instruction", "clean_empty_output", "clean_too_short", "clean_too_long", "clean_not_chinese",
    "clean_answer_not_chinese", "clean_char_repetition", "clean_line_repetition", "clean_flagged_words", "clean_low_quality",
)


@dataclass(frozen=True)
class Limits:
    """Thresholds for one source (or the defaults)."""

    min_chars: int
    max_chars: int
    allow_empty_output: bool
    min_chinese: float
    lang_min_chars: int
    max_char_rep: float
    max_line_rep: float
    max_flagged_words: int
    min_quality: float | None


_TYPES: dict[str, tuple[type, ...]] = {
    "min_chars": (int,), "max_chars": (int,), "allow_empty_output": (bool,), "min_chinese": (int, float),
    "lang_min_chars": (int,), "max_char_rep": (int, float), "max_line_rep": (int, float),
    "max_flagged_words": (int,), "min_quality": (int, float, type(None)),
}
LIMIT_KEYS = {f.name for f in fields(Limits)}


@dataclass(frozen=True)
class CleanSettings:
    defaults: Limits
    by_source: dict[str, Limits]
    lang_max_chars: int
    chinese_labels: tuple[str, ...]
    han_share_chinese: float
    han_share_other: float
    repetition_chunk: int
    repetition_window: int

    def quality_wanted(self) -> bool:
        return any(lim.min_quality is not None for lim in (self.defaults, *self.by_source.values()))


def _check_limits(where: str, values: dict[str, Any]) -> None:
    for key, value in values.items():
        allowed = _TYPES[key]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise ValueError(f"{where}.{key}: must be {names}, got {value!r}")
        if key in ("min_chinese", "max_char_rep", "max_line_rep", "min_quality") and value is not None \
                and not 0 <= value <= 1:
            raise ValueError(f"{where}.{key}: must be between 0 and 1, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"{where}.{key}: must not be negative, got {value!r}")


def parse_clean_settings(section: Any, where: str = "clean") -> CleanSettings:
    """Validate params.yaml: clean; unknown or missing keys are named in the error."""
    top = {"defaults", "by_source", "langid", "repetition"}
    require_keys(where, section, top, top)
    require_keys(f"{where}.defaults", section["defaults"], LIMIT_KEYS, LIMIT_KEYS)
    _check_limits(f"{where}.defaults", section["defaults"])
    defaults = Limits(**section["defaults"])
    by_source = {}
    for source, overrides in (section["by_source"] or {}).items():
        require_keys(f"{where}.by_source.{source}", overrides, LIMIT_KEYS, set())
        _check_limits(f"{where}.by_source.{source}", overrides)
        by_source[source] = Limits(**{**section["defaults"], **overrides})
    langid = section["langid"]
    langid_keys = {"max_chars", "chinese_labels", "han_share_chinese", "han_share_other"}
    require_keys(f"{where}.langid", langid, langid_keys, langid_keys)
    if not isinstance(langid["max_chars"], int) or isinstance(langid["max_chars"], bool) or langid["max_chars"] < 1:
        raise ValueError(f"{where}.langid.max_chars: must be a positive integer, got {langid['max_chars']!r}")
    labels = langid["chinese_labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
        raise ValueError(f"{where}.langid.chinese_labels: must be a non-empty list of labels such as zh, yue")
    for key in ("han_share_chinese", "han_share_other"):
        value = langid[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ValueError(f"{where}.langid.{key}: must be a number between 0 and 1, got {value!r}")
    if langid["han_share_other"] > langid["han_share_chinese"]:
        raise ValueError(f"{where}.langid.han_share_other: must not be above han_share_chinese")
    repetition = section["repetition"]
    require_keys(f"{where}.repetition", repetition, {"chunk_chars", "window_chars"}, {"chunk_chars", "window_chars"})
    chunk, window = repetition["chunk_chars"], repetition["window_chars"]
    if not isinstance(chunk, int) or isinstance(chunk, bool) or not 2 <= chunk <= 100:
        raise ValueError(f"{where}.repetition.chunk_chars: must be an integer from 2 to 100, got {chunk!r}")
    if not isinstance(window, int) or isinstance(window, bool) or window < 2 * chunk:
        raise ValueError(f"{where}.repetition.window_chars: must be an integer of at least 2 * chunk_chars, "
                         f"got {window!r}")
    return CleanSettings(defaults, by_source, langid["max_chars"], tuple(labels), float(langid["han_share_chinese"]),
                         float(langid["han_share_other"]), chunk, window)


def per_source(settings: CleanSettings, key: str) -> pl.Expr:
    """The threshold `key` for each row's source (defaults where no override)."""
    default = getattr(settings.defaults, key)
    mapping = {source: getattr(limits, key) for source, limits in settings.by_source.items()}
    if not mapping:
        return pl.lit(default)
    return pl.col("source").replace_strict(mapping, default=default)


def build_filters(settings: CleanSettings) -> list[Filter]:
    """The filters in order; each threshold is looked up per row from its source."""
    chars, lim = pl.col("score_chars"), (lambda key: per_source(settings, key))
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
        Filter("clean_low_quality", pl.col("score_quality") < lim("min_quality"),
               pl.format("quality {} < min_quality {}", pl.col("score_quality"), lim("min_quality"))),
    ]
