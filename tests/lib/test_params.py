"""The typed params base (stages/lib/params.py): one line per problem, naming the full key."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import field_validator

from stages.lib.params import (Block, Fraction, Names, Number, Params, PositiveFloat, PositiveInt, known_subsets,
                               load_section, parse_section, rule)


class Inner(Params):
    min_chars: PositiveInt = 4
    share: Fraction = 0.5
    flag: bool = True


class Section(Params):
    kind: Literal["local", "ray"] = "local"
    defaults: Annotated[Inner, Block] = Inner()
    by_source: dict[str, Inner] = {}
    rate: PositiveFloat | None = None
    epochs: Number = 1
    names: Names = []
    url: Annotated[str, rule(lambda v: v.startswith("http"), "must start with http://", echo=False)] = "http://x"
    _subsets = field_validator("by_source")(known_subsets)


def problem(raw, context=None) -> str:
    with pytest.raises(ValueError) as err:
        parse_section(Section, raw, "params.yaml: clean", context)
    return str(err.value)


@pytest.mark.parametrize(("raw", "message"), [
    ({"kind": "spark"}, "params.yaml: clean.kind: must be one of local, ray, got 'spark'"),
    ({"defaults": {"min_chars": "4"}}, "params.yaml: clean.defaults.min_chars: must be an integer, got '4'"),
    ({"defaults": {"min_chars": 2.5}}, "params.yaml: clean.defaults.min_chars: must be an integer, got 2.5"),
    ({"defaults": {"min_chars": True}}, "params.yaml: clean.defaults.min_chars: must be an integer, got True"),
    ({"defaults": {"min_chars": 0}}, "params.yaml: clean.defaults.min_chars: must be a positive integer, got 0"),
    ({"defaults": {"share": 1.5}}, "params.yaml: clean.defaults.share: must be between 0 and 1, got 1.5"),
    ({"defaults": {"flag": 1}}, "params.yaml: clean.defaults.flag: must be true or false, got 1"),
    ({"rate": float("inf")}, "params.yaml: clean.rate: must be a finite number, got .inf"),
    ({"rate": float("nan")}, "params.yaml: clean.rate: must be a finite number, got .nan"),
    ({"rate": "fast"}, "params.yaml: clean.rate: must be a number, got 'fast'"),
    ({"epochs": True}, "params.yaml: clean.epochs: must be a number, got True"),
    ({"names": ["a", ""]}, "params.yaml: clean.names: must be a list of names (empty = any), got ['a', '']"),
    ({"defaults": None, "by_source": None}, "params.yaml: clean.by_source: must be a mapping, got None"),
    ({"by_source": {1: {}}}, "params.yaml: clean.by_source: keys must be strings, got 1"),
    ({"by_source": {"zhihu": {"min_chars": -1}}},
     "params.yaml: clean.by_source.zhihu.min_chars: must be a positive integer, got -1"),
    ("x", "params.yaml: clean: must be a mapping, got 'x'"),
])
def test_each_problem_is_one_line_naming_the_key(raw, message):
    assert problem(raw) == message


def test_an_unknown_key_suggests_the_closest_and_lists_the_allowed():
    assert problem({"defaults": {"min_char": 4}}) == (
        "params.yaml: clean.defaults.min_char: unknown key (did you mean min_chars?); allowed: flag, min_chars, share")


def test_an_unknown_key_without_a_close_match_lists_the_allowed_only():
    assert problem({"defaults": {"colour": 4}}) == (
        "params.yaml: clean.defaults.colour: unknown key; allowed: flag, min_chars, share")


def test_by_source_keys_must_name_a_configured_subset():
    assert problem({"by_source": {"segmentfualt": {}}}, {"subsets": ["segmentfault", "zhihu"]}) == (
        "params.yaml: clean.by_source.segmentfualt: names no configured subset (did you mean segmentfault?); "
        "configured: segmentfault, zhihu")


def test_without_the_subsets_context_by_source_keys_are_not_checked():
    assert parse_section(Section, {"by_source": {"anything": {}}}, "x").by_source["anything"] == Inner()


def test_a_rule_that_must_not_echo_keeps_the_value_out_of_the_message():
    assert problem({"url": "ftp://user:secret@host"}) == "params.yaml: clean.url: must start with http://"


def test_numbers_keep_the_type_yaml_gave_them_and_an_empty_block_means_the_defaults():
    parsed = parse_section(Section, {"epochs": 1, "defaults": None, "names": None}, "x")
    assert parsed.epochs == 1 and type(parsed.epochs) is int
    assert parsed.defaults == Inner() and parsed.names == []


def test_models_are_frozen():
    with pytest.raises(ValueError):
        parse_section(Section, {}, "x").kind = "ray"


class Declared(Section, section="lib_test_declared"):
    """A section model declared by this test module (stages.check sees only models under stages/)."""


class Absent(Section, section="lib_test_absent"):
    pass


def test_load_section_reads_the_section_its_model_declares_and_names_the_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("lib_test_declared:\n  rate: 0\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        load_section(Declared, path)
    assert str(err.value) == f"{path}: lib_test_declared.rate: must be a positive number, got 0.0"
    with pytest.raises(ValueError) as err:
        load_section(Absent, path)
    assert str(err.value) == f"{path}: missing section 'lib_test_absent'"
    with pytest.raises(TypeError, match="declares no params section"):
        load_section(Section, path)


def test_an_optional_section_the_file_lacks_is_the_defaults_and_is_still_checked_when_present(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("lib_test_declared:\n  rate: 0\n", encoding="utf-8")
    assert load_section(Absent, path, optional=True) == Absent()
    with pytest.raises(ValueError) as err:
        load_section(Declared, path, optional=True)
    assert str(err.value) == f"{path}: lib_test_declared.rate: must be a positive number, got 0.0"


def test_a_yaml_syntax_error_is_one_line_with_file_line_and_column(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("clean:\n  a: b: c\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        load_section("clean", path)
    assert str(err.value) == f"{path}:2:7: not valid YAML: mapping values are not allowed here"
