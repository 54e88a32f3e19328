"""The judge's rubric file (`schemas/judge/rubric.yaml` or `.json`) and the answer schema it names.

`load_rubric(path)` reads and checks both, or raises ValueError with one line naming the file (and the
line and column of a syntax error, or the field): `python -m stages.check` and the stage call it, so a
broken rubric stops neither in the middle of a run. The rubric's sha256 (of the file's bytes) goes into
every cache key and into the records' `judge_rubric` column.

The answer schema (JSON Schema 2020-12, `schema:` in the rubric, a path beside it) must score on
`SCALE` (`$defs.score`: minimum 1, maximum 10, the scale of COIG-CQIA's Zhihu buckets) and allow the
verdicts `VERDICTS`: the local scorer reads those score tokens and derives those verdicts.
`Rubric.schema` is that schema with the rubric's dimension names added to `dimensions` (each
required, no others allowed).

Prompts: `messages(question, answer)` fills the system and user templates; a question or answer longer
than `max_chars` characters is cut and ends with the rubric's `truncated` text. `{format}` is the
answer's shape in compact JSON, the same text the local scorer writes as the start of its answer.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.lib.params import read_yaml, require_keys
from stages.llm.prompts import Messages, question_text
from stages.llm.rules import template_fields

SCALE = (1, 10)
VERDICTS = ("keep", "review", "discard")
PROMPT_FIELDS = frozenset({"question", "answer", "dimensions", "format", "keep_at", "discard_below"})
RETRY_FIELDS = frozenset({"problem", "format"})
KEYS = {"version", "schema", "dimensions", "verdict", "truncated", "rationale", "system", "user", "retry"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Dimension:
    name: str
    title: str
    description: str


@dataclass(frozen=True)
class Rubric:
    path: str
    sha256: str
    dimensions: tuple[Dimension, ...]
    keep_at: int
    discard_below: int
    truncated: str
    rationale: str
    system: str
    user: str
    retry: str
    schema: dict[str, Any]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def answer_format(self) -> str:
        """`{"dimensions":{"accuracy":<1-10>,...},"overall":<1-10>,"verdict":"keep|review|discard",...}`."""
        score = f"<{SCALE[0]}-{SCALE[1]}>"
        dims = ",".join(f"{json.dumps(name)}:{score}" for name in self.names)
        return (f'{{"dimensions":{{{dims}}},"overall":{score},"verdict":"{"|".join(VERDICTS)}",'
                f'"rationale":{json.dumps(self.rationale, ensure_ascii=False)}}}')

    def verdict_of(self, overall: float) -> str:
        """keep / review / discard by the rubric's thresholds (the local backend's verdict)."""
        return "keep" if overall >= self.keep_at else "discard" if overall < self.discard_below else "review"

    def cut(self, text: str, max_chars: int) -> str:
        return text if len(text) <= max_chars else text[:max_chars] + self.truncated

    def messages(self, instruction: str, input_text: str, output: str, max_chars: int) -> Messages:
        values = {
            "question": self.cut(question_text(instruction, input_text), max_chars),
            "answer": self.cut((output or "").strip(), max_chars),
            "dimensions": "\n".join(f"- {d.name}（{d.title}）：{d.description}" for d in self.dimensions),
            "format": self.answer_format(), "keep_at": self.keep_at, "discard_below": self.discard_below,
        }
        return [{"role": "system", "content": self.system.format_map(values).strip()},
                {"role": "user", "content": self.user.format_map(values).strip()}]

    def retry_messages(self, messages: Messages, answer: str, problem: str) -> Messages:
        """The conversation so far, the bad answer, and the retry turn naming its problem."""
        turn = self.retry.format_map({"problem": problem, "format": self.answer_format()}).strip()
        return [*messages, {"role": "assistant", "content": answer}, {"role": "user", "content": turn}]


def _text(where: str, raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}.{key}: must be a non-empty string")
    return value


def _template(where: str, raw: dict[str, Any], key: str, allowed: frozenset[str], needed: set[str]) -> str:
    text = _text(where, raw, key)
    try:
        fields = template_fields(text)
    except ValueError as exc:
        raise ValueError(f"{where}.{key}: {exc}") from None
    unknown, missing = sorted(fields - allowed), sorted(needed - fields)
    if unknown:
        raise ValueError(f"{where}.{key}: unknown placeholder(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(allowed))}")
    if missing:
        raise ValueError(f"{where}.{key}: must contain {', '.join('{' + m + '}' for m in missing)}")
    return text


def _dimensions(where: str, raw: Any) -> tuple[Dimension, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: must be a non-empty list")
    found: dict[str, Dimension] = {}
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        require_keys(at, item, {"name", "title", "description"}, {"name", "title", "description"})
        name = item["name"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{at}.name: must match [a-z][a-z0-9_]*, got {name!r}")
        if name in found:
            raise ValueError(f"{at}.name: duplicate dimension {name!r}")
        found[name] = Dimension(name, _text(at, item, "title").strip(), _text(at, item, "description").strip())
    return tuple(found.values())


def _threshold(where: str, raw: dict[str, Any], key: str) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not SCALE[0] <= value <= SCALE[1]:
        raise ValueError(f"{where}.{key}: must be an integer from {SCALE[0]} to {SCALE[1]}, got {value!r}")
    return value


def read_document(path: Path, what: str) -> Any:
    """A YAML or (by suffix) JSON file; ValueError `path:line:col: not valid ...` on a syntax error."""
    if path.suffix != ".json":
        return read_yaml(path, what)
    if not path.is_file():
        raise ValueError(f"{path}: {what} not found")
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None


def load_schema(path: Path, names: list[str]) -> dict[str, Any]:
    """The answer schema with the rubric's dimensions; ValueError naming the file when it is not one."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    schema = read_document(path, "judge answer schema")
    try:
        Draft202012Validator.check_schema(schema)
        score = schema["$defs"]["score"]
        dims = schema["properties"]["dimensions"]
        ok = ((score.get("minimum"), score.get("maximum")) == SCALE
              and tuple(schema["properties"]["verdict"]["enum"]) == VERDICTS and "additionalProperties" in dims)
    except SchemaError as exc:
        raise ValueError(f"{path}: not a JSON Schema: {exc.message}") from None
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise ValueError(f"{path}: must define $defs.score (minimum {SCALE[0]}, maximum {SCALE[1]}), "
                         f"properties.dimensions.additionalProperties and properties.verdict.enum {list(VERDICTS)}")
    schema = copy.deepcopy(schema)
    dims = schema["properties"]["dimensions"]
    dims["properties"] = {name: dims["additionalProperties"] for name in names}
    dims["required"], dims["additionalProperties"] = list(names), False
    return schema


