"""The dedup params: params.yaml's section parses; each bad value fails with one line naming the key."""

from pathlib import Path

import pytest

from stages.dedup.config import DedupParams
from stages.lib.params import FROM_FILE, load_section, parse_section
from tests.project import project

REPO = Path(__file__).resolve().parents[2]
GOOD = {"fields": ["instruction", "input", "output"], "ngram": 5, "num_perm": 128, "seed": 1, "threshold": 0.8,
        "verify": "exact"}


def parse_params(section):
    """The section as the stage reads it from a params file (required keys checked)."""
    return parse_section(DedupParams, section, "params.yaml: dedup", FROM_FILE)


def test_params_yaml_section_parses_to_the_documented_defaults():
    params = load_section(DedupParams, project() / "params.yaml")
    assert params == DedupParams() == parse_params(GOOD)
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
    ({"colour": "red"}, r"dedup\.colour: unknown key"),
    ({"workers": 0}, r"dedup\.workers: must be an integer >= 1"),
])
def test_bad_values_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        parse_params(GOOD | change)


def test_missing_key_is_named():
    with pytest.raises(ValueError, match="missing required key"):
        parse_params({k: v for k, v in GOOD.items() if k != "threshold"})


def error(change: dict) -> str:
    with pytest.raises(ValueError) as info:
        parse_params(GOOD | change)
    return str(info.value)


def test_a_wrong_type_is_one_line_naming_the_key():
    assert error({"ngram": "5"}) == "params.yaml: dedup.ngram: must be an integer, got '5'"


def test_a_float_where_an_integer_belongs_is_refused():
    assert error({"workers": 2.5}) == "params.yaml: dedup.workers: must be an integer, got 2.5"


def test_a_non_finite_threshold_is_refused():
    assert error({"threshold": float("inf")}) == "params.yaml: dedup.threshold: must be a finite number, got .inf"


def test_an_out_of_range_value_says_the_range():
    assert error({"ngram": 65}) == "params.yaml: dedup.ngram: must be an integer >= 1 and <= 64, got 65"


def test_an_unknown_key_suggests_the_close_one():
    assert error({"treshold": 0.8}).startswith("params.yaml: dedup.treshold: unknown key (did you mean threshold?)")


def test_fields_must_be_a_list():
    assert error({"fields": "output"}) == ("params.yaml: dedup.fields: must be a non-empty list of distinct fields "
                                           "from instruction, input, output, got 'output'")


def test_a_banding_that_cannot_reach_the_recall_is_named():
    assert error({"num_perm": 2, "min_candidate_recall": 0.9999999}) == (
        "params.yaml: dedup.min_candidate_recall: no banding of 2 permutations reaches min_candidate_recall "
        "0.9999999 at threshold 0.8; raise num_perm or lower min_candidate_recall")


def test_code_may_leave_keys_out_but_the_file_may_not():
    assert DedupParams(threshold=0.7).ngram == 5
    assert error({"verify": None}) == "params.yaml: dedup.verify: must be one of exact, estimate, got None"
