"""COIG-CQIA per-subset JSONL files (`cqia_jsonl` sources).

Each non-blank line is one record with the published fields (instruction,
input, output, task_type{major,minor}, domain, metadata, answer_from,
human_verified, copyright). A line is kept when it decodes as UTF-8, parses as
a JSON object, has exactly those fields and each has the published type.
Otherwise it is rejected, its `detail` starting with `file:line`, with one of:
`scrape_invalid_utf8`, `scrape_invalid_json`, `scrape_schema_mismatch`
(missing or unknown fields), `scrape_wrong_type`, `scrape_invalid_value`.
Blank lines are not records and are skipped.

`answer_from: "expert"` (used by the published human_value subset) is read
as `human`, noted as `scrape:answer_from_expert_to_human`. The dump's placeholders for "no metadata" / "no copyright information" become
empty strings, noted in `transforms` as `scrape:placeholder_to_empty`.
With network, `iter_hub_lines` reads the same records from the Hugging Face
dataset `m-a-p/COIG-CQIA` so they go through the same parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from stages.ingest.build import Captured, Content, raw_preview, record_row, rejected_row
from stages.ingest.sources import SourceConfig
from stages.lib.errors import StageError

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
# The published human_value subset marks expert-written answers "expert": a human answer.
ANSWER_FROM_ALIASES = {"expert": "human"}


class RecordProblem(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _str_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordProblem("scrape_wrong_type", f"field '{name}' must be a list of strings, got {value!r:.60}")
    return value


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
    answer_from = ANSWER_FROM_ALIASES.get(obj["answer_from"], obj["answer_from"])
    if answer_from not in ("human", "llm"):
        raise RecordProblem("scrape_invalid_value", f"answer_from must be 'human' or 'llm', got {obj['answer_from']!r}")
    metadata, copyright_ = obj["metadata"], obj["copyright"]
    transforms = ["scrape:placeholder_to_empty"] if {metadata, copyright_} & PLACEHOLDERS else []
    if answer_from != obj["answer_from"]:
        transforms.append(f"scrape:answer_from_{obj['answer_from']}_to_{answer_from}")
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
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordProblem("scrape_invalid_utf8", f"invalid UTF-8 at byte {exc.start}: {raw_preview(raw)}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordProblem("scrape_invalid_json", f"invalid JSON at column {exc.colno}: {exc.msg}") from None
    return content_from_object(obj)


def parse_lines(lines: Iterable[Captured]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Parse captured lines (their uri names file and line) into kept rows and rejected rows."""
    kept, rejected = [], []
    for cap in lines:
        try:
            kept.append(record_row(cap, parse_line(cap.raw)))
        except RecordProblem as problem:
            rejected.append(rejected_row(cap, problem.reason, f"{cap.uri}: {problem.detail}"))
    return kept, rejected


def subset_for(cfg: SourceConfig, file: Path) -> str:
    return cfg.subset or file.stem.lower().replace("-", "_")


def iter_file_lines(cfg: SourceConfig, files: list[Path]) -> Iterator[Captured]:
    """Yield every non-blank line of every file as a capture keyed by file name + line."""
    for file in files:
        with open(file, "rb") as handle:
            for line_no, raw in enumerate(handle, start=1):
                raw = raw.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                yield Captured(
                    origin=cfg.name,
                    source=subset_for(cfg, file),
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


def input_files(cfg: SourceConfig) -> list[Path]:
    """The JSONL files of a source: the file itself, or `glob` matches in the directory."""
    path = Path(cfg.path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.glob(cfg.glob) if p.is_file())
        if not files:
            raise StageError(f"{path}: no files match '{cfg.glob}'")
        return files
    raise StageError(f"{path}: input not found (sources.{cfg.name}.path)")


def load_cqia(cfg: SourceConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return parse_lines(iter_file_lines(cfg, input_files(cfg)))