def parse_rubric(raw: Any, path: Path, digest: str) -> Rubric:
    where = path.as_posix()
    require_keys(where, raw, KEYS, KEYS)
    if raw["version"] != 1:
        raise ValueError(f"{where}.version: this code reads version 1, got {raw['version']!r}")
    dimensions = _dimensions(f"{where}.dimensions", raw["dimensions"])
    verdict = raw["verdict"]
    require_keys(f"{where}.verdict", verdict, {"keep_at", "discard_below"}, {"keep_at", "discard_below"})
    keep_at, discard_below = (_threshold(f"{where}.verdict", verdict, k) for k in ("keep_at", "discard_below"))
    if discard_below > keep_at:
        raise ValueError(f"{where}.verdict: discard_below ({discard_below}) must not be above keep_at ({keep_at})")
    schema_name = _text(where, raw, "schema")
    if Path(schema_name).name != schema_name:
        raise ValueError(f"{where}.schema: must be a file name beside the rubric, got {schema_name!r}")
    return Rubric(
        path=where, sha256=digest, dimensions=dimensions, keep_at=keep_at, discard_below=discard_below,
        truncated=_text(where, raw, "truncated"), rationale=_text(where, raw, "rationale").strip(),
        system=_template(where, raw, "system", PROMPT_FIELDS, set()),
        user=_template(where, raw, "user", PROMPT_FIELDS, {"question", "answer"}),
        retry=_template(where, raw, "retry", RETRY_FIELDS, {"problem"}),
        schema=load_schema(path.parent / schema_name, [d.name for d in dimensions]))


def load_rubric(path: str | Path) -> Rubric:
    """The checked rubric, or ValueError with one line naming the file and what is wrong."""
    path = Path(path)
    raw = read_document(path, "judge rubric")
    return parse_rubric(raw, path, hashlib.sha256(path.read_bytes()).hexdigest())
