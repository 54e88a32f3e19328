"""Signatures equal datasketch's MinHash hashvalues for the same shingles, seed, num_perm and hash."""

import random
import sys

import numpy as np
import pytest
from datasketch import MinHash

from stages.dedup.minhash import MAX_HASH, estimated_jaccard, permutations, signatures
from stages.dedup.shingles import lower_text, shingle_hash, shingle_hashes
from tests.dedup.helpers import random_text, reference_shingles, substitute


def datasketch_minhash(text: str, ngram: int, num_perm: int, seed: int, scheme: str) -> MinHash:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash, scheme=scheme)
    m.update_batch(reference_shingles(lower_text(text), ngram))
    return m


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize(("num_perm", "seed", "ngram"), [(128, 1, 5), (64, 42, 3), (7, 0, 1)])
def test_signatures_equal_datasketch_hashvalues(scheme, num_perm, seed, ngram):
    rng = random.Random(seed)
    texts = ["", "问", "问答", "机器学习是什么", "Machine Learning 是什么"]
    texts += [random_text(rng, rng.randint(1, 120)) for _ in range(30)]
    sig = signatures(*shingle_hashes(texts, ngram), permutations(num_perm, seed, scheme), scheme)
    assert sig.shape == (num_perm, len(texts)) and sig.dtype == np.uint32
    for d, text in enumerate(texts):
        expected = datasketch_minhash(text, ngram, num_perm, seed, scheme).hashvalues
        assert np.array_equal(sig[:, d].astype(np.uint64), expected.astype(np.uint64)), (scheme, d, text)


def test_permutations_are_datasketchs():
    for scheme in ("affine32", "legacy"):
        a, b = MinHash(num_perm=16, seed=3, scheme=scheme).permutations
        ours = permutations(16, 3, scheme)
        assert np.array_equal(ours[0], a) and np.array_equal(ours[1], b)


def test_empty_text_keeps_the_empty_signature():
    sig = signatures(*shingle_hashes(["", "abcdef", ""], 5), permutations(16, 1))
    assert (sig[:, 0] == MAX_HASH).all() and (sig[:, 2] == MAX_HASH).all() and (sig[:, 1] != MAX_HASH).any()


def test_estimated_jaccard_equals_datasketch_jaccard():
    rng = random.Random(5)
    base = random_text(rng, 300)
    texts = [base, substitute(base, 0.02, rng), substitute(base, 0.1, rng), random_text(rng, 300)]
    sig = signatures(*shingle_hashes(texts, 5), permutations(128, 1))
    left, right = np.array([0, 0, 0, 1]), np.array([1, 2, 3, 2])
    ours = estimated_jaccard(sig, left, right)
    mh = [datasketch_minhash(t, 5, 128, 1, "affine32") for t in texts]
    assert ours.tolist() == [mh[a].jaccard(mh[b]) for a, b in zip(left, right)]


@pytest.mark.parametrize("chunk", [1 << 4, 1 << 16, 1 << 19])
def test_the_compiled_loop_equals_the_numpy_path_at_every_chunk_size(monkeypatch, chunk):
    from stages.dedup import hashmin, minhash

    assert hashmin.available()  # numba is pinned; without it the numpy path alone runs
    rng = random.Random(7)
    texts = ["", "问"] + [random_text(rng, rng.randint(1, 300)) for _ in range(200)] + [""]
    hashes, offsets = shingle_hashes(texts, 5)
    perms = permutations(128, 1, "affine32")
    compiled = signatures(hashes, offsets, perms, "affine32")
    monkeypatch.setattr(hashmin, "available", lambda: False)
    monkeypatch.setattr(minhash, "CHUNK_SHINGLES", chunk)
    assert np.array_equal(compiled, signatures(hashes, offsets, perms, "affine32"))


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
@pytest.mark.parametrize(("num_perm", "seed", "ngram"), [(128, 1, 5), (64, 42, 3), (7, 0, 1)])
def test_batch_signatures_from_windows_equal_datasketch_hashvalues(scheme, num_perm, seed, ngram):
    """The fused path (window hashes -> fmix32 -> hash-min per document, no shingle array) the stage
    uses: empty, short (under ngram), upper-case and astral texts included."""
    from stages.dedup.minhash import text_signatures

    rng = random.Random(seed + 7)
    texts = ["", "问", "问答", "ABCD", "机器学习是什么", "𠀀𠀁𠀂問答𠀃", "", "Machine Learning 是什么"]
    texts += [random_text(rng, rng.randint(1, 120)) for _ in range(30)]
    sig = text_signatures(texts, ngram, permutations(num_perm, seed, scheme), scheme)
    assert np.array_equal(sig, signatures(*shingle_hashes(texts, ngram), permutations(num_perm, seed, scheme), scheme))
    for d, text in enumerate(texts):
        expected = datasketch_minhash(text, ngram, num_perm, seed, scheme).hashvalues
        assert np.array_equal(sig[:, d].astype(np.uint64), expected.astype(np.uint64)), (scheme, d, text)


def test_compiled_case_folding_equals_the_table_lookup(monkeypatch):
    from stages.dedup import hashmin, shingles

    texts = ["ÀÉÎ Straße İSTANBUL 𐐀𐐁 ΣΑΣ", "", "ＡＢＣ问答"]
    compiled = shingles.codepoints(texts)
    monkeypatch.setattr(hashmin, "available", lambda: False)
    numpy_path = shingles.codepoints(texts)
    assert np.array_equal(compiled[0], numpy_path[0]) and np.array_equal(compiled[1], numpy_path[1])
    assert "".join(map(chr, compiled[0])) == "".join(shingles.lower_text(t) for t in texts)


def test_a_kernel_factory_builds_once_per_argument_and_gives_none_without_numba(monkeypatch):
    from stages.dedup.hashmin import compiled

    built = []

    @compiled(maxsize=4)
    def kernel(numba, size):
        built.append(size)
        return lambda: (numba.__name__, size)

    assert kernel(3)() == ("numba", 3) and kernel(3)() == ("numba", 3) and kernel(5)() == ("numba", 5)
    assert built == [3, 5]

    @compiled()
    def missing(numba):
        raise AssertionError("built without numba")

    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    assert missing() is None
