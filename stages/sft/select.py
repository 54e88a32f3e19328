"""Selection by score in `assemble` (`params.yaml: assemble.select`): min / max / keep-quantile per score,
overall and per source.

The scores are columns of the candidates, computed upstream and read here first (stages/sft/build.py
`candidates`): `ppl` and `ifd` (familiarity), `judge_score` (the judge's overall 1-10), `score_quality`
(train_quality's classifier). `SCORES` says which end of each is better, which a keep-quantile keeps:
the lowest `ppl` (the most familiar answers) and the highest `ifd`, `judge_score` and `score_quality`.

`select.overall` holds the bounds of every source; a `select.by_source.<subset>.<score>` entry overrides
some keys of that score's overall bounds for that subset (the others are kept, like `clean.by_source`;
write `min: null` to lift an overall bound for one subset). Per score and source, in order, a candidate is
dropped as (the first that applies wins; scores in the order of `SCORES`):

- `select_<score>_missing`: the score is null (or NaN) and the bounds say `missing: drop`; with
  `missing: keep` (the default) it is kept and counted in the metrics (`select.missing_kept`), never
  silently dropped;
- `select_ifd_above_one`: `ifd.drop_above_one: true` and ifd > 1 (Cherry LLM: the question does not
  make the answer easier to predict, so the pair is likely misaligned);
- `select_<score>_below_min`, `select_<score>_above_max`: outside `min` / `max` (inclusive bounds kept);
- `select_<score>_above_quantile` (ppl) or `select_<score>_below_quantile` (the others): outside the best
  `keep_quantile` share of the source's candidates, which have the score and pass that score's checks
  above (the cutoff is the linear-interpolated quantile of those values, computed per source, so a
  source whose records all score low keeps the same share as the others).

Each dropped row's `detail` names the value, the threshold and where it comes from, e.g.
`ifd 1.2031 > max 1.0 (by_source ruozhiba)`. Thresholds are computed from the scores first and applied
second, on the candidates that reach selection (after decontamination and the empty-output check).
With no bound set (the default) nothing is read or dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import polars as pl
from pydantic import Field, field_validator, model_validator

from stages.lib.contract import Filter
from stages.lib.params import Block, Number, Params, known_subsets, number

SCORES = {"ppl": "low", "ifd": "high", "judge_score": "high", "score_quality": "high"}  # the better end
Quantile = number(lambda v: 0 < v <= 1, "in (0, 1]")


class Bounds(Params):
    """The bounds of one score: `min`, `max` (inclusive), `keep_quantile` (the better share kept) and what a
    missing score does (`keep`: kept and counted; `drop`: `select_<score>_missing`)."""

    min: Number | None = None
    max: Number | None = None
    keep_quantile: Quantile | None = None
    missing: Literal["keep", "drop"] = "keep"

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self

    @property
    def active(self) -> bool:
        return self.min is not None or self.max is not None or self.keep_quantile is not None


class IfdBounds(Bounds):
    """`Bounds` of `ifd`, plus `drop_above_one` (reason `select_ifd_above_one`)."""

    drop_above_one: bool = False

    @property
    def active(self) -> bool:
        return super().active or self.drop_above_one


class Selection(Params):
    """The bounds of each score (all off by default)."""

    ppl: Annotated[Bounds, Block] = Bounds()
    ifd: Annotated[IfdBounds, Block] = IfdBounds()
    judge_score: Annotated[Bounds, Block] = Bounds()
    score_quality: Annotated[Bounds, Block] = Bounds()

    def active(self) -> dict[str, Bounds]:
        return {score: getattr(self, score) for score in SCORES if getattr(self, score).active}


def _merged(overall: Any, value: Any) -> Any:
    """A score's by_source bounds over its overall ones (an empty value: the overall bounds; a value of
    the wrong type is left for the model to report)."""
    value = {} if value is None else value
    overall = {} if overall is None else overall
    return {**overall, **value} if isinstance(value, dict) and isinstance(overall, dict) else value


class SelectParams(Params):
    """`assemble.select`: `overall` bounds, and `by_source` overrides (keys: configured subsets), each score's
    entry merged over the overall one."""

    overall: Annotated[Selection, Block] = Selection()
    by_source: dict[str, Annotated[Selection, Block]] = Field(default_factory=dict)

    _known = field_validator("by_source")(known_subsets)

    @model_validator(mode="before")
    @classmethod
    def _merge_overall(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("by_source"), dict):
            return data
        overall = data.get("overall") if isinstance(data.get("overall"), dict) else {}
        merged = {}
        for subset, entry in data["by_source"].items():
            entry = {} if entry is None else entry  # an empty entry: the overall bounds
            if isinstance(entry, dict):
                entry = {**overall, **{score: _merged(overall.get(score), value) for score, value in entry.items()}}
            merged[subset] = entry
        return {**data, "by_source": merged}

    def of(self, source: str) -> tuple[Selection, str]:
        """A source's bounds and where they come from (`overall` or `by_source <subset>`)."""
        if source in self.by_source:
            return self.by_source[source], f"by_source {source}"
        return self.overall, "overall"

    @property
    def active(self) -> bool:
        return bool(self.overall.active()) or any(s.active() for s in self.by_source.values())

    def applied(self) -> dict[str, Any]:
        """The bounds that are set (for the manifest, the card and the metrics): {overall|subset: {score: {...}}}."""
        def set_keys(selection: Selection) -> dict[str, Any]:
            return {score: {k: v for k, v in bounds.model_dump().items() if v is not None and v is not False
                            and not (k == "missing" and v == "keep")} for score, bounds in selection.active().items()}

        shown = {"overall": set_keys(self.overall)} if self.overall.active() else {}
        return shown | {subset: set_keys(sel) for subset, sel in sorted(self.by_source.items()) if sel.active()}


