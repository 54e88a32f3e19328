"""Near-duplicate clusters on Ray, equal to `near.find_near_duplicates` pair for pair.

1. Sketch: a Ray Dataset of (doc, text) blocks; `map_batches(batch_format="pyarrow")` computes
   each block's signatures and band keys with the local functions (`near.batch_sketch`) and
   emits one row per (band, key, doc) of a non-empty text, tagged with a partition
   `part = mix(band, key) mod P`.
2. Candidates: `groupby("part").map_groups` hands every row of one partition to one task, so
   each (band, key) bucket is whole there; `lsh.bucket_pairs` pairs each doc with the next
   `bucket_window` docs of its bucket exactly as the local engine does. The distinct pairs
   (8 bytes each) come back to the driver.
3. Verification: pair batches go to Ray tasks with the texts (and answers) of just their
   documents; each task computes the exact Jaccard (or the signature estimate) and the
   `answer_threshold` check with the local functions.
4. Components: union of the verified pairs with scipy on the driver. Only pairs are
   collected (8-24 bytes per verified pair, a small share of the records): a distributed
   union-find would pay several shuffles to save memory that the pair list does not use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from stages.dedupe.config import DedupParams
from stages.dedupe.lsh import _mix64, bucket_pairs
from stages.dedupe.near import (NearResult, answers_agree, batch_signatures, batch_sketch, cluster_result,
                                find_near_duplicates, pair_jaccard)
from stages.dedupe.minhash import estimated_jaccard
from stages.engine.config import EngineParams
from stages.engine.session import BlockFailure, connect, stage_error

VERIFY_PAIRS = 1 << 15  # candidate pairs per verification task


def sketch_block(table: pa.Table, params: DedupParams, parts: int, source: str) -> pa.Table:
    """(part, band, key, doc) for every band of every non-empty text of one block."""
    docs = table.column("doc").to_numpy()
    try:
        texts = table.column("text").to_pylist()
        keys, _ = batch_sketch(texts, params.model_copy(update={"verify": "exact"}))
        filled = np.array([len(t) > 0 for t in texts], dtype=bool)
        keys, docs = keys[:, filled], docs[filled]
        bands = np.repeat(np.arange(keys.shape[0], dtype=np.int32), docs.size)
        flat = keys.reshape(-1)
        part = (_mix64(flat ^ bands.astype(np.uint64)) % np.uint64(parts)).astype(np.int32)
        return pa.table({"part": part, "band": bands, "key": flat, "doc": np.tile(docs, keys.shape[0])})
    except Exception as exc:  # noqa: BLE001 - one line naming the file and the documents
        raise BlockFailure(f"{source} (documents {docs.min()}-{docs.max()})", f"dedup sketch: {exc}") from None


def bucket_block(table: pa.Table, window: int, source: str) -> pa.Table:
    """Distinct candidate pairs (left << 32 | right) of the whole buckets in one partition."""
    try:
        band = table.column("band").to_numpy()
        key, doc = table.column("key").to_numpy(), table.column("doc").to_numpy()
        found = [bucket_pairs(key[band == b], doc[band == b], window) for b in np.unique(band)]
        pairs = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint64)
        return pa.table({"pair": pairs})
    except Exception as exc:  # noqa: BLE001
        raise BlockFailure(source, f"dedup candidates: {exc}") from None


SKETCH = sketch_block  # the map function of step 1 (a module attribute, so a test can wrap it)


def verify_pairs(texts: pa.Array, answers: pa.Array | None, left: np.ndarray, right: np.ndarray,
                 params: DedupParams, check: bool, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(jaccard, ok) of pairs over local document numbers 0..len(texts)-1; ok: at or above threshold
    with agreeing answers (`check`), else all true."""
    try:
        params = params.model_copy(update={"workers": 1})
        series = pl.Series(texts)
        if params.verify == "estimate":
            jaccard = estimated_jaccard(batch_signatures(series.to_list(), params), left, right)
        else:
            jaccard = pair_jaccard(series, left, right, params, None)
        ok = jaccard >= params.threshold if check else np.ones(left.size, dtype=bool)
        if check and answers is not None and params.answer_threshold is not None and ok.any():
            ok[ok] = answers_agree(pl.Series(answers), left[ok], right[ok], params)
        return jaccard, ok
    except Exception as exc:  # noqa: BLE001
        raise BlockFailure(source, f"dedup verification: {exc}") from None


def verify_on_ray(ray: Any, texts: pl.Series, answers: pl.Series | None, left: np.ndarray, right: np.ndarray,
                  params: DedupParams, check: bool, source: str) -> tuple[np.ndarray, np.ndarray]:
    """verify_pairs over batches of pairs in Ray tasks, each shipped only its documents' texts."""
    task = ray.remote(verify_pairs)
    futures = []
    for lo in range(0, left.size, VERIFY_PAIRS):
        a, b = left[lo:lo + VERIFY_PAIRS], right[lo:lo + VERIFY_PAIRS]
        docs = np.unique(np.concatenate([a, b]))
        part_answers = None if answers is None else answers.gather(docs).to_arrow()
        futures.append(task.remote(texts.gather(docs).to_arrow(), part_answers, np.searchsorted(docs, a),
                                   np.searchsorted(docs, b), params, check, source))
    done = ray.get(futures)
    if not done:
        return np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


def candidates_on_ray(ray: Any, texts: pl.Series, params: DedupParams, engine: EngineParams,
                      source: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct candidate pairs (left, right) from a distributed group-by on (band, key)."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    parts = max(2, 2 * cpus)
    rows = engine.block_rows
    blocks = [pa.table({"doc": np.arange(lo, min(lo + rows, texts.len()), dtype=np.int64),
                        "text": texts.slice(lo, rows).to_arrow()}) for lo in range(0, texts.len(), rows)]
    ds = ray.data.from_arrow(blocks)
    keyed = ds.map_batches(SKETCH, fn_kwargs={"params": params, "parts": parts, "source": source},
                           batch_format="pyarrow", batch_size=params.batch_size)
    paired = keyed.groupby("part", num_partitions=parts).map_groups(
        bucket_block, fn_kwargs={"window": params.bucket_window, "source": source}, batch_format="pyarrow")
    found = [t.column("pair").to_numpy() for t in ray.get(paired.to_arrow_refs()) if t.num_rows]
    pairs = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint64)
    return (pairs >> np.uint64(32)).astype(np.int64), (pairs & np.uint64(0xFFFFFFFF)).astype(np.int64)


def find_near_duplicates_ray(texts: pl.Series, params: DedupParams, answers: pl.Series | None,
                             engine: EngineParams, source: str) -> NearResult:
    """`near.find_near_duplicates` with sketching, candidates and verification on Ray."""
    n = texts.len()
    if n < 2:  # nothing to compare: no cluster to start
        return find_near_duplicates(texts, params, answers)
    ray = connect(engine)
    try:
        left, right = candidates_on_ray(ray, texts, params, engine, source)
        jaccard, ok = verify_on_ray(ray, texts, answers, left, right, params, True, source)
        return cluster_result(n, int(ok.size), left[ok], right[ok], jaccard[ok],
                              lambda a, b: verify_on_ray(ray, texts, None, a, b, params, False, source)[0])
    except Exception as exc:  # noqa: BLE001 - one line, not a Ray traceback
        raise stage_error("dedup", exc) from None
