"""Pure polars functions behind `audit diff`: content hashes and joins on `id`.

Nothing here loops over records in Python; every function takes and returns
polars frames, so a diff of two 1M-record stages is a handful of hash joins.

Terms (per stage, A = the old side, B = the new side):

- kept: the rows of the stage's `records.parquet`, reduced to `id`, `source`
  and `_h`, a 64-bit hash of every other column both sides share (so any
  change to the text, the labels or the provenance makes a record *changed*);
- rejected: the rows of `rejected.parquet`, reduced to one row per `id`
  (`reason` joins the distinct reasons with `+`, `detail` is the first);
- drops: for one side, the first stage (in pipeline order) at which each
  record was rejected without also being kept there; a record that is not
  kept at a stage is explained by its drop, or is `absent` (never ingested).
"""

from __future__ import annotations

import polars as pl

from stages.lib.io import PARQUET_OPTIONS

HASH_SEED = 0x5EED
BATCH_ROWS = PARQUET_OPTIONS["row_group_size"]  # one row group of the stages' parquet files
KEYED_SCHEMA = pl.Schema({"id": pl.String, "source": pl.String, "_h": pl.UInt64})
REJECTED_SCHEMA = pl.Schema({"id": pl.String, "source": pl.String, "reason": pl.String, "detail": pl.String})
DROPS_SCHEMA = pl.Schema(
    {"id": pl.String, "stage": pl.String, "order": pl.Int64, "reason": pl.String, "detail": pl.String}
)
STATUS_SCHEMA = pl.Schema(
    {"id": pl.String, "status": pl.String, "stage": pl.String, "reason": pl.String, "detail": pl.String}
)


def _col_or_null(columns: list[str], name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String) if name in columns else pl.lit(None, pl.String).alias(name)


def content_hash(columns: list[str], as_json: frozenset[str] = frozenset()) -> pl.Expr:
    """One u64 per row over `columns`; those in `as_json` are JSON-encoded first (their types differ by side)."""
    if not columns:
        return pl.lit(0, pl.UInt64).alias("_h")
    parts = [pl.struct(pl.col(c)).struct.json_encode().alias(c) if c in as_json else pl.col(c) for c in columns]
    return pl.struct(parts).hash(seed=HASH_SEED).alias("_h")


def keyed(records: pl.LazyFrame, columns: list[str], as_json: frozenset[str] = frozenset()) -> pl.LazyFrame:
    """`id`, `source`, `_h` for each kept record (rows without an id are left out)."""
    names = records.collect_schema().names()
    return records.select(
        pl.col("id").cast(pl.String), _col_or_null(names, "source"), content_hash(columns, as_json)
    ).filter(pl.col("id").is_not_null())


def keyed_in_batches(records: pl.LazyFrame, rows: int, columns: list[str], as_json: frozenset[str] = frozenset(),
                     batch_rows: int = BATCH_ROWS) -> pl.DataFrame:
    """`keyed` over consecutive slices of `batch_rows` rows, so only one slice's texts are in memory at a time."""
    parts = [keyed(records.slice(offset, batch_rows), columns, as_json).collect()
             for offset in range(0, rows, batch_rows)]
    return pl.concat(parts) if parts else pl.DataFrame(schema=KEYED_SCHEMA)


def rejected_rows(rejected: pl.LazyFrame) -> pl.LazyFrame:
    names = rejected.collect_schema().names()
    return rejected.select(*[_col_or_null(names, c) for c in REJECTED_SCHEMA.names()])


def rejected_by_id(rejected: pl.DataFrame) -> pl.DataFrame:
    """One row per rejected id: distinct reasons joined with '+', the first detail (by reason, detail)."""
    if rejected.is_empty():
        return pl.DataFrame(schema=REJECTED_SCHEMA)
    return (
        rejected.filter(pl.col("id").is_not_null())
        .sort(["id", "reason", "detail"], nulls_last=True)
        .group_by("id", maintain_order=True)
        .agg(
            pl.col("source").first(),
            pl.col("reason").drop_nulls().unique().sort().str.join("+").alias("reason"),
            pl.col("detail").first(),
        )
        .select(REJECTED_SCHEMA.names())
    )


