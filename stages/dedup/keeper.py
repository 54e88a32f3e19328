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

PRIORITY_COLUMNS = ("human_verified", "answer_from", "output")


def priority_keys(batch: pl.DataFrame) -> pl.DataFrame:
    """Per record: verified, human (bools) and output_chars, the keys of the order above before the id."""
    return batch.select(
        pl.col("human_verified").fill_null(False).alias("verified"),
        (pl.col("answer_from") == "human").fill_null(False).alias("human"),
        pl.col("output").fill_null("").str.len_chars().cast(pl.Int64).alias("output_chars"),
    )


def priority_rank(verified: np.ndarray, human: np.ndarray, output_chars: np.ndarray) -> np.ndarray:
    """rank[i] = position of row i in priority order (0 = the record to keep first), for rows in id order
    (the row number breaks ties as the id does)."""
    rows = np.arange(verified.size, dtype=np.int64)
    order = np.lexsort((rows, -output_chars, ~human, ~verified))
    rank = np.empty(verified.size, dtype=np.int64)
    rank[order] = rows
    return rank
