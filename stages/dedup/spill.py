"""Pass 2 of the dedup: the shingle sets (signatures with verify=estimate) of the records in a candidate
pair, and their answers' sets for the answer check, written to work files (`store.SpilledSets`) so
that verification reads just the sets of the pairs it checks. The local engine writes one file in
one pass (`spill_sets`); the Ray engine one file per row group (`spill_frame`, from a task).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from stages.dedup import store
from stages.dedup.config import DedupParams
from stages.dedup.near import batch_signatures, map_batches
from stages.dedup.sets import shingle_sets
from stages.dedup.shingles import dedup_text
from stages.dedup.source import prefetched
from stages.lib.progress import tracker


def answer_check(params: DedupParams) -> bool:
    return "output" in params.fields and params.answer_threshold is not None


def spill_columns(params: DedupParams) -> list[str]:
    return sorted(set(params.fields) | ({"output"} if answer_check(params) else set()))


def spill_texts(chosen: pl.DataFrame, params: DedupParams, answers: bool) -> tuple[pl.Series, pl.Series | None]:
    """The dedup texts of the records `chosen`, and (`answers`) their answers'."""
    return (chosen.select(dedup_text(params.fields)).to_series(),
            chosen.select(dedup_text(("output",))).to_series() if answers else None)


def spill_frame(chosen: pl.DataFrame, params: DedupParams, texts: store.SpilledSets,
                answer_sets: store.SpilledSets | None) -> None:
    """Append the shingle sets (signatures with verify=estimate) of the records `chosen`, and their answers'."""
    write_spill(spill_texts(chosen, params, answer_sets is not None), params, texts, answer_sets)


def write_spill(found: tuple[pl.Series, pl.Series | None], params: DedupParams, texts: store.SpilledSets,
                answer_sets: store.SpilledSets | None) -> None:
    write_features(texts, found[0], params)
    if answer_sets is not None:
        write_features(answer_sets, found[1], params, exact=True)


def spill_sets(records: Any, rows: np.ndarray, params: DedupParams, work: Path, answers: bool,
               name: str = "sets") -> tuple[store.SpilledSets, store.SpilledSets | None]:
    """Pass 2: the sets of `rows` (sorted), and their answers' sets, written to work files `name`.u32 and
    `name`-answers.u32 in row order (only the row groups holding one of the rows are read)."""
    texts = store.SpilledSets(work / f"{name}.u32")
    answer_sets = store.SpilledSets(work / f"{name}-answers.u32") if answers else None

    def chosen() -> Iterator[pl.DataFrame]:
        for lo, batch in records.batches(spill_columns(params), rows=rows):
            picked = rows[np.searchsorted(rows, lo) : np.searchsorted(rows, lo + batch.height)] - lo
            if picked.size:
                yield batch[picked]

    # As in pass 1, the polars part of the next batch runs in a background thread.
    with tracker("dedup: candidate sets", total=int(rows.size), unit="record") as shown:
        for found in prefetched(spill_texts(batch, params, answers) for batch in chosen()):
            write_spill(found, params, texts, answer_sets)
            shown.update(found[0].len())
    return texts.close(), (answer_sets.close() if answer_sets is not None else None)


def write_features(target: store.SpilledSets, text: pl.Series, params: DedupParams, exact: bool = False) -> None:
    if params.verify == "estimate" and not exact:
        for _, sig in map_batches(lambda batch: batch_signatures(batch, params), text, params):
            target.append(np.ascontiguousarray(sig.T).reshape(-1),
                          np.arange(sig.shape[1] + 1, dtype=np.int64) * params.num_perm)
        return
    for _, (values, offsets) in map_batches(lambda batch: shingle_sets(batch, params.ngram), text, params):
        target.append(values, offsets)
