"""The local engine's pass 1 and near step, reusing what the index (`index.py`) already holds.

Pass 1 (`LocalSteps.scan`) reads the columns pass 1 needs, fingerprints every record and looks it up
in the index: a record with the same id and fingerprint takes its arrays (text hashes, priority
keys, band keys) from there; the others are sketched, and (while there are few of them, with an
index) their shingle sets are spilled right away, since they will be compared. Without an index
every record is new and nothing is spilled in pass 1.

The near step takes the candidates over all records as a run without an index does, then lets
`decision.near_pairs` judge them through `memo.MemoSets`: values of pairs of texts measured in an
earlier run come from the index; the rest are measured from shingle sets, spilled from the input
when first asked (`Fetch`: only the row groups holding the records needed are read; without an
index this is pass 2, all records in a candidate pair). The band keys go to the next index before
they are freed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from stages.dedup import index as index_files
from stages.dedup import store
from stages.dedup.config import DedupParams
from stages.dedup.decision import NearResult, near_pairs
from stages.dedup.lsh import candidate_pairs
from stages.dedup.memo import MEMO_SCHEMA, MemoSets, PairMemo
from stages.dedup.near import sketch
from stages.dedup.plan import Scan, ScanArrays, fingerprints, scan_columns, scan_text
from stages.dedup.shingles import dedup_text
from stages.dedup.source import prefetched
from stages.dedup.spill import answer_check, spill_sets, write_spill
from stages.lib.progress import tracker

EARLY_SPILL = 1 << 16  # new records whose sets pass 1 spills at most (beyond n / 10): a few, then pass 2


def band_keys_of(text: pl.Series, params: DedupParams) -> np.ndarray:
    """(bands, len(text)) band keys of the texts' signatures (the signatures are not kept)."""
    return sketch(text, params.model_copy(update={"verify": "exact"}))[0]


class Fetch:
    """The shingle sets (or signatures) of the records compared, and their answers' sets, spilled to work
    files when first asked for: `texts(docs)` / `answers(docs)` give `store.StoredSets` holding at least
    the records `docs` (indices into `reps`)."""

    def __init__(self, records: Any, params: DedupParams, work: Path) -> None:
        self.records, self.params, self.work = records, params, work
        self.sets, self.answer_sets = store.RowStore(), store.RowStore()
        self.reps = np.zeros(0, dtype=np.int64)
        self.seconds, self.calls = 0.0, 0

    def add(self, rows: np.ndarray, sets: store.SpilledSets, answer_sets: store.SpilledSets | None) -> None:
        self.sets.add(rows, sets)
        if answer_sets is not None:
            self.answer_sets.add(rows, answer_sets)

    def _ensure(self, docs: np.ndarray) -> None:
        rows = self.sets.missing(np.unique(self.reps[docs]))
        if rows.size:
            started = time.perf_counter()
            self.calls += 1
            self.add(rows, *spill_sets(self.records, rows, self.params, self.work, answer_check(self.params),
                                       name=f"sets-{self.calls}"))
            self.seconds += time.perf_counter() - started

    def texts(self, docs: np.ndarray) -> store.StoredSets:
        self._ensure(docs)
        length = self.params.num_perm if self.params.verify == "estimate" else None
        return store.StoredSets(self.sets, self.sets.rows, self.reps, length)

    def answers(self, docs: np.ndarray) -> store.StoredSets:
        self._ensure(docs)
        return store.StoredSets(self.answer_sets, self.answer_sets.rows, self.reps)


