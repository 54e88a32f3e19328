"""Dedup on Ray: the passes of `plan.py` as Ray tasks over the input's row groups, equal to the local
engine pair for pair. This process (the driver) keeps the same compact per-row arrays as the local
engine and the pairs; no text crosses it.

1. Pass 1 (`scan_group`): a task per row group reads its rows from the input file and returns
   `plan.scan_text`'s arrays (text hashes, priority keys). The driver puts them together and finds
   the exact groups and the priority order exactly as the local engine does.
2. Candidates: a map-reduce shuffle on (band, key). A sketch task per row group (`SKETCH`) computes
   the band keys of its records that are compared (exact-group representatives, numbered in
   priority order by a `positions` array shipped once through the object store) and returns one
   object per partition `mix(band, key) mod P` (`num_returns=P`); partition p's task takes object
   p of every sketch task, so each (band, key) bucket is whole there, and `lsh.bucket_pairs` pairs
   each doc with the next `bucket_window` docs of its bucket as the local engine does. The distinct
   pairs (8 bytes each) come back to the driver. (Ray Data's `groupby().map_groups` did the same
   shuffle in 31.0 s instead of 15.7 s at 1M records on 2 CPUs: bench/RESULTS.md.)
3. Spill (`spill_group`): a task per row group writes the shingle sets (signatures with
   verify=estimate; answers' sets for the answer check) of its records that are in a pair to its
   own work file, as the local pass 2 does into one file.
4. Verification: chunks of pairs (in order of the left record) as Ray tasks, each reading just its
   records' sets from the work files (`store.PartedSets`); the Jaccard values come back, and the
   driver judges the pairs with the same `decision.near_pairs` as the local engine.
5. Components: union of the verified pairs on the driver (scipy, in `decision.near_pairs`). Only
   pairs are collected (8-24 bytes per verified pair, a small share of the records): a distributed
   union-find would pay several shuffles to save memory that the pair list does not use.

Workers read the input and the work files by path: on a local cluster both are on this machine; on
a multi-node cluster they must be on storage every node mounts (README "Running on a cluster").
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from stages.dedup import store
from stages.dedup.config import DedupParams
from stages.dedup.lsh import _mix64, bucket_pairs
from stages.dedup.decision import NearResult, cluster_result
from stages.dedup.near import batch_sketch
from stages.dedup.plan import Scan, ScanArrays, Steps, pair_rows, scan_columns, scan_text, verify_candidates
from stages.dedup.spill import answer_check, spill_columns, spill_frame
from stages.dedup.shingles import dedup_text
from stages.dedup.source import RowGroup
from stages.engine.config import EngineParams
from stages.engine.session import BlockFailure, connect, stage_error
from stages.lib.errors import StageError


def rows_of(group: RowGroup) -> str:
    return f"{group.source} (records {group.first}-{group.first + group.rows - 1} in id order)"


def one_worker(params: DedupParams) -> DedupParams:
    """Tasks use one thread each: Ray runs as many tasks as the cluster has CPUs."""
    return params.model_copy(update={"workers": 1})


def scan_group(group: RowGroup, params: DedupParams) -> dict[str, np.ndarray]:
    """Pass 1's arrays of one row group."""
    try:
        return scan_text(group.read(scan_columns(params)), params)[0]
    except Exception as exc:  # noqa: BLE001 - one line naming the file and the rows
        raise BlockFailure(rows_of(group), f"dedup scan: {exc}") from None


def sketch_block(group: RowGroup, params: DedupParams, parts: int, positions: np.ndarray) -> list[np.ndarray]:
    """Per partition p, a (3, k) uint64 array of (band, key, doc) rows: every band of every compared record
    of the row group whose `mix(band, key) mod parts` is p (doc = the record's position in priority order;
    rows with position -1 are not compared)."""
    try:
        docs = positions[group.first : group.first + group.rows]
        pick = np.flatnonzero(docs >= 0)
        if pick.size == 0:
            return [np.zeros((3, 0), dtype=np.uint64) for _ in range(parts)]
        frame = group.read(params.fields)[pick]
        texts = frame.select(dedup_text(params.fields)).to_series()
        keys, _ = batch_sketch(texts, one_worker(params).model_copy(update={"verify": "exact"}))
        rows = np.stack([np.repeat(np.arange(keys.shape[0], dtype=np.uint64), pick.size), keys.reshape(-1),
                         np.tile(docs[pick].astype(np.uint64), keys.shape[0])])
        part = _mix64(rows[1] ^ rows[0]) % np.uint64(parts)
        order = np.argsort(part, kind="stable")
        cuts = np.searchsorted(part[order], np.arange(parts + 1, dtype=np.uint64))
        return [np.ascontiguousarray(rows[:, order[cuts[p] : cuts[p + 1]]]) for p in range(parts)]
    except Exception as exc:  # noqa: BLE001 - one line naming the file and the rows
        raise BlockFailure(rows_of(group), f"dedup sketch: {exc}") from None


def bucket_block(window: int, source: str, *blocks: np.ndarray) -> np.ndarray:
    """Distinct candidate pairs (left << 32 | right) of the whole buckets of one partition."""
    try:
        rows = np.concatenate(blocks, axis=1)
        band, key, doc = rows[0], rows[1], rows[2].astype(np.int64)
        found = [bucket_pairs(key[band == b], doc[band == b], window) for b in np.unique(band)]
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint64)
    except Exception as exc:  # noqa: BLE001
        raise BlockFailure(source, f"dedup candidates: {exc}") from None


SKETCH = sketch_block  # the map function of the candidates step (a module attribute, so a test can wrap it)


