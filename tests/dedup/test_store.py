"""Spilled per-record arrays: what is read back for any set of records equals what was written."""

import numpy as np
import pytest

from stages.dedup import hashmin, store


@pytest.mark.parametrize("gap", [0, 3, 1 << 20])
@pytest.mark.parametrize("compiled", [True, False])
def test_gather_returns_exactly_the_arrays_of_the_chosen_records(tmp_path, monkeypatch, gap, compiled):
    monkeypatch.setattr(store, "GAP", gap)
    if not compiled:
        monkeypatch.setattr(hashmin, "available", lambda: False)
    rng = np.random.default_rng(5)
    arrays = [rng.integers(0, 2**32, rng.integers(0, 9), dtype=np.uint32) for _ in range(300)]
    spilled = store.SpilledSets(tmp_path / "sets.u32")
    for lo in range(0, 300, 70):  # appended in batches, as the stage does
        part = arrays[lo:lo + 70]
        offsets = np.concatenate([[0], np.cumsum([a.size for a in part])]).astype(np.int64)
        spilled.append(np.concatenate(part) if part else np.zeros(0, np.uint32), offsets)
    spilled.close()
    for docs in (np.arange(300), np.sort(rng.choice(300, 40, replace=False)), np.array([299]), np.array([0, 1])):
        values, offsets = spilled.gather(docs)
        assert [values[offsets[i]:offsets[i + 1]].tolist() for i in range(docs.size)] == [
            arrays[d].tolist() for d in docs]


def test_stored_pair_jaccard_in_chunks_equals_one_chunk(tmp_path, monkeypatch):
    rng = np.random.default_rng(6)
    sets = [np.unique(rng.integers(0, 50, rng.integers(1, 30))).astype(np.uint32) for _ in range(60)]
    spilled = store.SpilledSets(tmp_path / "sets.u32")
    spilled.append(np.concatenate(sets), np.concatenate([[0], np.cumsum([s.size for s in sets])]).astype(np.int64))
    spilled.close()
    left, right = rng.integers(0, 30, 200), rng.integers(30, 60, 200)
    whole = store.stored_pair_jaccard(spilled, left, right, None)
    monkeypatch.setattr(store, "CHUNK_PAIRS", 7)
    assert np.array_equal(whole, store.stored_pair_jaccard(spilled, left, right, None))
    expected = [len(set(sets[a].tolist()) & set(sets[b].tolist())) / len(set(sets[a].tolist()) | set(sets[b].tolist()))
                for a, b in zip(left, right)]
    assert whole.tolist() == pytest.approx(expected, abs=0)


def test_parted_sets_read_as_one_store(tmp_path):
    """Spill tasks write one file per row group; read together they equal one file of all the sets."""
    rng = np.random.default_rng(7)
    sets = [np.unique(rng.integers(0, 40, rng.integers(0, 20))).astype(np.uint32) for _ in range(90)]
    parts = []
    for i, (lo, hi) in enumerate(((0, 10), (10, 55), (55, 90))):
        part = store.SpilledSets(tmp_path / f"sets-{i}.u32")
        part.append(np.concatenate(sets[lo:hi]), np.concatenate([[0], np.cumsum([s.size for s in sets[lo:hi]])]))
        parts.append(part.close())
    parted = store.PartedSets(parts)
    docs = np.sort(rng.choice(90, 50, replace=False))
    values, offsets = parted.gather(docs)
    assert [values[offsets[i]:offsets[i + 1]].tolist() for i in range(docs.size)] == [sets[d].tolist() for d in docs]
    shuffled = rng.permutation(docs)
    assert parted.sizes(shuffled).tolist() == [sets[d].size for d in shuffled]
    left, right = rng.integers(0, 45, 80), rng.integers(45, 90, 80)
    calls = []

    def run(fn, args):  # a runner that records its calls, as the Ray runner would ship them
        calls.extend(args)
        return [fn(*a) for a in args]

    whole = store.SpilledSets(tmp_path / "whole.u32")
    whole.append(np.concatenate(sets), np.concatenate([[0], np.cumsum([s.size for s in sets])]))
    expected = store.stored_pair_jaccard(whole.close(), left, right, None)
    assert np.array_equal(store.stored_pair_jaccard(parted, left, right, None, run), expected)
    assert calls and all(c[0] is parted for c in calls)
