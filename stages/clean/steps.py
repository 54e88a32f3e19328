"""Applying one text step to the text columns, and remembering what it changed.

A step maps a string column to a string column: either a polars expression
(vectorised, used wherever the rule fits a regex without look-around) or a
Python function (for rules that need look-around, validation or a library
call). A step may come with a hint: a cheap regex (or expression) that selects
the rows it can possibly change, so the step itself, the copy of its output
and the comparison with its input only touch those rows. Most repairs concern
a few records, and scanning for a literal is far cheaper than rewriting every
string. Either way the step returns the new columns and a boolean Series "this
record changed", which `TransformLog` turns into `transforms` entries such as
`clean:html`: a record gets a tag only when that step actually changed one of
its texts.

`StepTimer` adds up wall and CPU time per step name, for the benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import polars as pl

TEXT_FIELDS = ("instruction", "input", "output")

ExprStep = Callable[[pl.Expr], pl.Expr]
TextFunc = Callable[[str], str]
Hint = str | ExprStep | tuple[str | ExprStep, ...] | None


def hinted_rows(column: pl.Series, hint: Hint, within: pl.Series | None = None) -> pl.Series | None:
    """Row numbers the step may change: those the hint selects (among `within`, when given).

    A tuple of hints is read in turn, each only on the rows the one before selected (a cheap scan
    first, a sharper one second). None means every row (no hint, no `within`).
    """
    rows = within
    for one in hint if isinstance(hint, tuple) else (hint,):
        if one is None or (rows is not None and rows.len() == 0):
            continue
        rows = _selected(column, one).arg_true() if rows is None else rows.filter(_selected(column.gather(rows), one))
    return rows


def _selected(column: pl.Series, hint: str | ExprStep) -> pl.Series:
    selected = column.str.contains(hint) if isinstance(hint, str) else column.to_frame().select(
        hint(pl.col(column.name))).to_series()
    return selected.fill_null(False)


def candidate_rows(texts: pl.DataFrame, pattern: str) -> dict[str, pl.Series]:
    """Per column, the rows matching `pattern`: one scan shared by several hinted steps."""
    return {name: texts[name].str.contains(pattern).fill_null(False).arg_true() for name in texts.columns}


def _apply(texts: pl.DataFrame, transform: Callable[[pl.Series], pl.Series], hint: Hint,
           within: dict[str, pl.Series] | None = None) -> tuple[pl.DataFrame, pl.Series]:
    """Run `transform` on the hinted rows of each column; put the results back in place."""
    columns, changed = [], pl.Series("changed", [False] * texts.height, dtype=pl.Boolean)
    for name in texts.columns:
        column = texts[name]
        rows = hinted_rows(column, hint, None if within is None else within[name])
        if rows is None:
            new = transform(column).alias(name)
            changed = changed | (new != column).fill_null(True)
            column = new
        elif rows.len():
            old = column.gather(rows)
            new = transform(old).alias(name)
            differs = (new != old).fill_null(True)
            if differs.any():
                changed = changed.scatter(rows.filter(differs), True)
                column = column.clone().scatter(rows, new)
        columns.append(column.alias(name))
    return pl.DataFrame(columns), changed.alias("changed")


def apply_expr(texts: pl.DataFrame, step: ExprStep, hint: Hint = None,
               within: dict[str, pl.Series] | None = None) -> tuple[pl.DataFrame, pl.Series]:
    """Apply a polars expression step to every column (only to the hinted rows, among `within`)."""
    return _apply(texts, lambda column: column.to_frame().select(step(pl.col(column.name))).to_series(), hint,
                  within)


def apply_python(texts: pl.DataFrame, func: TextFunc, hint: Hint,
                 within: dict[str, pl.Series] | None = None) -> tuple[pl.DataFrame, pl.Series]:
    """Apply `func` to the strings the hint selects (among `within`); others are left as they are."""
    return _apply(texts, lambda column: pl.Series(column.name, [func(v) for v in column.to_list()],
                                                  dtype=pl.String), hint, within)


def count_literal(texts: pl.DataFrame, literal: str) -> pl.Series:
    """Occurrences of `literal` per row, summed over the columns."""
    return texts.select(
        pl.sum_horizontal(pl.col(name).str.count_matches(literal, literal=True) for name in texts.columns)
    ).to_series()


class TransformLog:
    """Which records each step changed, keyed by transforms tag in first-seen order."""

    def __init__(self) -> None:
        self.changed: dict[str, pl.Series] = {}

    def record(self, tag: str, changed: pl.Series) -> None:
        if tag in self.changed:
            changed = self.changed[tag] | changed
        self.changed[tag] = changed.alias(tag)

    def counts(self) -> dict[str, int]:
        """Records changed per tag (only tags that changed something)."""
        counts = {tag: int(flags.sum()) for tag, flags in self.changed.items()}
        return {tag: n for tag, n in sorted(counts.items()) if n}

    def append_to(self, transforms: pl.Series) -> pl.Series:
        """`transforms` with each record's tags appended in step order (lists are built only for the
        records some step changed, with only the tags that changed something: most records have none)."""
        tags = [tag for tag, flags in self.changed.items() if flags.any()]
        if not tags:
            return transforms
        flags = pl.DataFrame([transforms.alias("transforms"), *(self.changed[tag] for tag in tags)])
        flags = flags.with_row_index("_row")
        touched = flags.select(pl.any_horizontal(tags)).to_series()
        appended = flags.filter(touched).select(
            "_row", pl.concat_list("transforms", *[pl.when(pl.col(tag)).then(pl.lit(tag)) for tag in tags])
            .list.drop_nulls().alias("transforms"))
        untouched = flags.filter(~touched).select("_row", "transforms")
        return pl.concat([untouched, appended]).sort("_row")["transforms"]


class StepTimer:
    """Wall-clock and CPU seconds (all threads of this process) per step name, summed over calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu_started
