"""The dedup params: params.yaml's section parses; bad values are named in the error."""

from pathlib import Path

import pytest

from stages.dedupe.config import DedupParams, parse_params
from stages.lib.params import load_section

REPO = Path(__file__).resolve().parents[2]
GOOD = {"fields": ["instruction", "input", "output"], "ngram": 5, "num_perm": 128, "seed": 1, "threshold": 0.8,
        "verify": "exact"}


def test_params_yaml_section_parses_to_the_documented_defaults():
    params = parse_params(load_section("dedup", REPO / "params.yaml"))
    assert params == DedupParams()
    assert params.banding() == (21, 6)


def test_explicit_bands_override_the_choice():
    assert parse_params(GOOD | {"bands": 16, "rows": 8}).banding() == (16, 8)


@pytest.mark.parametrize(("change", "message"), [
    ({"ngram": 0}, r"dedup\.ngram: must be an integer >= 1"),
    ({"num_perm": True}, r"dedup\.num_perm"),
    ({"threshold": 1.5}, r"dedup\.threshold: must be a number in \(0, 1\]"),
    ({"verify": "fuzzy"}, r"dedup\.verify: must be one of exact, estimate"),
    ({"fields": ["title"]}, r"dedup\.fields"),
    ({"fields": []}, r"dedup\.fields"),
    ({"bands": 8}, r"dedup\.bands/rows: give both or neither"),
    ({"bands": 20, "rows": 7}, r"bands \* rows = 140 exceeds num_perm 128"),
    ({"scheme": "affine64"}, r"dedup\.scheme"),
    ({"min_candidate_recall": 1.0}, r"dedup\.min_candidate_recall"),
    ({"colour": "red"}, r"unknown key\(s\) colour"),
    ({"workers": 0}, r"dedup\.workers: must be an integer >= 1"),
])
def test_bad_values_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        parse_params(GOOD | change)


def test_missing_key_is_named():
    with pytest.raises(ValueError, match="missing required key"):
        parse_params({k: v for k, v in GOOD.items() if k != "threshold"})