def _per_source(frame: pl.DataFrame, params: SelectParams, pick: Any) -> pl.Expr:
    """A per-row number from each source's bounds: `pick(selection)` (None = no such check)."""
    values = {s: pick(params.of(s)[0]) for s in frame["source"].unique().to_list()}
    return pl.col("source").replace_strict(values, default=None, return_dtype=pl.Float64)


def _where(params: SelectParams) -> pl.Expr:
    mapping = {s: f"by_source {s}" for s in params.by_source}
    return pl.col("source").replace_strict(mapping, default="overall", return_dtype=pl.String)


def cutoffs(frame: pl.DataFrame, params: SelectParams, score: str) -> dict[str, float]:
    """{source: the keep_quantile cutoff of `score`} for sources whose bounds have a keep_quantile."""
    found = {}
    for source in sorted(frame["source"].unique().to_list()):
        bounds = getattr(params.of(source)[0], score)
        if bounds.keep_quantile is None:
            continue
        values = frame.filter(pl.col("source") == source)[score].drop_nulls()
        if score == "ifd" and bounds.drop_above_one:
            values = values.filter(values <= 1)
        if bounds.min is not None:
            values = values.filter(values >= bounds.min)
        if bounds.max is not None:
            values = values.filter(values <= bounds.max)
        if values.len():
            share = bounds.keep_quantile if SCORES[score] == "low" else 1 - bounds.keep_quantile
            found[source] = float(values.quantile(share, interpolation="linear"))
    return found


def select_filters(frame: pl.DataFrame, params: SelectParams) -> tuple[list[Filter], dict[str, Any]]:
    """The selection's filters for `frame` (scores first: the quantile cutoffs are computed here) and the
    metrics: the bounds applied, the cutoffs per score and source, the missing scores kept."""
    filters: list[Filter] = []
    info: dict[str, Any] = {"applied": params.applied(), "cutoffs": {}, "missing_kept": {}}
    where = _where(params)
    sources = frame["source"].unique().to_list()
    for score, better in SCORES.items():
        if not any(getattr(params.of(s)[0], score).active for s in sources):
            continue

        def get(key: str, score: str = score) -> pl.Expr:
            return _per_source(frame, params, lambda sel: getattr(getattr(sel, score), key))

        col = pl.col(score)
        uses = _per_source(frame, params, lambda sel, score=score: 1.0 if getattr(sel, score).active else None)
        drops = _per_source(frame, params, lambda sel, score=score: 1.0
                            if getattr(sel, score).active and getattr(sel, score).missing == "drop" else None)
        missing = col.is_null() & uses.is_not_null()
        info["missing_kept"][score] = int(frame.select((missing & drops.is_null()).sum()).item())
        filters.append(Filter(f"select_{score}_missing", missing & drops.is_not_null(),
                              pl.format("{} is missing ({})", pl.lit(score), where)))
        if score == "ifd":
            above_one = _per_source(frame, params, lambda sel: 1.0 if sel.ifd.drop_above_one else None)
            filters.append(Filter("select_ifd_above_one", above_one.is_not_null() & (col > 1),
                                  pl.format("ifd {} > 1 ({})", col.round(4), where)))
        low, high = get("min"), get("max")
        filters.append(Filter(f"select_{score}_below_min", col < low,
                              pl.format("{} {} < min {} ({})", pl.lit(score), col.round(4), low, where)))
        filters.append(Filter(f"select_{score}_above_max", col > high,
                              pl.format("{} {} > max {} ({})", pl.lit(score), col.round(4), high, where)))
        cut = cutoffs(frame, params, score)
        if cut:
            info["cutoffs"][score] = {s: round(v, 4) for s, v in cut.items()}
            line = pl.col("source").replace_strict(cut, default=None, return_dtype=pl.Float64)
            share = get("keep_quantile")
            side, sign = ("above", ">") if better == "low" else ("below", "<")
            outside = col > line if better == "low" else col < line
            filters.append(Filter(f"select_{score}_{side}_quantile", outside, pl.format(
                "{} {} {} {}, the keep_quantile {} cutoff of source {} ({})", pl.lit(score), col.round(4),
                pl.lit(sign), line.round(4), share, pl.col("source"), where)))
    info["missing_kept"] = {k: v for k, v in info["missing_kept"].items() if v}
    return filters, info
