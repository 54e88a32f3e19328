"""Derived columns: cheap per-record facts computed with polars, checked by GX.

GX's regex expectations run row by row over pandas object columns and are far
too slow for a million records. Instead, polars computes one number or boolean
per record (vectorised, multi-threaded Rust regexes) and the suites check those
columns with plain range / set expectations. Thresholds stay in the suite JSON;
this module only defines what each column measures. A derived column also
never carries the offending text, so a report shows "pii_phone = 1" and the
record id, not the phone number itself.

Texts: `text` is instruction, input and output joined by newlines; `prose` is
`text` with Markdown code (``` fenced blocks and `inline` spans) removed, so a
question about `<div>`, a JavaScript snippet or an example address in code is
not mistaken for leftover HTML, a non-Chinese record or personal data.

| derived column         | from         | value per record                                | check (suites)            |
|------------------------|--------------|-------------------------------------------------|---------------------------|
| `instruction_len`      | instruction  | characters                                      | between min (all)         |
| `output_len`           | output       | characters                                      | between min (all)         |
| `chars`                | instruction, | characters of the three (clean's `score_chars`) | between max (all)         |
|                        | input, output|                                                 |                           |
| `pii_phone`            | prose        | phone numbers, as `clean` judges them           | between max 0 (all)       |
| `pii_email`            | prose        | e-mail addresses, as `clean` judges them        | between max 0 (all)       |
| `pii_id_card`          | prose        | resident ID numbers, as `clean` judges them     | between max 0 (all)       |
| `html_tags`            | prose        | tags of common HTML elements, `<!--` comments   | max 0, mostly 0.99 (all)  |
| `zh_share`             | prose        | Han / (Han + Latin letters); 0 when both are 0  | between min, mostly (all) |
| `trad_chars`           | text         | traditional-only characters (`tradchars.py`)    | between max, mostly (all) |
| `task_type_ok`         | task_type    | {major, minor}, both lists of strings, no nulls | in set [true] (all)       |
| `domain_ok`            | domain       | list of strings, no nulls                       | in set [true] (all)       |
| `transforms_ok`        | transforms   | list of strings, no nulls                       | in set [true] (all)       |
| `messages_roles_ok`    | messages     | roles: (system,) user, assistant, ... assistant | in set [true] (sft)       |
| `messages_empty_turns` | messages     | turns with empty or whitespace-only content     | between max 0 (sft)       |
| `is_eval`              | split        | 1 for eval rows, 0 for train rows               | column mean between (sft) |
| `split_leak`           | instruction, | stripped instruction is in train and in eval    | in set [false] (sft)      |
|                        | split        |                                                 |                           |

"between" is `expect_column_values_to_be_between`, "in set"
`expect_column_values_to_be_in_set`, "column mean between"
`expect_column_mean_to_be_between`; thresholds are in the suite files.
Han characters are the CJK Unified Ideographs blocks (BMP, Extension A,
Compatibility, Extensions B-F). The `pii_*` columns count with clean's own
detector (`stages.clean.pii.contact_counts`: shapes, checksums and the words
around a number), field by field on each field's prose, so a number clean kept
as an amount, an order number or arithmetic is not counted here either; only
strings with a digit run or an `@` are read in Python.

`record_languages` reuses the `zh_share` measure for the dataset card
(stages/sft/hf_card.py): a record is Chinese (`zh`) at the suites' default
`min_zh_share` (`ZH_RECORD_SHARE`, 0.2) or more, English (`en`: Latin-script
prose, counted as English) below it, and unmeasured (null) when its prose has
neither Han characters nor Latin letters.

A derived column whose input column is missing (or of the wrong type, for
the list checks) is not computed or is all false; the suite's
`expect_table_columns_to_match_set` names the missing input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from dataclasses import dataclass

import polars as pl

from stages.clean.pii import contact_counts
from stages.clean.scores import total_chars
from stages.validate.tradchars import traditional_chars

STRING_LIST = pl.List(pl.String)
TASK_TYPE = pl.Struct({"major": STRING_LIST, "minor": STRING_LIST})
MESSAGES = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
HTML_ELEMENTS = (
    "a|abbr|b|blockquote|body|br|center|code|dd|div|dl|dt|em|font|h[1-6]|head|hr|html|i|iframe|img|li|link|"
    "meta|ol|p|pre|script|section|small|span|strong|style|sub|sup|table|tbody|td|th|thead|tr|u|ul"
)
HTML_TAG = rf"(?i)<!--|</?(?:{HTML_ELEMENTS})(?:\s[^<>]*)?/?>"
ROLES = r"^(?:system,)?user,assistant(?:,user,assistant)*$"
LATIN = "[A-Za-z]"
ZH_RECORD_SHARE = 0.2  # the suites' default min_zh_share (a test keeps them equal): at or above, a record is zh


# Temporary columns, each computed once per frame and dropped (eager polars does not share
# common subexpressions, so an expression used twice would be computed twice).
TEXT, PROSE, HAN_COUNT, LATIN_COUNT, PII = "__text", "__prose", "__han", "__latin", "__pii_"
PII_KINDS = ("phone", "email", "id_card")


def text() -> pl.Expr:
    """instruction, input and output joined by newlines (nulls as empty)."""
    return pl.concat_str([pl.col(c).fill_null("") for c in ("instruction", "input", "output")], separator="\n")


def prose(text_column: pl.Expr) -> pl.Expr:
    """The text without Markdown fenced code blocks and inline code spans."""
    return text_column.str.replace_all(r"(?s)```.*?```", " ").str.replace_all(r"`[^`\n]*`", " ")


def han_count(body: pl.Expr) -> pl.Expr:
    """Han characters: all characters minus the non-Han ones.

    Counting the (rare) non-Han characters of Chinese text is several times
    faster than counting its Han characters one match at a time.
    """
    return body.str.len_chars() - body.str.count_matches(f"[^{HAN}]")


def prose_series(text_series: pl.Series) -> pl.Series:
    """`prose` computed only for rows with a backtick: the others cannot hold Markdown code."""
    rows = text_series.str.contains("`", literal=True).arg_true()
    if rows.is_empty():
        return text_series
    stripped = text_series.gather(rows).to_frame("t").select(prose(pl.col("t"))).to_series()
    return text_series.clone().scatter(rows, stripped)


def pii_counts(frame: pl.DataFrame) -> pl.DataFrame:
    """Temporary `__pii_<kind>` columns: clean's contact counts, summed over the prose of each text field."""
    total = None
    for name in TEXT_INPUTS:
        counts = contact_counts(prose_series(frame[name].cast(pl.String).fill_null("")))
        total = counts if total is None else total + counts
    return total.select(pl.col(kind).alias(PII + kind) for kind in PII_KINDS)


