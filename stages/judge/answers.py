"""A judge's answer: read, checked against the rubric's answer schema, and classified when it fails.

`read_answer(text, rubric)` strips a reasoning model's `<think>` block, takes the first JSON object it
finds (a ```json fence, else the span from the first `{` to the last `}`: stages/llm/parse.py
`json_objects`) and validates it with the rubric's schema (stages/judge/rubric.py). It returns a
`Judgement`, or an `Invalid` with a `kind` (counted in the metrics' `failures`) and a one-line
`problem` (sent back to the judge in the retry turn, and kept in the rejected row's `detail`):

| kind | when |
|---|---|
| `not_json` | blank, or no JSON object in the answer |
| `missing_dimension` | `dimensions` lacks one of the rubric's dimensions |
| `missing_field` | `dimensions`, `overall`, `verdict` or `rationale` is missing |
| `out_of_range` | a score below 1 or above 10 |
| `wrong_type` | a score that is not a number (`"8"`, `true`), a rationale that is not a string, ... |
| `bad_verdict` | a verdict other than keep / review / discard |
| `unknown_field` | a key the schema does not allow (a dimension the rubric does not have, ...) |
| `too_long` | a rationale over the schema's `maxLength` |
| `schema` | anything else the schema refuses |
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from stages.judge.rubric import Rubric
from stages.llm.parse import json_objects, strip_think
from stages.llm.prompts import canonical_json

PROBLEM_CHARS = 200
INVALID = "judge_invalid_output"
BACKEND_ERROR = "judge_backend_error"
SECRET = "judge_secret_in_output"
KINDS = {"minimum": "out_of_range", "maximum": "out_of_range", "exclusiveMinimum": "out_of_range",
         "exclusiveMaximum": "out_of_range", "type": "wrong_type", "enum": "bad_verdict",
         "additionalProperties": "unknown_field", "maxLength": "too_long"}


@dataclass(frozen=True)
class Judgement:
    """A valid answer: a score per dimension, the overall score, the verdict and the rationale."""

    dimensions: dict[str, float]
    overall: float
    verdict: str
    rationale: str

    def as_dict(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions, "overall": self.overall, "verdict": self.verdict,
                "rationale": self.rationale}

    def as_json(self) -> str:
        return canonical_json(self.as_dict())


@dataclass(frozen=True)
class Invalid:
    kind: str
    problem: str


@dataclass(frozen=True)
class Rejected:
    """A record the judge could not score: `reason` is the rejected row's reason code, `detail` its text."""

    reason: str
    detail: str


Outcome = Judgement | Rejected


@dataclass
class Stats:
    """What judging cost (the metrics): `calls` are HTTP requests including the backend's retries
    (`openai`) or records scored (`transformers`); `answers` are answers asked for, retries after an
    invalid answer included; `failures` counts every failed answer by kind (the table above, plus
    `backend_error`, `secret_in_output`); `fitted` counts prompts cut further to fit a local model."""

    calls: int = 0
    answers: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    fitted: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "answers": self.answers, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "fitted": self.fitted,
                "failures": dict(sorted(self.failures.items()))}


def _kind(error: Any) -> str:
    if error.validator == "required":
        return "missing_dimension" if list(error.absolute_path) == ["dimensions"] else "missing_field"
    return KINDS.get(error.validator, "schema")


def check(data: Any, rubric: Rubric) -> Judgement | Invalid:
    """`data` (a decoded JSON value) against the rubric's schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(rubric.schema).iter_errors(data))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "answer"
        problem = " ".join(f"{where}: {error.message}".split())
        return Invalid(_kind(error), problem[:PROBLEM_CHARS])
    return Judgement({name: data["dimensions"][name] for name in rubric.names}, data["overall"], data["verdict"],
                     data["rationale"].strip())


def read_answer(text: str, rubric: Rubric) -> Judgement | Invalid:
    """The judgement in a model's answer text, or why there is none."""
    body = strip_think(text)
    if not body:
        return Invalid("not_json", "the answer is empty")
    found = next(json_objects(body), None)
    if found is None:
        return Invalid("not_json", "the answer holds no JSON object")
    return check(found, rubric)
