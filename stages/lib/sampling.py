"""Seeded, order-free sampling by record id: the same ids and seed always give the same choice."""

from __future__ import annotations

import hashlib

import polars as pl


def hash_rank(seed: int) -> pl.Expr:
    """A deterministic pseudo-random rank per id (independent of row order and polars version); taking the
    first N by it is a deterministic, unbiased sample."""
    return pl.concat_str(pl.lit(f"{seed}:"), pl.col("id")).map_batches(
        lambda s: pl.Series([int.from_bytes(hashlib.sha256(v.encode()).digest()[:8], "big") for v in s.to_list()],
                            dtype=pl.UInt64),
        return_dtype=pl.UInt64,
    )
