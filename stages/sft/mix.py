"""Choosing the SFT mix: which curated records and rewrites go in, and the split.

Every choice is a pure function of record ids and params, so the same inputs
and seed always give the same set:
- `hash_rank` (stages/lib/sampling.py): a seeded hash of the id orders records for capping; taking the
  first N by this rank is a deterministic, unbiased sample.
- `split_of`: a record is in `eval` when its seeded id hash falls below
  `eval_share` (so adding records rarely moves existing ones between splits),
  unless another record with the same instruction is in `train`.
Records that are not taken go to rejected rows with a reason:
`assemble_empty_output` (no answer to train on, e.g. Ruozhiba titles that were
not rewritten), the selection by score's `select_*` reasons (`assemble.select`, stages/sft/select.py,
the one place a score is thresholded: after the empty-output check, before the caps, so caps and the
rewrite share choose among the selected), `assemble_source_cap`, `assemble_rewrite_share`,
and with `rewrites: replace` `assemble_replaced_by_rewrite` (a seed whose rewrite is in the set: the
same questions trained with other answers).

`AssembleParams` is the `assemble` section of params.yaml; `source_caps` keys must
name configured subsets (load it with `context={"subsets": configured_subsets(sources)}`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import polars as pl
from pydantic import Field, field_validator, model_validator

from stages.lib.contract import Filter, split_by_filters
from stages.lib.params import (Block, Fraction, NonNegativeInt, Params, ShareBelowOne, key_problem, known_subsets,
                                number)
from stages.lib.sampling import hash_rank
from stages.sft.decontam import DecontamParams
from stages.sft.select import SelectParams, select_filters
from stages.validate.suites import CleanBounds, run_parameters

RewriteShare = number(lambda v: 0 <= v <= 1, "in [0, 1] or null")
MIX_KEYS = ("seed", "eval_share", "source_caps", "rewrite_share", "system_prompt", "min_rows", "rewrites")


class AssembleParams(Params, section="assemble"):
    """`assemble` in params.yaml (see the comments there)."""

    seed: int = 42
    eval_share: ShareBelowOne = 0.1
    source_caps: dict[str, NonNegativeInt] = Field(default_factory=dict)
    rewrite_share: RewriteShare | None = None
    system_prompt: str | None = None
    min_rows: NonNegativeInt = 1  # the sft suite fails below this many records
    min_zh_share: Fraction | None = None  # the sft suite's Chinese share; null = the suite's default
    decontam: DecontamParams = Field(default_factory=DecontamParams)
    select: Annotated[SelectParams, Block] = SelectParams()
    rewrites: Literal["add", "replace"] = "add"  # replace: a rewrite in the set takes its seed's place

    _caps_name_subsets = field_validator("source_caps")(known_subsets)

    @model_validator(mode="before")
    @classmethod
    def _max_ppl_moved(cls, data: Any) -> Any:
        """`assemble.max_ppl` was a second home of the ppl bound; it is `select.overall.ppl.max` now."""
        if isinstance(data, dict) and "max_ppl" in data:
            raise key_problem("max_ppl", "moved to assemble.select.overall.ppl.max (reason select_ppl_above_max)")
        return data

    def mix(self) -> dict[str, Any]:
        """The params that choose the mix, as data/sft/manifest.json records them."""
        return {**{key: getattr(self, key) for key in MIX_KEYS}, "select": self.select.applied()}

    def suite_parameters(self, subsets: list[str], bounds: CleanBounds) -> dict[str, Any]:
        """Parameters of the `sft` expectation suite run on the set (`bounds`: `clean_bounds`)."""
        return run_parameters(self.min_rows, subsets, self.min_zh_share, bounds)


def split_of(seed: int, eval_share: float) -> pl.Expr:
    """eval when the seeded id hash is below eval_share; an instruction that also occurs in a
    train record goes to train too, so no prompt is both trained on and evaluated on."""
    threshold = int(eval_share * 2**64)
    by_id = pl.when(hash_rank(seed + 1) < threshold).then(pl.lit("eval")).otherwise(pl.lit("train"))
    in_train = (by_id == "train").any().over(pl.col("instruction").str.strip_chars())
    return pl.when(in_train).then(pl.lit("train")).otherwise(by_id)


def over_cap(params: AssembleParams) -> pl.Expr:
    """True for rows past their source's cap, in hash-rank order within the source."""
    caps = pl.col("source").replace_strict(params.source_caps, default=None, return_dtype=pl.Int64)
    position = pl.col("_rank").rank("ordinal").over("source")
    return caps.is_not_null() & (position > caps)


def rewrite_limit(n_curated: int, n_rewrites: int, share: float | None) -> int:
    """How many rewrites fit so that they make up at most `share` of the mix."""
    if share is None or share >= 1:
        return n_rewrites
    return min(n_rewrites, int(share / (1 - share) * n_curated))


def replaced(kept: pl.DataFrame, params: AssembleParams) -> tuple[pl.DataFrame, pl.DataFrame]:
    """With `rewrites: replace`, the seeds (`parent_id`) of the rewrites in `kept` leave it:
    (kept, rejected as `assemble_replaced_by_rewrite`)."""
    rewrites = kept.filter(pl.col("is_rewrite")) if params.rewrites == "replace" else kept.clear()
    by_parent = dict(rewrites.select("parent_id", "id").iter_rows())
    return split_by_filters(kept, [Filter(
        "assemble_replaced_by_rewrite", ~pl.col("is_rewrite") & pl.col("id").is_in(list(by_parent)),
        pl.format("replaced by its rewrite {}",
                  pl.col("id").replace_strict(by_parent, default=None, return_dtype=pl.String)))])


def choose(candidates: pl.DataFrame, params: AssembleParams,
           selected: dict[str, Any] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """candidates has record columns + `is_rewrite` + `parent_id` (and the score columns `assemble.select`
    bounds, nullable); returns (kept, rejected). `selected` receives the selection's metrics."""
    frame = candidates.with_columns(hash_rank(params.seed).alias("_rank"))
    if "parent_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("parent_id"))
    kept, rejected = split_by_filters(frame, [
        Filter("assemble_empty_output", pl.col("output").str.strip_chars() == "", pl.lit("output is empty"))])
    filters, info = select_filters(kept, params.select)
    kept, unselected = split_by_filters(kept, filters)
    rejected = pl.concat([rejected, unselected], how="vertical_relaxed")
    if selected is not None:
        selected.update(info)
    kept, capped = split_by_filters(kept, [Filter(
        "assemble_source_cap", ~pl.col("is_rewrite") & over_cap(params),
        pl.format("source {} is capped at {}", pl.col("source"), pl.col("source").replace_strict(
            params.source_caps, default=None, return_dtype=pl.Int64)))])
    n_curated = kept.filter(~pl.col("is_rewrite")).height
    limit = rewrite_limit(n_curated, kept.filter(pl.col("is_rewrite")).height, params.rewrite_share)
    position = pl.col("_rank").rank("ordinal").over("is_rewrite")
    kept, shared = split_by_filters(kept, [Filter(
        "assemble_rewrite_share", pl.col("is_rewrite") & (position > limit),
        pl.format("rewrite share {} allows {} rewrites", pl.lit(params.rewrite_share), pl.lit(limit)))])
    kept, seeds = replaced(kept, params)
    kept = kept.with_columns(split_of(params.seed, params.eval_share).alias("split")).drop("_rank", "parent_id")
    rejected = pl.concat([rejected, capped, shared, seeds], how="vertical_relaxed").drop("_rank", "parent_id")
    return kept, rejected
