"""Jaccard values already measured, keyed by the two texts, so that a later run measures only new pairs.

What `decision.near_pairs` reads about a pair (the Jaccard of the two dedup texts, exact or estimated,
and of their answers) depends only on the two texts: equal texts give equal shingle sets, signatures
and answers (a text fixes its fields: whitespace runs inside a field become one space, so the
newline that joins fields splits them back). A `PairMemo` keeps these values keyed by the texts'
128-bit hashes (the exact-duplicate hashes of `plan.text_hashes`), in either order. `MemoSets` is a
`decision.PairSets` that answers from the memo and measures the rest through the sets `fetch` gives
(spilled when first asked), adding what it measured. The decision itself does not change: it gets
the same floats whether they were measured now or in an earlier run (the index keeps the memo,
`index.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

KEY_COLUMNS = ("a0", "a1", "b0", "b1")
MEMO_SCHEMA = pl.Schema({**{name: pl.UInt64 for name in KEY_COLUMNS}, "jaccard": pl.Float64})


def pair_keys(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> pl.DataFrame:
    """The order-free key of each pair (a[i], b[i]) of texts whose hashes are hashes[:, doc]: the smaller
    (h0, h1) first."""
    ha0, ha1, hb0, hb1 = hashes[0, a], hashes[1, a], hashes[0, b], hashes[1, b]
    swap = (ha0 > hb0) | ((ha0 == hb0) & (ha1 > hb1))
    return pl.DataFrame({"a0": np.where(swap, hb0, ha0), "a1": np.where(swap, hb1, ha1),
                         "b0": np.where(swap, ha0, hb0), "b1": np.where(swap, ha1, hb1)},
                        schema={name: pl.UInt64 for name in KEY_COLUMNS})


@dataclass
class PairMemo:
    """Measured values (`MEMO_SCHEMA` rows); `added` collects what this run measured, `hits` counts the
    values found."""

    known: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MEMO_SCHEMA))
    added: list[pl.DataFrame] = field(default_factory=list)
    hits: int = 0

    def lookup(self, keys: pl.DataFrame) -> np.ndarray:
        """The value of each key; NaN where it is not known."""
        if self.known.height == 0 or keys.height == 0:
            return np.full(keys.height, np.nan)
        found = keys.join(self.known, on=list(KEY_COLUMNS), how="left", maintain_order="left")
        values = found["jaccard"].fill_null(np.nan).to_numpy().copy()  # writable: the caller fills the gaps
        self.hits += int(np.count_nonzero(~np.isnan(values)))
        return values

    def add(self, keys: pl.DataFrame, values: np.ndarray) -> None:
        self.added.append(keys.with_columns(pl.Series("jaccard", values, dtype=pl.Float64)))

    def merged(self, texts: pl.DataFrame) -> pl.DataFrame:
        """Known and added values of pairs whose both texts are among `texts` (columns h0, h1), sorted by key
        (so the index file does not depend on the order pairs were measured in)."""
        every = pl.concat([self.known, *self.added]).unique(subset=list(KEY_COLUMNS), keep="first")
        present = texts.select(pl.col("h0").cast(pl.UInt64), pl.col("h1").cast(pl.UInt64)).unique()
        kept = every.join(present.rename({"h0": "a0", "h1": "a1"}), on=["a0", "a1"], how="semi").join(
            present.rename({"h0": "b0", "h1": "b1"}), on=["b0", "b1"], how="semi")
        return kept.sort(list(KEY_COLUMNS))


class MemoSets:
    """`decision.PairSets` of records numbered 0..n-1 whose text hashes are hashes[:, doc]: known values from
    `memo`, the others measured by `fetch(docs)` (a PairSets holding at least those docs) and added to it;
    `empty` from the per-record flags."""

    def __init__(self, hashes: np.ndarray, memo: PairMemo, fetch: Callable[[np.ndarray], object],
                 empty: np.ndarray) -> None:
        self.hashes, self.memo, self.fetch, self.empty_flags = hashes, memo, fetch, empty

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        keys = pair_keys(self.hashes, a, b)
        values = self.memo.lookup(keys)
        missing = np.flatnonzero(np.isnan(values))
        if missing.size:
            sets = self.fetch(np.unique(np.concatenate([a[missing], b[missing]])))
            values[missing] = sets.jaccard(a[missing], b[missing])
            self.memo.add(keys[missing], values[missing])
        return values

    def empty(self, docs: np.ndarray) -> np.ndarray:
        return self.empty_flags[docs]