def kept_changes(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
    """Records added, removed or changed between the kept sets: columns id, source, change."""
    joined = a.with_columns(pl.lit(True).alias("_a")).join(
        b.with_columns(pl.lit(True).alias("_b")), on="id", how="full", coalesce=True, suffix="_b"
    )
    change = (
        pl.when(pl.col("_a").is_null())
        .then(pl.lit("added"))
        .when(pl.col("_b").is_null())
        .then(pl.lit("removed"))
        .when(pl.col("_h") != pl.col("_h_b"))
        .then(pl.lit("changed"))
    )
    return (
        joined.select(
            "id", pl.coalesce("source_b", "source").alias("source"), change.alias("change")
        )
        .filter(pl.col("change").is_not_null())
        .sort("id")
    )


def stage_drops(kept_ids: pl.DataFrame, rejected: pl.DataFrame, stage: str, order: int) -> pl.DataFrame:
    """Ids rejected at `stage` and not also kept there (a kept id's extra rejected rows are duplicates)."""
    return rejected.join(kept_ids.select("id"), on="id", how="anti").select(
        "id",
        pl.lit(stage).alias("stage"),
        pl.lit(order, pl.Int64).alias("order"),
        "reason",
        "detail",
    )


def accumulate_drops(previous: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Keep each id's first drop: `new` (a later stage) only adds ids not dropped before."""
    if previous.is_empty():
        return new
    return pl.concat([previous, new.join(previous.select("id"), on="id", how="anti")])


def status(ids: pl.DataFrame, kept_ids: pl.DataFrame, drops: pl.DataFrame) -> pl.DataFrame:
    """Where each id stands on one side at a stage: kept, dropped (at which stage, why), or absent."""
    kept = kept_ids.select("id", pl.lit(True).alias("_kept"))
    joined = ids.select("id").join(kept, on="id", how="left").join(
        drops.select("id", "stage", "reason", "detail"), on="id", how="left"
    )
    is_kept = pl.col("_kept").fill_null(False)
    return joined.select(
        "id",
        pl.when(is_kept)
        .then(pl.lit("kept"))
        .when(pl.col("stage").is_not_null())
        .then(pl.lit("dropped"))
        .otherwise(pl.lit("absent"))
        .alias("status"),
        *[pl.when(is_kept).then(pl.lit(None, pl.String)).otherwise(pl.col(c)).alias(c)
          for c in ("stage", "reason", "detail")],
    )


def rejected_changes(a: pl.DataFrame, b: pl.DataFrame, kept: pl.DataFrame) -> pl.DataFrame:
    """Differences between the per-id rejected sets, leaving out ids `kept` already explains.

    change: `newly_rejected` (rejected in B only; ids that B removed from the kept set are
    reported as removed instead), `no_longer_rejected` (rejected in A only; ids that B
    added are reported as added), `reason_changed` (rejected on both sides, other reasons).
    """
    removed = kept.filter(pl.col("change") == "removed").select("id", pl.lit(True).alias("_removed"))
    added = kept.filter(pl.col("change") == "added").select("id", pl.lit(True).alias("_added"))
    joined = (
        a.with_columns(pl.lit(True).alias("_a"))
        .join(b.with_columns(pl.lit(True).alias("_b")), on="id", how="full", coalesce=True, suffix="_b")
        .join(removed, on="id", how="left")
        .join(added, on="id", how="left")
    )
    in_a, in_b = pl.col("_a").is_not_null(), pl.col("_b").is_not_null()
    change = (
        pl.when(in_b & ~in_a & pl.col("_removed").is_null())
        .then(pl.lit("newly_rejected"))
        .when(in_a & ~in_b & pl.col("_added").is_null())
        .then(pl.lit("no_longer_rejected"))
        .when(in_a & in_b & (pl.col("reason") != pl.col("reason_b")))
        .then(pl.lit("reason_changed"))
    )
    return (
        joined.select(
            "id",
            pl.coalesce("source_b", "source").alias("source"),
            change.alias("change"),
            pl.col("reason").alias("reason_a"),
            pl.col("reason_b"),
            pl.col("detail").alias("detail_a"),
            pl.col("detail_b"),
        )
        .filter(pl.col("change").is_not_null())
        .sort("id")
    )


def counts_by(frame: pl.DataFrame, column: str, name: str) -> pl.DataFrame:
    return frame.group_by(column).len(name=name).with_columns(pl.col(name).cast(pl.Int64))


def shifts(a: pl.DataFrame, b: pl.DataFrame, column: str) -> pl.DataFrame:
    """Row counts per value of `column` on each side (0 where absent), sorted by value."""
    ca, cb = counts_by(a, column, "a"), counts_by(b, column, "b")
    return (
        ca.join(cb, on=column, how="full", coalesce=True, nulls_equal=True)
        .with_columns(pl.col("a").fill_null(0), pl.col("b").fill_null(0))
        .sort(column, nulls_last=True)
    )


def source_shifts(kept_a: pl.DataFrame, kept_b: pl.DataFrame, rej_a: pl.DataFrame, rej_b: pl.DataFrame) -> pl.DataFrame:
    """Kept and rejected rows per `source` on each side: source, a_kept, b_kept, a_rejected, b_rejected."""
    kept = shifts(kept_a, kept_b, "source").rename({"a": "a_kept", "b": "b_kept"})
    rejected = shifts(rej_a, rej_b, "source").rename({"a": "a_rejected", "b": "b_rejected"})
    return (
        kept.join(rejected, on="source", how="full", coalesce=True, nulls_equal=True)
        .with_columns(pl.col("a_kept", "b_kept", "a_rejected", "b_rejected").fill_null(0))
        .select("source", "a_kept", "b_kept", "a_rejected", "b_rejected")
        .sort("source", nulls_last=True)
    )


def field_hashes(records: pl.LazyFrame, ids: pl.DataFrame, columns: list[str],
                 as_json: frozenset[str] = frozenset()) -> pl.LazyFrame:
    """One hash per column for the rows whose id is in `ids` (to name the fields that changed)."""
    exprs = [
        (pl.struct(pl.struct(pl.col(c)).struct.json_encode()) if c in as_json else pl.struct(pl.col(c)))
        .hash(seed=HASH_SEED)
        .alias(c)
        for c in columns
    ]
    # is_in (not a semi join) lets the parquet reader decode the other columns only for matching rows
    return records.filter(pl.col("id").is_in(ids["id"].implode())).select(pl.col("id"), *exprs)


def changed_fields(a: pl.DataFrame, b: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """id and `fields` (the list of columns whose hashes differ), sorted by id."""
    joined = a.join(b, on="id", how="inner", suffix="_b")
    if not columns:
        return joined.select("id", pl.lit([], pl.List(pl.String)).alias("fields")).sort("id")
    flags = [pl.when(pl.col(c) != pl.col(f"{c}_b")).then(pl.lit(c)) for c in columns]
    return joined.select("id", pl.concat_list(flags).list.drop_nulls().alias("fields")).sort("id")
