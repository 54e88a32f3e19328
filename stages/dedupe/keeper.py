"""Which record of a duplicate cluster is kept: a total priority order over records.

Priority, best first:
1. `human_verified` is true (null counts as false),
2. `answer_from == "human"`,
3. longer `output` (in characters),
4. smaller `id` (ids are unique, so the order is total and the choice is
   independent of the input's row order).
"""

from __future__ import annotations

import numpy as np
import polars as pl

PRIORITY_COLUMNS = ("id", "human_verified", "answer_from", "output")


def priority_rank(records: pl.DataFrame) -> np.ndarray:
    """rank[i] = position of row i in priority order (0 = the record to keep first)."""
    keys = records.select(
        pl.col("human_verified").fill_null(False).alias("verified"),
        (pl.col("answer_from") == "human").fill_null(False).alias("human"),
        pl.col("output").fill_null("").str.len_chars().alias("output_chars"),
        pl.col("id"),
    ).with_row_index("row")
    ordered = keys.sort(["verified", "human", "output_chars", "id"], descending=[True, True, True, False])
    rank = np.empty(records.height, dtype=np.int64)
    rank[ordered["row"].to_numpy()] = np.arange(records.height, dtype=np.int64)
    return rank
