"""The `oph` sketch (one-permutation hashing, optimal densification): the compiled kernel equals the numpy
path, values stay in their bins, densification copies only from the document's own bins, and a pair at
exactly the threshold becomes a candidate at least `min_candidate_recall` of the time."""

import random

import numpy as np
import pytest

from stages.dedup import hashmin, onehash
from stages.dedup.config import DedupParams
from stages.dedup.lsh import band_keys
from stages.dedup.minhash import MAX_HASH, estimated_jaccard, permutations, signatures, text_signatures
from stages.dedup.shingles import shingle_hashes
from tests.dedup.helpers import random_text


def ragged(sizes: list[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Documents of distinct random 32-bit hashes with the given sizes."""
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    hashes = np.random.default_rng(seed).choice(1 << 31, size=int(offsets[-1]), replace=False).astype(np.uint32)
    return hashes, offsets


SIZES = [0, 1, 2, 3, 5, 8, 11, 12, 20, 64, 90, 128, 200, 500, 2000, 0, 7]


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (7, 42), (256, 0)])
def test_the_compiled_kernel_equals_the_numpy_path(monkeypatch, num_perm, seed):
    assert hashmin.available()
    hashes, offsets = ragged(SIZES, seed)
    perms = permutations(num_perm, seed, "oph")
    compiled = signatures(hashes, offsets, perms, "oph")
    monkeypatch.setattr(hashmin, "available", lambda: False)
    assert np.array_equal(compiled, signatures(hashes, offsets, perms, "oph"))
    assert compiled.shape == (num_perm, len(SIZES)) and compiled.dtype == np.uint32


def test_values_stay_in_their_bins_and_empty_bins_copy_the_documents_own_values():
    hashes, offsets = ragged([3, 40, 1000, 0, 1], 5)
    a, b, _, _ = permutations(128, 1, "oph")
    sig = signatures(hashes, offsets, permutations(128, 1, "oph"), "oph")
    slot_bins = (sig.astype(np.uint64) * np.uint64(128)) >> np.uint64(32)
    for d in range(5):
        own = onehash.value_hash(hashes[offsets[d]:offsets[d + 1]], int(a[0]), int(b[0]))
        if not own.size:
            assert (sig[:, d] == MAX_HASH).all()  # no shingles: the empty signature
            continue
        assert set(sig[:, d].tolist()) <= set(own.tolist())  # every slot holds one of the document's values
        own_bins = (own.astype(np.uint64) * np.uint64(128)) >> np.uint64(32)
        native = slot_bins[:, d] == np.arange(128)  # slots holding their own bin's minimum
        assert set(np.flatnonzero(native).tolist()) == set(own_bins.tolist())
        for k in np.flatnonzero(native):
            assert sig[k, d] == own[own_bins == k].min()
    assert len(set(sig[:, 4].tolist())) == 1  # one shingle fills every slot


def test_the_window_path_equals_the_hash_path():
    rng = random.Random(3)
    texts = ["", "问", "问答", "机器学习是什么", *[random_text(rng, rng.randint(1, 400)) for _ in range(40)]]
    perms = permutations(128, 9, "oph")
    assert np.array_equal(text_signatures(texts, 5, perms, "oph"),
                          signatures(*shingle_hashes(texts, 5), perms, "oph"))


def pairs_at(size: int, jaccard: float, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` pairs of sets whose union has `size` elements and whose Jaccard is exactly `jaccard`
    (the elements only one side has are split between the sides)."""
    shared = round(jaccard * size)
    assert shared / size == jaccard
    docs = []
    rng = np.random.default_rng(seed)
    for _ in range(count):
        values = rng.choice(1 << 32, size=size, replace=False).astype(np.uint32)
        own = (size - shared) // 2
        docs += [np.concatenate([values[:shared], values[shared:shared + own]]),
                 np.concatenate([values[:shared], values[shared + own:]])]
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([d.size for d in docs], out=offsets[1:])
    return np.concatenate(docs), offsets


@pytest.mark.parametrize("size", [5, 40, 500])
def test_pairs_at_exactly_the_threshold_become_candidates_at_the_required_rate(size):
    params = DedupParams(scheme="oph")
    hashes, offsets = pairs_at(size, params.threshold, 3000, seed=size)
    sig = signatures(hashes, offsets, permutations(params.num_perm, params.seed, "oph"), "oph")
    keys = band_keys(sig, *params.banding())
    recall = (keys[:, 0::2] == keys[:, 1::2]).any(axis=0).mean()
    assert recall >= params.min_candidate_recall, recall
    left = np.arange(0, sig.shape[1], 2)
    assert abs(estimated_jaccard(sig, left, left + 1).mean() - params.threshold) < 0.01  # unbiased


def test_oph_is_limited_to_its_table_size():
    with pytest.raises(ValueError, match=r"scheme: oph supports num_perm up to 1024, got 2048; use affine32"):
        DedupParams(scheme="oph", num_perm=2048)
    assert DedupParams(scheme="affine32", num_perm=2048).num_perm == 2048
