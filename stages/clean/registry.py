"""What a cleaning filter is, and what the `clean` stage derives from the list of them.

A `CleanFilter` is one unit: its reason code, the score columns it reads (`Score`: how each is
computed), its limits (`Limit`: a key of `params.yaml: clean.defaults` and of each `by_source` entry,
with its type and default), when it drops a record (`drop_when`) and the detail its rejected rows get
(`detail`). `stages.clean.filters` registers them in one list (`FILTERS`, through `register`); the
reason codes, the score columns, the `Limits` params model, the filters the stage applies (`build`)
and the tables in docs/params.md (`docs_table`) all come from that list.

Scores are computed first, for every record, as columns kept in the output (`add_scores`); thresholds
are applied second, per source (`build`), so a threshold can be retuned without recomputing a score.
A score is a polars expression (`expr`: every score's expression runs in one pass) and/or a function
of the scored frame (`series`: after that pass, for what polars cannot vectorise, such as fastText).
Parts several scores read are temporary `Column`s, computed once before them and dropped after.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import create_model

from stages.clean.steps import StepTimer
from stages.lib.contract import Filter
from stages.lib.params import Fraction, NonNegativeFloat, NonNegativeInt, Params, PositiveFloat, PositiveInt

ROOT = Path(__file__).resolve().parents[2]
# how docs/params.md words a limit's type
TYPE_WORDS = ((bool, "true/false"), (NonNegativeInt, "integer ≥ 0"), (PositiveInt, "integer ≥ 1"),
              (Fraction, "number 0-1"), (NonNegativeFloat, "number ≥ 0"), (PositiveFloat, "number > 0"))


def defined_at() -> str:
    """`path:line` of the code that built the object being initialised: what a duplicate names."""
    frame = sys._getframe(1)
    while frame.f_back is not None and (frame.f_code.co_filename == __file__
                                        or frame.f_code.co_filename.startswith("<")):
        frame = frame.f_back
    path = Path(frame.f_code.co_filename).resolve()
    shown = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    return f"{shown}:{frame.f_lineno}"


@dataclass(frozen=True, eq=False)
class Column:
    """A temporary column scores read (their `uses`): computed once per frame before them, then dropped."""

    name: str
    expr: Callable[[Any], pl.Expr]  # CleanParams -> expression over the scoring frame and the columns it uses
    uses: tuple[Column, ...] = ()


@dataclass(frozen=True, eq=False)
class Score:
    """One score column: computed for every record before any threshold, kept in the output."""

    column: str
    about: str  # what it measures, one line for docs/params.md
    expr: Callable[[Any], pl.Expr] | None = None  # CleanParams -> expression, run with every other in one pass
    series: Callable[[pl.DataFrame, Any], pl.Series] | None = None  # (frame, CleanParams) -> values, after it
    uses: tuple[Column, ...] = ()
    where: str = field(default_factory=defined_at)


@dataclass(frozen=True, eq=False)
class Limit:
    """One threshold: a key of `clean.defaults` (and of every `by_source` entry), its type and default."""

    name: str
    type: Any  # a field type of stages.lib.params (one of TYPE_WORDS)
    default: Any
    where: str = field(default_factory=defined_at)


@dataclass(frozen=True, eq=False)
class CleanFilter:
    """Drops a record with `reason` where `drop_when(row)` holds; `detail(row)` says why, row-wise.

    `row.<score column>` and `row.<limit>` (the value for the row's source) are what the filter declares
    in `scores` and `limits`; record fields are read with `pl.col`.
    """

    reason: str
    when: str  # the condition in words, for docs/params.md
    drop_when: Callable[[Row], pl.Expr]
    detail: Callable[[Row], pl.Expr]
    scores: tuple[Score, ...] = ()
    limits: tuple[Limit, ...] = ()
    where: str = field(default_factory=defined_at)


def register(*filters: CleanFilter) -> tuple[CleanFilter, ...]:
    """The filters, in the order they are applied (the first that matches names the reason). Each reason,
    score column and limit has one home: a second one fails here, at import, naming both places."""
    _unique(filters, "reason", lambda f: f.reason)
    _unique(scores_of(filters), "score column", lambda s: s.column)
    _unique(limits_of(filters), "limit", lambda limit: limit.name)
    return tuple(filters)


def _unique(items: Iterable[Any], what: str, key: Callable[[Any], str]) -> None:
    seen: dict[str, Any] = {}
    for item in items:
        first = seen.setdefault(key(item), item)
        if first is not item:
            raise ValueError(f"clean filters: {what} '{key(item)}' is registered twice: {first.where} and {item.where}")


def scores_of(filters: Sequence[CleanFilter]) -> tuple[Score, ...]:
    """Every score the filters read, once, in the order they first appear (the output's column order)."""
    return tuple(dict.fromkeys(score for flt in filters for score in flt.scores))


def limits_of(filters: Sequence[CleanFilter]) -> tuple[Limit, ...]:
    return tuple(dict.fromkeys(limit for flt in filters for limit in flt.limits))


def limits_model(filters: Sequence[CleanFilter], module: str) -> type[Params]:
    """The params model of one source's thresholds: a field per limit, with its default."""
    fields: dict[str, Any] = {limit.name: (limit.type, limit.default) for limit in limits_of(filters)}
    return create_model("Limits", __base__=Params, __module__=module, **fields,
                        __doc__="Thresholds for one source (`defaults`, or a `by_source` entry merged over them).")


def per_source(params: Any, key: str) -> pl.Expr:
    """The threshold `key` for each row's source (defaults where no override)."""
    default = getattr(params.defaults, key)
    mapping = {source: getattr(limits, key) for source, limits in params.by_source.items()}
    if not mapping:
        return pl.lit(default)
    return pl.col("source").replace_strict(mapping, default=default)


class Row:
    """What one filter's rule reads: `row.<score column>` and `row.<limit>` (per source), as expressions."""

    def __init__(self, flt: CleanFilter, params: Any) -> None:
        self._filter, self._params = flt, params

    def __getattr__(self, name: str) -> pl.Expr:
        if any(score.column == name for score in self._filter.scores):
            return pl.col(name)
        if any(limit.name == name for limit in self._filter.limits):
            return per_source(self._params, name)
        raise AttributeError(f"{self._filter.where}: filter {self._filter.reason} reads '{name}', "
                             f"which is none of its scores or limits")


def build(filters: Sequence[CleanFilter], params: Any) -> list[Filter]:
    """The stage's filters, in order; each threshold is looked up per row from its source."""
    return [Filter(flt.reason, flt.drop_when(Row(flt, params)), flt.detail(Row(flt, params))) for flt in filters]


def add_scores(frame: pl.DataFrame, scores: Sequence[Score], params: Any, timer: StepTimer) -> pl.DataFrame:
    """`frame` with every score column: the temporary columns the scores use (level by level), every
    score's expression in one pass, then the `series` functions in order; the temporaries dropped."""
    levels = column_levels(scores)
    with timer.step("score:expressions"):
        for level in levels:
            frame = frame.with_columns(column.expr(params).alias(column.name) for column in level)
        frame = frame.with_columns(score.expr(params).alias(score.column) for score in scores if score.expr)
    for score in scores:
        if score.series is not None:
            with timer.step(f"score:{score.column}"):
                frame = frame.with_columns(score.series(frame, params).alias(score.column))
    return frame.drop([column.name for level in levels for column in level])


def column_levels(scores: Sequence[Score]) -> list[list[Column]]:
    """The temporary columns the scores use, in levels: a column uses only columns of earlier levels."""
    level: dict[Column, int] = {}

    def visit(column: Column) -> int:
        if column not in level:
            level[column] = 1 + max((visit(used) for used in column.uses), default=-1)
        return level[column]

    for score in scores:
        for column in score.uses:
            visit(column)
    return [[c for c, n in level.items() if n == depth] for depth in range(max(level.values(), default=-1) + 1)]


def docs_table(filters: Sequence[CleanFilter]) -> str:
    """The filters (in order) and the score columns, as the Markdown tables of docs/params.md (`clean`)."""
    lines = ["| reason | drops a record when | limits: type, default |", "|---|---|---|"]
    for flt in filters:
        limits = "; ".join(f"`{limit.name}`: {type_words(limit)}, {shown(limit.default)}" for limit in flt.limits)
        lines.append(f"| `{flt.reason}` | {flt.when} | {limits or 'none'} |")
    lines += ["", "| score column | what it measures |", "|---|---|"]
    lines += [f"| `{score.column}` | {score.about} |" for score in scores_of(filters)]
    return "\n".join(lines) + "\n"


def type_words(limit: Limit) -> str:
    for kind, words in TYPE_WORDS:
        if limit.type is kind:
            return words
    raise ValueError(f"{limit.where}: limit '{limit.name}' has a type docs/params.md has no words for "
                     f"(add it to TYPE_WORDS in stages/clean/registry.py)")


def shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
