"""A model's reply back into a new (instruction, output) pair.

Accepted forms, tried in order:
1. the catalog's markers: `【问题】...` then `【回答】...` (full-width brackets; the
   ASCII forms `[问题]`, and `问题：`/`回答：` at the start of a line are not accepted,
   they appear inside ordinary answers too often);
2. a JSON object with string fields `instruction` and `output`, bare or inside a
   ```json fence;
3. for English prompts (the catalog's `english` section, whose prefill is
   `Question:`): a reply starting with `Question:`; the answer follows a line
   starting with `Answer:`, or, without that marker, everything after the
   question's first line (small models often drop the marker), up to a further
   `Question:` line (small models also run on with more pairs).
A reasoning model's `<think>...</think>` block is removed first. The reply is
`empty` when it is blank or one of the two parts is blank, `unparseable` when
neither form is found; the stage turns these into `rewrite_empty_answer` and
`rewrite_unparseable`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

QUESTION_MARK = "【问题】"
ANSWER_MARK = "【回答】"
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_EN_QUESTION = re.compile(r"\s*(?:\*\*)?question(?:\*\*)?\s*:(?:\*\*)?", re.IGNORECASE)
_EN_QUESTION_LINE = re.compile(r"\n\s*(?:\*\*)?question(?:\*\*)?\s*:", re.IGNORECASE)
_EN_ANSWER = re.compile(r"\n\s*(?:\*\*)?answer(?:\*\*)?\s*:(?:\*\*)?", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    status: str  # "ok" | "empty" | "unparseable"
    instruction: str = ""
    output: str = ""
    detail: str = ""


def _snippet(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _from_markers(text: str) -> tuple[str, str] | None:
    q = text.find(QUESTION_MARK)
    a = text.find(ANSWER_MARK, q + len(QUESTION_MARK)) if q >= 0 else -1
    if q < 0 or a < 0:
        return None
    return text[q + len(QUESTION_MARK):a].strip(), text[a + len(ANSWER_MARK):].strip()


def strip_think(raw: str | None) -> str:
    """The reply without a reasoning model's `<think>...</think>` block, stripped."""
    return _THINK.sub("", raw or "").strip()


def json_objects(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects a reply holds, in the order tried: each ```json fence, then the span from the
    first `{` to the last `}` (the judge stage reads its answers the same way)."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    bare = _OBJECT.search(text)
    if bare:
        candidates.append(bare.group(0))
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            yield data


def _from_json(text: str) -> tuple[str, str] | None:
    for data in json_objects(text):
        if isinstance(data.get("instruction"), str) and isinstance(data.get("output"), str):
            return data["instruction"].strip(), data["output"].strip()
    return None


def _from_english(text: str) -> tuple[str, str] | None:
    start = _EN_QUESTION.match(text)
    if start is None:
        return None
    rest = text[start.end():].strip()
    marker = _EN_ANSWER.search("\n" + rest)
    if marker:
        question, answer = rest[: max(marker.start() - 1, 0)], rest[marker.end() - 1:]
    else:
        question, _, answer = rest.partition("\n")
    again = _EN_QUESTION_LINE.search(answer)  # a small model may go on with another Question: ... pair
    return question.strip(), (answer[: again.start()] if again else answer).strip()


def parse_answer(raw: str) -> Parsed:
    text = strip_think(raw)
    if not text:
        return Parsed("empty", detail="the model returned an empty answer")
    pair = _from_markers(text) or _from_json(text) or _from_english(text)
    if pair is None:
        return Parsed("unparseable", detail=f"no {QUESTION_MARK}/{ANSWER_MARK} markers, JSON object or "
                                            f"Question:/Answer: lines in: "
                                            f"{_snippet(text)!r}")
    instruction, output = pair
    missing = [name for name, value in (("question", instruction), ("answer", output)) if not value]
    if missing:
        return Parsed("empty", detail=f"the rewritten {' and '.join(missing)} is empty")
    return Parsed("ok", instruction=instruction, output=output)
