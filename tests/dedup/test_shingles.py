"""Shingles: vectorised XXH32 equals xxhash per shingle; short and empty texts; the dedup text."""

import random

import numpy as np
import polars as pl
import pytest
import xxhash

from stages.dedup.sets import shingle_sets
from stages.dedup.shingles import dedup_text, lower_text, shingle_hash, shingle_hashes
from tests.dedup.helpers import HANZI, reference_shingles


TEXTS = ["", "a", "问", "问答", "abcd", "什么是机器学习？", "x" * 16, "y" * 17, "𠀀𠀁汉字 mixed ASCII", "，。！", "ΑΒΓ Ｚ İ𐐀"]


@pytest.mark.parametrize("ngram", [1, 2, 3, 4, 5, 7, 8, 9, 13])
def test_vectorised_hashes_equal_xxh32_of_each_shingle(ngram):
    rng = random.Random(ngram)
    texts = TEXTS + ["".join(rng.choices(HANZI + "ab ，", k=rng.randint(0, 30))) for _ in range(40)]
    rng.shuffle(texts)
    hashes, offsets = shingle_hashes(texts, ngram)
    assert offsets[0] == 0 and offsets[-1] == hashes.size
    for d, text in enumerate(texts):
        expected = [xxhash.xxh32_intdigest(s.encode("utf-32-le"), seed=0)
                    for s in reference_shingles(lower_text(text), ngram)]
        assert hashes[offsets[d] : offsets[d + 1]].tolist() == expected, (ngram, text)
    values, set_offsets = shingle_sets(texts, ngram)
    for d, text in enumerate(texts):
        expected = sorted({shingle_hash(s) for s in reference_shingles(lower_text(text), ngram)})
        assert values[set_offsets[d] : set_offsets[d + 1]].tolist() == expected


def test_short_texts_get_their_own_shingle_and_empty_text_none():
    hashes, offsets = shingle_hashes(["", "问答", "问", "问答", ""], 5)
    assert np.diff(offsets).tolist() == [0, 1, 1, 1, 0]
    assert hashes[0] == hashes[2] == shingle_hash("问答") != hashes[1] == shingle_hash("问")
    assert shingle_hashes([], 5)[0].size == 0


def test_shingle_hash_accepts_str_or_utf32_bytes():
    assert shingle_hash("机器学习") == shingle_hash("机器学习".encode("utf-32-le"))


def test_dedup_text_normalises_whitespace_and_empty_records():
    frame = pl.DataFrame({
        "instruction": ["  Hello   World ", "", None, "问", " \u3000"],
        "input": ["", "", None, "", "\n"],
        "output": ["答\t\n案", "", "", "", ""],
    })
    text = frame.select(dedup_text(["instruction", "input", "output"])).to_series().to_list()
    assert text == ["Hello World\n\n答\u0020案", "", "", "问\n\n", ""]
    only_output = frame.select(dedup_text(["output"])).to_series().to_list()
    assert only_output == ["答 案", "", "", "", ""]


def test_shingles_fold_case():
    assert lower_text("Hello ΑΒΓ Ｚ 𐐀") == "hello αβγ ｚ 𐐀"  # astral letters are left alone
    assert shingle_hashes(["PYTHON 编程"], 3)[0].tolist() == shingle_hashes(["python 编程"], 3)[0].tolist()


@pytest.mark.parametrize("compiled", [True, False])
def test_sets_are_right_across_blocks_of_the_padded_sort(monkeypatch, compiled):
    from stages.dedup import hashmin, sets

    if not compiled:
        monkeypatch.setattr(hashmin, "available", lambda: False)
    monkeypatch.setattr(sets, "ROW_BLOCK", 64)  # many blocks, and texts wider than a block
    rng = random.Random(9)
    texts = [rng.choice(["", "问", "啊" * 30]) + "".join(rng.choices(HANZI[:40], k=rng.randint(0, 150)))
             for _ in range(60)]
    values, offsets = shingle_sets(texts, 3)
    for d, text in enumerate(texts):
        assert values[offsets[d]:offsets[d + 1]].tolist() == sorted({shingle_hash(s)
                                                                      for s in reference_shingles(text, 3)})


@pytest.mark.parametrize("ngram", [1, 3, 4, 5, 8, 13])
def test_compiled_window_hashes_equal_the_numpy_lanes_and_xxhash(monkeypatch, ngram):
    from stages.dedup import hashmin
    from stages.dedup.shingles import window_hashes

    flat = np.random.default_rng(ngram).integers(0, 0x110000, 3000).astype(np.uint32)
    compiled = window_hashes(flat, ngram)
    assert [int(compiled[i]) for i in (0, 1500, flat.size - ngram)] == [
        xxhash.xxh32_intdigest(flat[i:i + ngram].astype("<u4").tobytes()) for i in (0, 1500, flat.size - ngram)]
    monkeypatch.setattr(hashmin, "available", lambda: False)
    assert np.array_equal(compiled, window_hashes(flat, ngram))


def test_code_points_from_arrow_buffers_equal_the_python_path(monkeypatch):
    """The stage hands polars Series (sliced, with nulls) to the compiled UTF-8 decoder; the result equals
    encoding Python strings: 1- to 4-byte characters, case folding, null as empty, empty batches."""
    import polars as pl

    from stages.dedup import hashmin, shingles

    texts = ["ÀÉÎ Straße", None, "", "𠀀𠀁問答𠀃 ＡＢＣ", "ascii ONLY", "ΣΑΣ ﬁ"] * 3
    series = pl.Series(["skipped"] + texts).slice(1)  # a slice: the Arrow array starts at an offset
    plain = [t or "" for t in texts]
    flat, lengths = shingles.codepoints(series)
    expected = shingles.codepoints(plain)
    assert np.array_equal(flat, expected[0]) and np.array_equal(lengths, expected[1])
    assert np.array_equal(shingle_hashes(series, 3)[0], shingle_hashes(plain, 3)[0])
    assert shingles.codepoints(pl.Series([], dtype=pl.String))[0].size == 0
    monkeypatch.setattr(hashmin, "available", lambda: False)
    assert np.array_equal(shingles.codepoints(series)[0], expected[0])