def apply(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) in a Ray task (fn travels with the task, so a wrapped SKETCH runs as given)."""
    return fn(*args, **kwargs)


def candidates_on_ray(ray: Any, groups: list[RowGroup], positions: np.ndarray, params: DedupParams,
                      source: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct candidate pairs (left, right): a map-reduce shuffle on (band, key) in Ray tasks. Each
    row group's sketch task returns one object per partition (`num_returns`); a partition's task takes
    its object from every sketch task, so every bucket is whole in one task."""
    parts = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    where = ray.put(positions)
    sketch = ray.remote(apply).options(num_returns=parts)
    mapped = [sketch.remote(SKETCH, group, params=params, parts=parts, positions=where) for group in groups]
    reduce = ray.remote(bucket_block)
    found = ray.get([reduce.remote(params.bucket_window, source, *[m[p] for m in mapped]) for p in range(parts)])
    pairs = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint64)
    return (pairs >> np.uint64(32)).astype(np.int64), (pairs & np.uint64(0xFFFFFFFF)).astype(np.int64)


def spill_group(group: RowGroup, rows: np.ndarray, params: DedupParams, work: str,
                answers: bool) -> tuple[store.SpilledSets, store.SpilledSets | None]:
    """Pass 2 for one row group: the sets of its `rows` (absolute, sorted) in work files of its own."""
    try:
        texts = store.SpilledSets(Path(work) / f"sets-{group.group:06d}.u32")
        answer_sets = store.SpilledSets(Path(work) / f"answers-{group.group:06d}.u32") if answers else None
        spill_frame(group.read(spill_columns(params))[rows - group.first], one_worker(params), texts, answer_sets)
        return texts.close(), (answer_sets.close() if answer_sets is not None else None)
    except Exception as exc:  # noqa: BLE001
        raise BlockFailure(rows_of(group), f"dedup spill: {exc}") from None


def spill_on_ray(ray: Any, groups: list[RowGroup], rows: np.ndarray, params: DedupParams, work: Path,
                 answers: bool) -> tuple[store.PartedSets, store.PartedSets | None]:
    """The sets of `rows` (sorted), one work file per row group that has any, read as one store."""
    task = ray.remote(spill_group)
    cuts = np.searchsorted(rows, [g.first for g in groups] + [groups[-1].first + groups[-1].rows])
    futures = [task.remote(g, rows[cuts[i] : cuts[i + 1]], params, str(work), answers)
               for i, g in enumerate(groups) if cuts[i + 1] > cuts[i]]
    done = ray.get(futures)
    texts = store.PartedSets([d[0] for d in done])
    return texts, (store.PartedSets([d[1] for d in done]) if answers else None)


def guarded(fn: Callable, source: str, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        raise BlockFailure(source, f"dedup verification: {exc}") from None


def ray_runner(ray: Any, source: str) -> store.Runner:
    """A `store.Runner` that runs every call as a Ray task; an argument that is not an array (the
    store) is put in the object store once for all of them."""
    task = ray.remote(guarded)

    def run(fn: Callable, calls: list[tuple]) -> list[np.ndarray]:
        shared: dict[int, Any] = {}

        def ref(arg: Any) -> Any:
            if arg is None or isinstance(arg, (np.ndarray, int, float, str)):
                return arg
            return shared.setdefault(id(arg), ray.put(arg))

        return ray.get([task.remote(fn, source, *map(ref, args)) for args in calls])

    return run


def scan_on_ray(records: Any, params: DedupParams, engine: EngineParams) -> Scan:
    """Pass 1 as one Ray task per row group."""
    ray = connect(engine)
    task = ray.remote(scan_group)
    groups = records.groups()
    arrays = ScanArrays(records.ids.len(), None)
    for group, found in zip(groups, ray.get([task.remote(g, params) for g in groups])):
        arrays.put(group.first, found)
    return arrays.finish()


def near_on_ray(records: Any, scan_: Scan, reps: np.ndarray, params: DedupParams, work: Path,
                seconds: dict[str, float], engine: EngineParams, source: str) -> NearResult:
    """`local.LocalSteps.near` with the candidates, the spill and the verification on Ray (no index)."""
    if reps.size < 2:  # nothing to compare
        none = np.zeros(0, dtype=np.int64)
        return cluster_result(reps.size, 0, none, none, np.zeros(0), lambda a, b: np.zeros(a.size))
    ray = connect(engine)
    started = time.perf_counter()
    positions = np.full(scan_.rank.size, -1, dtype=np.int64)
    positions[reps] = np.arange(reps.size)
    groups = records.groups()
    left, right = candidates_on_ray(ray, groups, positions, params, source)
    seconds["candidates"] = time.perf_counter() - started
    rows = pair_rows(left, right, reps)
    sets, answer_sets = spill_on_ray(ray, groups, rows, params, work, answer_check(params)) if rows.size else (
        store.PartedSets([]), store.PartedSets([]) if answer_check(params) else None)
    seconds["spill"] = time.perf_counter() - started - seconds["candidates"]
    result = verify_candidates(left, right, rows, reps, sets, answer_sets, params, ray_runner(ray, source))
    seconds["verify"] = time.perf_counter() - started - seconds["candidates"] - seconds["spill"]
    return result


def on_ray(step: Callable) -> Callable:
    """The step, with any failure as one line (`stage_error`), not a Ray traceback."""

    @functools.wraps(step)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return step(*args, **kwargs)
        except StageError:
            raise
        except Exception as exc:  # noqa: BLE001 - one line, not a Ray traceback
            raise stage_error("dedup", exc) from None

    return run


def ray_steps(engine: EngineParams, source: str) -> Steps:
    """`plan.Steps` that run pass 1 and the near step on Ray (records: a `ParquetRecords`)."""
    return Steps(scan=on_ray(functools.partial(scan_on_ray, engine=engine)),
                 near=on_ray(functools.partial(near_on_ray, engine=engine, source=source)))
