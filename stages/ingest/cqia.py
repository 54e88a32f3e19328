"""The parser of source kind `cqia_jsonl` (stages/ingest/kinds/cqia_jsonl.py): COIG-CQIA per-subset JSONL files.

Each non-blank line is one record with the published fields (instruction,
input, output, task_type{major,minor}, domain, metadata, answer_from,
human_verified, copyright). A line is kept when it decodes as UTF-8, parses as
a JSON object, has exactly those fields and each has the published type.
Otherwise it is rejected, its `detail` starting with `file:line`, with one of:
`scrape_invalid_utf8`, `scrape_invalid_json`, `scrape_schema_mismatch`
(missing or unknown fields), `scrape_wrong_type`, `scrape_invalid_value`.
Blank lines are not records and are skipped.

`answer_from` is kept whatever the publisher wrote: `human` and `llm` as
they are, and every other value is mapped (`ANSWER_FROM`, noted in
`transforms` as `scrape:answer_from_<value>_to_<mapped>`, `<value>` being
`empty` for ""): `expert` (the published human_value subset) and the empty
string (every record of the published finance subset, whose answers come from
financial news and exams, not a model) become `human`; model names such as
`gpt-4` or `chatgpt` become `llm` (case and surrounding spaces do not matter).
Any other value is not one a publisher of this dataset has used, and is
rejected as `scrape_invalid_value` with the known values listed. The dump's placeholders for "no
metadata" / "no copyright information" become empty strings, noted in
`transforms` as `scrape:placeholder_to_empty`. Malformed lines (broken bytes,
lone surrogate escapes, duplicate keys, nesting too deep) are rejected one by
one (`stages.ingest.jsontext`); a UTF-8 byte order mark at the start of a file
is skipped.
With network, `iter_hub_lines` reads the same records from the Hugging Face
dataset `m-a-p/COIG-CQIA` so they go through the same parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from stages.ingest.base import FileSource
from stages.ingest.build import Captured, Content, record_row, rejected_row
from stages.ingest.jsontext import RecordProblem, decode_utf8, loads_record, strip_bom

FIELDS: dict[str, type | tuple[type, ...]] = {
    "instruction": str,
    "input": str,
    "output": str,
    "task_type": dict,
    "domain": list,
    "metadata": str,
    "answer_from": str,
    "human_verified": bool,
    "copyright": str,
}
PLACEHOLDERS = {"暂无元数据信息", "暂无版权及作者信息", "暂无"}
HUB_DATASET = "m-a-p/COIG-CQIA"
# answer_from values outside {human, llm} as published, and what they mean (see the module doc).
ANSWER_FROM = {"": "human", "expert": "human", "human_expert": "human", "gpt": "llm", "gpt-3.5": "llm",
               "gpt-4": "llm", "gpt4": "llm", "chatgpt": "llm", "model": "llm", "ai": "llm"}


def _str_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordProblem("scrape_wrong_type", f"field '{name}' must be a list of strings, got {value!r:.60}")
    return value


def map_answer_from(value: str) -> tuple[str, str | None]:
    """(human or llm, the transforms tag naming the mapping, or None when the value was already one of ours)."""
    if value in ("human", "llm"):
        return value, None
    folded = value.strip().lower()
    mapped = folded if folded in ("human", "llm") else ANSWER_FROM.get(folded)
    if mapped is None:
        known = ", ".join(repr(k) for k in ("human", "llm", *ANSWER_FROM))
        raise RecordProblem("scrape_invalid_value", f"answer_from {value!r:.40} is none of {known}")
    return mapped, f"scrape:answer_from_{folded or 'empty'}_to_{mapped}"


def content_from_object(obj: Any) -> Content:
    """Check one parsed JSON value against the published layout and build Content."""
    if not isinstance(obj, dict):
        raise RecordProblem("scrape_wrong_type", f"line must be a JSON object, got {type(obj).__name__}")
    missing, unknown = sorted(set(FIELDS) - set(obj)), sorted(set(obj) - set(FIELDS))
    if missing or unknown:
        raise RecordProblem("scrape_schema_mismatch", f"missing fields {missing}, unknown fields {unknown}")
    for name, expected in FIELDS.items():
        if not isinstance(obj[name], expected):
            got = type(obj[name]).__name__
            raise RecordProblem("scrape_wrong_type", f"field '{name}' must be {expected.__name__}, got {got}")
    task = obj["task_type"]
    if set(task) != {"major", "minor"}:
        raise RecordProblem("scrape_schema_mismatch", f"task_type must have keys major and minor, got {sorted(task)}")
    answer_from, answer_tag = map_answer_from(obj["answer_from"])
    metadata, copyright_ = obj["metadata"], obj["copyright"]
    transforms = ["scrape:placeholder_to_empty"] if {metadata, copyright_} & PLACEHOLDERS else []
    if answer_tag:
        transforms.append(answer_tag)
    return Content(
        instruction=obj["instruction"],
        input=obj["input"],
        output=obj["output"],
        major=_str_list("task_type.major", task["major"]),
        minor=_str_list("task_type.minor", task["minor"]),
        domain=_str_list("domain", obj["domain"]),
        metadata="" if metadata in PLACEHOLDERS else metadata,
        answer_from=answer_from,
        human_verified=obj["human_verified"],
        copyright="" if copyright_ in PLACEHOLDERS else copyright_,
        transforms=transforms,
    )


def parse_line(raw: bytes) -> Content:
    return content_from_object(loads_record(decode_utf8(raw)))


def parse_lines(lines: Iterable[Captured]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Parse captured lines (their uri names file and line) into kept rows and rejected rows."""
    kept, rejected = [], []
    for cap in lines:
        try:
            kept.append(record_row(cap, parse_line(cap.raw)))
        except RecordProblem as problem:
            rejected.append(rejected_row(cap, problem.reason, f"{cap.uri}: {problem.detail}"))
    return kept, rejected


def iter_file_lines(cfg: FileSource, files: list[Path]) -> Iterator[Captured]:
    """Yield every non-blank line of every file as a capture keyed by file name + line."""
    for file in files:
        with open(file, "rb") as handle:
            for line_no, raw in enumerate(handle, start=1):
                raw = strip_bom(raw) if line_no == 1 else raw
                raw = raw.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                yield Captured(
                    origin=cfg.name,
                    source=cfg.subset_of(file),
                    key=f"{file.name}:{line_no}",
                    uri=f"{file.as_posix()}:{line_no}",
                    raw=raw,
                    license=cfg.license,
                    fetched_at=cfg.fetched_at,
                )


def iter_hub_lines(subset: str, split: str = "train") -> Iterator[bytes]:
    """Yield one JSON line per record of the hub dataset's subset (needs network).

    Lines are re-serialised with the published field order, so the same parser
    and raw hashing apply; write them to a JSONL file and point a source at it
    (see `python -m stages.scrape fetch-hub --help`).
    """
    from datasets import load_dataset  # imported here: only needed with network

    for row in load_dataset(HUB_DATASET, subset, split=split):
        yield json.dumps({name: row.get(name) for name in FIELDS}, ensure_ascii=False).encode("utf-8")