class LocalSteps:
    """`plan.Steps` here, reusing `known` (an index, or None); `partial` is where the next index is written
    (None: no index is kept); `work` the work folder. After the run, `texts`/`answers` hold the measured
    pairs and `counts` what was reused and what computed."""

    def __init__(self, known: index_files.Index | None, partial: Path | None, work: Path) -> None:
        self.known, self.partial, self.work = known, partial, work
        self.texts = PairMemo(known.texts if known else pl.DataFrame(schema=MEMO_SCHEMA))
        self.answers = PairMemo(known.answers if known else pl.DataFrame(schema=MEMO_SCHEMA))
        self.fetch: Fetch | None = None
        self.scan_: Scan | None = None
        self.counts: dict[str, int] = {}

    def _batches(self, records: Any, params: DedupParams):
        """The polars part of pass 1 per batch (in a background thread): fingerprints, rows in the index,
        and for the other records scan_text's arrays, their texts and answers."""
        for lo, batch in records.batches(scan_columns(params)):
            if not batch.height:
                continue
            keeps = self.known is not None or self.partial is not None  # without an index, no fingerprints
            fp = fingerprints(batch, params) if keeps else np.zeros((2, batch.height), dtype=np.uint64)
            ids = records.ids.slice(lo, batch.height)
            at = self.known.match(ids, fp) if self.known else np.full(batch.height, -1, dtype=np.int64)
            new = np.flatnonzero(at < 0)
            found = text = answers = None
            if new.size:
                chosen = batch if new.size == batch.height else batch[new]
                found, text = scan_text(chosen, params)
                answers = chosen.select(dedup_text(("output",))).to_series() if self.spills(params) else None
            yield lo, fp, at, new, found, text, answers

    def spills(self, params: DedupParams) -> bool:
        """Whether pass 1 spills the sets of new records (with an index), so answers are needed too."""
        return self.known is not None and answer_check(params)

    def scan(self, records: Any, params: DedupParams) -> Scan:
        n, known = records.ids.len(), self.known
        arrays = ScanArrays(n, params.banding()[0])
        fresh = np.zeros(n, dtype=bool)
        self.fetch = fetch = Fetch(records, params, self.work)
        budget = max(EARLY_SPILL, n // 10) if known is not None else 0
        early = [store.SpilledSets(fetch.work / "early.u32"),
                 store.SpilledSets(fetch.work / "early-answers.u32") if answer_check(params) else None]
        early_rows: list[np.ndarray] = []
        with tracker("dedup: sketch", total=n, unit="record") as shown:
            for lo, fp, at, new, found, text, answers in prefetched(self._batches(records, params)):
                arrays.put(lo, {"fp": fp})
                old = np.flatnonzero(at >= 0)
                if old.size:
                    arrays.put(lo + old, {name: values[..., at[old]] for name, values in known.arrays.items() if name != "fp"})
                    arrays.put(lo + old, {"keys": known.keys[:, at[old]]})
                if new.size:
                    arrays.put(lo + new, {**found, "keys": band_keys_of(text, params)})
                    fresh[lo + new] = True
                    if budget >= new.size:
                        budget -= new.size
                        write_spill((text, answers), params, early[0], early[1])
                        early_rows.append(lo + new)
                shown.update(fp.shape[1])
        fetch.add(np.concatenate(early_rows) if early_rows else np.zeros(0, dtype=np.int64), early[0].close(),
                  early[1].close() if early[1] is not None else None)
        self.scan_ = scan_ = arrays.finish()
        scan_.fresh = fresh
        self.counts |= {"reused_records": int(n - fresh.sum()), "sketched_records": int(fresh.sum())}
        return scan_

    def near(self, records: Any, scan_: Scan, reps: np.ndarray, params: DedupParams, work: Path,
             seconds: dict[str, float]) -> NearResult:
        started = time.perf_counter()
        bands, _ = params.banding()
        left, right = candidate_pairs((scan_.keys[band, reps] for band in range(bands)), params.bucket_window,
                                      docs=np.arange(reps.size, dtype=np.int64))
        if self.partial is not None:
            index_files.save_keys(self.partial, scan_.keys)
        scan_.keys = None  # the largest array: free it before verification
        seconds["candidates"] = time.perf_counter() - started
        fetch = self.fetch
        fetch.reps = reps
        hashes = scan_.hashes[:, reps]
        texts = MemoSets(hashes, self.texts, fetch.texts, scan_.empty[reps])
        answers = MemoSets(hashes, self.answers, fetch.answers, scan_.arrays["answer_empty"][reps])
        with tracker("dedup: verify", total=int(left.size), unit="pair") as shown:
            result = near_pairs(reps.size, left, right, texts, answers if answer_check(params) else None, params)
            shown.update(int(left.size))
        self.counts |= {"reused_pairs": self.texts.hits + self.answers.hits,
                        "measured_pairs": sum(frame.height for frame in self.texts.added + self.answers.added)}
        seconds["spill"] = fetch.seconds
        seconds["verify"] = time.perf_counter() - started - seconds["candidates"] - fetch.seconds
        return result