def script_counts(body: pl.Expr) -> list[pl.Expr]:
    """The temporary Han and Latin-letter count columns `zh_share` divides."""
    return [han_count(body).alias(HAN_COUNT), body.str.count_matches(LATIN).alias(LATIN_COUNT)]


def zh_share() -> pl.Expr:
    """Han / (Han + Latin letters) in prose, from the temporary count columns; 0 when both are 0."""
    han, total = pl.col(HAN_COUNT), pl.col(HAN_COUNT) + pl.col(LATIN_COUNT)
    return pl.when(total > 0).then(han / total).otherwise(0.0)


def string_list_ok(column: str, dtype: pl.DataType) -> pl.Expr:
    """True for a non-null list of strings without null items; all false if the column has another type."""
    if dtype != STRING_LIST:
        return pl.lit(False)
    col = pl.col(column)
    return (col.is_not_null() & (col.list.len() == col.list.drop_nulls().list.len())).fill_null(False)


def task_type_ok(dtype: pl.DataType) -> pl.Expr:
    if dtype != TASK_TYPE:
        return pl.lit(False)
    col = pl.col("task_type")
    fields = [col.struct.field(name) for name in ("major", "minor")]
    ok = col.is_not_null()
    for field in fields:
        ok = ok & field.is_not_null() & (field.list.len() == field.list.drop_nulls().list.len())
    return ok.fill_null(False)


def messages_roles_ok(dtype: pl.DataType) -> pl.Expr:
    if dtype != MESSAGES:
        return pl.lit(False)
    roles = pl.col("messages").list.eval(pl.element().struct.field("role").fill_null("?")).list.join(",")
    return roles.str.contains(ROLES).fill_null(False)


def messages_empty_turns(dtype: pl.DataType) -> pl.Expr:
    if dtype != MESSAGES:
        return pl.lit(None, pl.UInt32)
    content = pl.element().struct.field("content").fill_null("").str.strip_chars().str.len_chars()
    return pl.col("messages").list.eval(content == 0).list.sum().cast(pl.UInt32)


def split_leak() -> pl.Expr:
    """True for rows whose stripped instruction occurs in both a train and an eval row."""
    instruction = pl.col("instruction").str.strip_chars()
    in_train = (pl.col("split") == "train").fill_null(False).any().over(instruction)
    in_eval = (pl.col("split") == "eval").fill_null(False).any().over(instruction)
    return (in_train & in_eval).fill_null(False)


@dataclass(frozen=True)
class Derived:
    """One derived column: its input columns and how to compute it from the frame's schema."""

    name: str
    inputs: tuple[str, ...]
    build: Callable[[pl.Schema], pl.Expr]


TEXT_INPUTS = ("instruction", "input", "output")

