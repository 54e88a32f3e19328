"""Exact Jaccard of candidate pairs equals Python set arithmetic, across batch boundaries."""

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.dedup import verify
from stages.dedup.sets import shingle_sets
from tests.dedup.helpers import random_text, reference_jaccard, substitute


def test_exact_jaccard_matches_reference_on_text_pairs(monkeypatch):
    rng = random.Random(2)
    base = [random_text(rng, rng.randint(0, 200)) for _ in range(10)]
    texts = base + [substitute(t, 0.05, rng) if t else t for t in base] + ["问", "问", "问答"]
    pairs = [(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts))]
    left, right = (np.array(side) for side in zip(*pairs))
    values, offsets = shingle_sets(texts, 5)
    monkeypatch.setattr(verify, "BATCH_ELEMENTS", 300)  # force many batches
    ours = verify.exact_jaccard(values, offsets, left, right)
    expected = [reference_jaccard(texts[i], texts[j], 5) for i, j in pairs]
    assert np.allclose(ours, expected, rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sets(st.integers(0, 50), max_size=20), min_size=2, max_size=8))
def test_exact_jaccard_on_arbitrary_sets(sets):
    values = np.concatenate([np.array(sorted(s), dtype=np.uint32) for s in sets])
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    pairs = [(i, j) for i in range(len(sets)) for j in range(len(sets)) if i != j]
    left, right = (np.array(side) for side in zip(*pairs))
    ours = verify.exact_jaccard(values, offsets, left, right)
    for k, (i, j) in enumerate(pairs):
        union = len(sets[i] | sets[j])
        assert ours[k] == (len(sets[i] & sets[j]) / union if union else 0.0)


def test_the_compiled_merge_equals_the_numpy_merge(monkeypatch):
    import numpy as np

    from stages.dedup import hashmin
    from stages.dedup.verify import intersection_sizes

    rng = np.random.default_rng(3)
    sets = [np.unique(rng.integers(0, 400, rng.integers(0, 300))).astype(np.uint32) for _ in range(60)]
    values = np.concatenate(sets)
    offsets = np.concatenate([[0], np.cumsum([s.size for s in sets])]).astype(np.int64)
    left, right = rng.integers(0, 60, 500), rng.integers(0, 60, 500)
    compiled = intersection_sizes(values, offsets, left, right)
    expected = [len(set(sets[a].tolist()) & set(sets[b].tolist())) for a, b in zip(left, right)]
    assert compiled.tolist() == expected
    monkeypatch.setattr(hashmin, "available", lambda: False)
    assert intersection_sizes(values, offsets, left, right).tolist() == expected
