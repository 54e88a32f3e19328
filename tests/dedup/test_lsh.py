"""Banding choice, band keys and candidate pairs."""

import itertools

import numpy as np
import pytest
from datasketch import lsh as ds_lsh

from stages.dedup.lsh import (
    band_keys, bucket_pairs, candidate_pairs, candidate_probability, datasketch_params, false_negative_area,
    false_positive_area, recall_params,
)


def test_error_areas_and_optimiser_reproduce_datasketch():
    for b, r in [(9, 13), (21, 6), (4, 8)]:
        assert false_positive_area(0.8, b, r) == ds_lsh._false_positive_probability(0.8, b, r)
        assert false_negative_area(0.8, b, r) == ds_lsh._false_negative_probability(0.8, b, r)
    for threshold, num_perm, weights in [(0.8, 32, (0.5, 0.5)), (0.5, 24, (0.2, 0.8))]:
        assert datasketch_params(threshold, num_perm, weights) == ds_lsh._optimal_param(threshold, num_perm, *weights)


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.8, 128), (0.7, 256), (0.9, 64)])
def test_recall_params_meet_the_recall_target_with_least_false_positive_area(threshold, num_perm):
    bands, rows = recall_params(threshold, num_perm, 0.99)
    assert bands * rows <= num_perm
    assert candidate_probability(threshold, bands, rows) >= 0.99
    area = false_positive_area(threshold, bands, rows)
    for r in range(1, num_perm // 2 + 1):
        b = num_perm // r
        if candidate_probability(threshold, b, r) >= 0.99:
            assert false_positive_area(threshold, b, r) >= area


def test_recall_params_fail_clearly_when_unreachable():
    with pytest.raises(ValueError, match="min_candidate_recall"):
        recall_params(0.1, 2, 0.999999)


def test_band_keys_equal_exactly_when_band_values_equal():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(12, 6), dtype=np.uint64).astype(np.uint32)
    sig[:4, 1] = sig[:4, 0]  # band 0 of doc 1 equals doc 0's
    sig[8:, 2] = sig[8:, 0]  # band 2 of doc 2 equals doc 0's
    keys = band_keys(sig, 3, 4)
    assert keys.shape == (3, 6)
    assert keys[0, 1] == keys[0, 0] and keys[1, 1] != keys[1, 0]
    assert keys[2, 2] == keys[2, 0] and keys[0, 2] != keys[0, 0]
    assert len(set(keys[:, 3:].ravel().tolist())) == 9
    sig[:4, 3] = sig[4:8, 3]  # the same values in another band must not give the same key
    keys = band_keys(sig, 3, 4)
    assert keys[0, 3] != keys[1, 3]


def test_candidate_pairs_are_all_pairs_sharing_a_bucket():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 6, size=(4, 30)).astype(np.uint64)
    left, right = candidate_pairs(keys, window=100)
    expected = sorted({(i, j) for i, j in itertools.combinations(range(30), 2) if (keys[:, i] == keys[:, j]).any()})
    assert list(zip(left.tolist(), right.tolist())) == expected


def test_bucket_window_bounds_pairs_per_member():
    keys = np.zeros(10, dtype=np.uint64)
    pairs = bucket_pairs(keys, np.arange(10), window=2)
    decoded = sorted((int(p >> np.uint64(32)), int(p & np.uint64(0xFFFFFFFF))) for p in pairs)
    assert decoded == sorted({(i, j) for i in range(10) for j in (i + 1, i + 2) if j < 10})


def test_candidate_pairs_use_given_doc_numbers():
    keys = np.array([[5, 5, 7]], dtype=np.uint64)
    left, right = candidate_pairs(keys, window=4, docs=np.array([3, 10, 11]))
    assert left.tolist() == [3] and right.tolist() == [10]


def test_no_shared_bucket_no_pairs():
    for keys in (np.array([[1, 2, 3]], dtype=np.uint64), np.zeros((3, 0), dtype=np.uint64)):
        left, right = candidate_pairs(keys, window=4)
        assert left.size == right.size == 0


def test_compiled_band_keys_equal_the_numpy_path(monkeypatch):
    from stages.dedup import hashmin

    sig = np.random.default_rng(3).integers(0, 1 << 32, (128, 500), dtype=np.uint64).astype(np.uint32)
    compiled = band_keys(sig, 21, 6)
    monkeypatch.setattr(hashmin, "available", lambda: False)
    assert np.array_equal(compiled, band_keys(sig, 21, 6)) and compiled.shape == (21, 500)
