"""A judge answer against the rubric's JSON schema (every failure kind, its exact line) and the rubric file's
own checks (one line naming the file and the field)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stages.judge.answers import Invalid, Judgement, read_answer
from stages.judge.rubric import SCALE, VERDICTS, load_rubric

ROOT = Path(__file__).resolve().parents[2]
RUBRIC = ROOT / "schemas" / "judge" / "rubric.yaml"
SCHEMA = RUBRIC.parent / "output.schema.json"
GOOD = {"dimensions": {"accuracy": 8, "helpfulness": 7, "completeness": 6.5, "clarity": 9}, "overall": 8,
        "verdict": "keep", "rationale": " 准确，完整。 "}


def answer(**changes) -> str:
    data = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if key in data["dimensions"] or key == "extra_dimension":
            data["dimensions"][key.replace("extra_", "")] = value
        elif value is None:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data, ensure_ascii=False)


def test_a_valid_answer_in_any_wrapping_is_a_judgement():
    rubric = load_rubric(RUBRIC)
    expected = Judgement(GOOD["dimensions"], 8, "keep", "准确，完整。")
    for text in (answer(), f"好的。\n```json\n{answer()}\n```\n以上。", f"<think>先想想 {{}}</think>{answer()}",
                 f"评价如下：{answer()}"):
        assert read_answer(text, rubric) == expected


INVALID = [
    ("", "not_json", "the answer is empty"),
    ("<think>…</think>  ", "not_json", "the answer is empty"),
    ("这条回答不错，8 分。", "not_json", "the answer holds no JSON object"),
    ('{"overall": 8,', "not_json", "the answer holds no JSON object"),
    (answer(overall=11), "out_of_range", "overall: 11 is greater than the maximum of 10"),
    (answer(accuracy=0), "out_of_range", "dimensions.accuracy: 0 is less than the minimum of 1"),
    (answer(overall="8"), "wrong_type", "overall: '8' is not of type 'number'"),
    (answer(clarity=True), "wrong_type", "dimensions.clarity: True is not of type 'number'"),
    (answer(verdict="maybe"), "bad_verdict", "verdict: 'maybe' is not one of ['keep', 'review', 'discard']"),
    (answer(rationale=None), "missing_field", "answer: 'rationale' is a required property"),
    (answer(dimensions={"accuracy": 8, "helpfulness": 7, "clarity": 9}), "missing_dimension",
     "dimensions: 'completeness' is a required property"),
    (answer(extra_dimension=5), "unknown_field",
     "dimensions: Additional properties are not allowed ('dimension' was unexpected)"),
    (answer(score=8), "unknown_field", "answer: Additional properties are not allowed ('score' was unexpected)"),
    (answer(rationale="长" * 501), "too_long", f"rationale: '{'长' * 501}' is too long"[:200]),
]


@pytest.mark.parametrize("text, kind, problem", INVALID, ids=[f"{i}-{k}" for i, (_, k, _) in enumerate(INVALID)])
def test_an_invalid_answer_has_a_kind_and_a_one_line_problem(text, kind, problem):
    assert read_answer(text, load_rubric(RUBRIC)) == Invalid(kind, problem)


def rubric_with(tmp_path: Path, edit=lambda text: text, schema=None, name: str = "rubric.yaml") -> Path:
    path = tmp_path / name
    path.write_text(edit(RUBRIC.read_text(encoding="utf-8")), encoding="utf-8")
    (tmp_path / "output.schema.json").write_text(schema or SCHEMA.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_the_shipped_rubric_and_schema_agree_with_the_local_scorer():
    rubric = load_rubric(RUBRIC)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert (schema["$defs"]["score"]["minimum"], schema["$defs"]["score"]["maximum"]) == SCALE == (1, 10)
    assert tuple(schema["properties"]["verdict"]["enum"]) == VERDICTS
    assert rubric.names == ["accuracy", "helpfulness", "completeness", "clarity"]
    assert rubric.schema["properties"]["dimensions"]["required"] == rubric.names
    assert [rubric.verdict_of(s) for s in (8, 7.99, 5, 4.99)] == ["keep", "review", "review", "discard"]
    user = rubric.messages("问" * 30, "", "答" * 30, max_chars=10)[1]["content"]
    assert "问" * 10 + rubric.truncated in user and "答" * 11 not in user
    assert user.rstrip().endswith("答" * 10 + rubric.truncated)  # the record comes last


BAD_RUBRICS = [
    (lambda t: t.replace("version: 1", "version: 2"), "rubric.yaml.version: this code reads version 1, got 2"),
    (lambda t: t.replace("keep_at: 8", "keep_at: 11"),
     "rubric.yaml.verdict.keep_at: must be an integer from 1 to 10, got 11"),
    (lambda t: t.replace("keep_at: 8", "keep_at: 4"),
     "rubric.yaml.verdict: discard_below (5) must not be above keep_at (4)"),
    (lambda t: t.replace("- name: clarity", "- name: Clarity"), "rubric.yaml.dimensions[3].name: must match "
                                                                "[a-z][a-z0-9_]*, got 'Clarity'"),
    (lambda t: t.replace("{problem}", "{problem:>3}"), "rubric.yaml.retry: placeholder {problem} must be a "
                                                          "bare name such as {question}"),
    (lambda t: t.replace("  {answer}\n", "  \n"), "rubric.yaml.user: must contain {answer}"),
    (lambda t: t.replace("schema: output.schema.json", "schema: ../output.schema.json"),
     "rubric.yaml.schema: must be a file name beside the rubric, got '../output.schema.json'"),
]


@pytest.mark.parametrize("edit, message", BAD_RUBRICS, ids=[m.split(":")[0].split(".", 2)[-1] for _, m in BAD_RUBRICS])
def test_a_bad_rubric_is_one_line_naming_the_field(tmp_path, edit, message):
    with pytest.raises(ValueError) as caught:
        load_rubric(rubric_with(tmp_path, edit))
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_json_rubric_works_and_its_syntax_error_names_line_and_column(tmp_path):
    import yaml

    data = yaml.safe_load(RUBRIC.read_text(encoding="utf-8"))
    good = rubric_with(tmp_path, lambda t: json.dumps(data, ensure_ascii=False, indent=1), name="rubric.json")
    assert load_rubric(good).names == load_rubric(RUBRIC).names
    bad = rubric_with(tmp_path, lambda t: '{"version": 1,\n "schema": }', name="broken.json")
    with pytest.raises(ValueError) as caught:
        load_rubric(bad)
    assert str(caught.value) == f"{bad}:2:12: not valid JSON: Expecting value"


def test_a_schema_on_another_scale_or_not_a_schema_is_refused(tmp_path):
    other_scale = SCHEMA.read_text(encoding="utf-8").replace('"maximum": 10', '"maximum": 5')
    with pytest.raises(ValueError) as caught:
        load_rubric(rubric_with(tmp_path, schema=other_scale))
    assert str(caught.value) == (f"{tmp_path}/output.schema.json: must define $defs.score (minimum 1, maximum 10), "
                                 "properties.dimensions.additionalProperties and properties.verdict.enum "
                                 "['keep', 'review', 'discard']")
    not_schema = SCHEMA.read_text(encoding="utf-8").replace('"type": "object",\n  "properties"',
                                                            '"type": 5,\n  "properties"')
    with pytest.raises(ValueError) as caught:
        load_rubric(rubric_with(tmp_path, schema=not_schema))
    assert str(caught.value).startswith(f"{tmp_path}/output.schema.json: not a JSON Schema: 5 is not valid under")
    missing = tmp_path / "none" / "rubric.yaml"
    with pytest.raises(ValueError) as caught:
        load_rubric(missing)
    assert str(caught.value) == f"{missing}: judge rubric not found"