DERIVED: dict[str, Derived] = {
    d.name: d
    for d in (
        Derived("instruction_len", ("instruction",), lambda s: pl.col("instruction").str.len_chars()),
        Derived("output_len", ("output",), lambda s: pl.col("output").str.len_chars()),
        Derived("chars", TEXT_INPUTS, lambda s: total_chars(list(TEXT_INPUTS))),
        Derived("pii_phone", TEXT_INPUTS, lambda s: pl.col(PII + "phone")),
        Derived("pii_email", TEXT_INPUTS, lambda s: pl.col(PII + "email")),
        Derived("pii_id_card", TEXT_INPUTS, lambda s: pl.col(PII + "id_card")),
        Derived("html_tags", TEXT_INPUTS, lambda s: pl.col(PROSE).str.count_matches(HTML_TAG)),
        Derived("zh_share", TEXT_INPUTS, lambda s: zh_share()),
        Derived("trad_chars", TEXT_INPUTS, lambda s: pl.col(TEXT).str.count_matches(f"[{traditional_chars()}]")),
        Derived("task_type_ok", ("task_type",), lambda s: task_type_ok(s["task_type"])),
        Derived("domain_ok", ("domain",), lambda s: string_list_ok("domain", s["domain"])),
        Derived("transforms_ok", ("transforms",), lambda s: string_list_ok("transforms", s["transforms"])),
        Derived("messages_roles_ok", ("messages",), lambda s: messages_roles_ok(s["messages"])),
        Derived("messages_empty_turns", ("messages",), lambda s: messages_empty_turns(s["messages"])),
        Derived("is_eval", ("split",), lambda s: (pl.col("split") == "eval").cast(pl.Int8)),
        Derived("split_leak", ("instruction", "split"), lambda s: split_leak()),
    )
}


def add_derived(frame: pl.DataFrame, names: set[str],
                parameters: dict[str, Any] | None = None) -> tuple[pl.DataFrame, dict[str, str]]:
    """Add the requested derived columns; return the frame and {skipped column: why}.

    A derived column is skipped when one of its input columns is missing; the
    expectations on it then report that reason instead of a GX error. `parameters` holds the
    values derived columns read (`chinese_sources`: `zh_share` is null, so not checked, for the
    records of other sources: clean keeps those English on purpose).
    """
    clashes = sorted(set(frame.columns) & set(DERIVED))
    if clashes:
        raise ValueError(f"input has column(s) {', '.join(clashes)} that clash with derived column names")
    unknown = sorted(names - set(DERIVED))
    if unknown:
        raise ValueError(f"unknown derived column(s) {', '.join(unknown)}")
    exprs, skipped = [], {}
    for name in sorted(names):
        spec = DERIVED[name]
        missing = [c for c in spec.inputs if c not in frame.columns]
        if missing:
            skipped[name] = f"derived column {name} not computed: input column(s) {', '.join(missing)} missing"
        else:
            exprs.append(spec.build(frame.schema).alias(name))
    if not exprs:
        return frame, skipped
    uses_text = any(DERIVED[name].inputs == TEXT_INPUTS for name in names - set(skipped))
    if not uses_text:
        return frame.with_columns(exprs), skipped
    work = frame.with_columns(text().alias(TEXT))
    work = work.with_columns(prose_series(work[TEXT]).alias(PROSE))
    if any(name.startswith("pii_") for name in names - set(skipped)):
        work = pl.concat([work, pii_counts(work)], how="horizontal")
    if "zh_share" in names and "zh_share" not in skipped:
        work = work.with_columns(script_counts(pl.col(PROSE)))
    temporary = [TEXT, PROSE, HAN_COUNT, LATIN_COUNT, *(PII + kind for kind in PII_KINDS)]
    done = work.with_columns(exprs).drop(temporary, strict=False)
    chinese = (parameters or {}).get("chinese_sources")
    if chinese is not None and "zh_share" in done.columns and "source" in done.columns:
        done = done.with_columns(pl.when(pl.col("source").is_in(list(chinese))).then(pl.col("zh_share"))
                                 .otherwise(None).alias("zh_share"))
    return done, skipped


def record_languages(frame: pl.DataFrame) -> pl.Series:
    """`language` per record (instruction, input, output): `zh`, `en` or null, by `zh_share` (module docstring)."""
    work = frame.select(text().alias(TEXT))
    work = work.with_columns(prose_series(work[TEXT]).alias(PROSE)).with_columns(script_counts(pl.col(PROSE)))
    measured = (pl.col(HAN_COUNT) + pl.col(LATIN_COUNT)) > 0
    language = pl.when(~measured).then(None).when(zh_share() >= ZH_RECORD_SHARE).then(pl.lit("zh")).otherwise(
        pl.lit("en"))
    return work.select(language.alias("language")).to_series()
