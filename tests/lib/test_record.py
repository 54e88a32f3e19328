"""The JSON Schema and the polars schema describe the same record."""

import jsonschema
import polars as pl
import pytest

from stages.ingest.build import Captured, Content, record_row
from stages.lib.record import RECORD_SCHEMA, REJECTED_SCHEMA, load_json_schema, make_id, records_frame


def polars_type_for(spec: dict) -> pl.DataType:
    """Map a JSON Schema property to the polars dtype we promise for it."""
    kind = spec.get("type")
    if "enum" in spec or kind == "string" or kind == ["string", "null"]:
        return pl.String()
    if kind == "boolean":
        return pl.Boolean()
    if kind == "array":
        return pl.List(polars_type_for(spec["items"]))
    if kind == "object":
        return pl.Struct({name: polars_type_for(sub) for name, sub in spec["properties"].items()})
    raise AssertionError(f"unmapped JSON Schema type {spec}")


def test_json_schema_and_polars_schema_agree_field_by_field():
    schema = load_json_schema()
    expected = pl.Schema({name: polars_type_for(spec) for name, spec in schema["properties"].items()})
    assert list(expected) == list(RECORD_SCHEMA)
    assert expected == RECORD_SCHEMA
    assert set(schema["required"]) == set(RECORD_SCHEMA)


def test_rejected_schema_is_record_schema_plus_reason_and_detail():
    assert list(REJECTED_SCHEMA)[: len(RECORD_SCHEMA)] == list(RECORD_SCHEMA)
    assert list(REJECTED_SCHEMA)[len(RECORD_SCHEMA):] == ["reason", "detail"]


def sample_row() -> dict:
    cap = Captured("zhihu_sample", "zhihu", "zhihu.jsonl:3", "data/zhihu.jsonl:3", b'{"x": 1}', "CC0", None)
    return record_row(cap, Content(instruction="问", output="答", major=["问答"], domain=["通用"]))


def test_built_record_validates_against_json_schema_and_fits_polars_schema():
    row = sample_row()
    jsonschema.validate(row, load_json_schema())
    frame = records_frame([row])
    assert frame.schema == RECORD_SCHEMA
    assert frame.row(0, named=True)["task_type"] == {"major": ["问答"], "minor": []}


def test_json_schema_rejects_a_bad_answer_from():
    row = sample_row() | {"answer_from": "robot"}
    with pytest.raises(jsonschema.ValidationError, match="'robot' is not one of"):
        jsonschema.validate(row, load_json_schema())


def test_id_depends_on_source_and_key_only():
    assert make_id("zhihu", "a.jsonl:1") == make_id("zhihu", "a.jsonl:1")
    assert make_id("zhihu", "a.jsonl:1") != make_id("zhihu", "a.jsonl:2")
    assert make_id("zhihu", "a.jsonl:1") != make_id("douban", "a.jsonl:1")
    assert make_id("zhihu", "a.jsonl:1").startswith("zhihu-")


def test_id_rejects_source_names_that_cannot_prefix_ids():
    with pytest.raises(ValueError, match=r"source name 'Zhi Hu' must match \[a-z0-9_\]\+"):
        make_id("Zhi Hu", "k")
