"""Community Ruozhiba dumps (`ruozhiba_dump` sources): one JSON array per file.

Two layouts are recognised per element:
- moderator picks `{"title", "abs", "href": "/p/<id>?fr=good", "lz", "n_reply"}`:
  keyed by the Tieba post id; the instruction is the title, plus `abs` when it
  adds something the title does not already say;
- annual best `{"author", "content", "l_num", "ctime"}`: keyed by file and
  floor number; the rank prefix (`151、`) is stripped from `content` into
  `metadata`.
`output` is empty: the rewrite stage fills it, or a later filter drops it with
a reason. User names (`lz`, `author`) are never copied into any field.
Elements of the wrong shape are rejected (`scrape_wrong_type`,
`scrape_schema_mismatch`); a file that is not a JSON array stops the stage
with its line and column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stages.ingest.build import Captured, Content, record_row, rejected_row
from stages.ingest.cqia import RecordProblem
from stages.ingest.sources import SourceConfig
from stages.lib.errors import StageError, input_error

PICK_FIELDS = {"title", "abs", "href", "lz", "n_reply"}
BEST_FIELDS = {"author", "content", "l_num", "ctime"}
RANK = re.compile(r"^\s*(\d+)\s*[、.．]\s*")
POST_ID = re.compile(r"/p/(\d+)")
TASK = {"major": ["问答"], "minor": ["弱智吧"], "domain": ["通用"]}


def iter_array_elements(text: str, path: str) -> Iterator[tuple[str, int]]:
    """Yield (raw element text, line number) for each element of a JSON array."""
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if not text.startswith("[", pos):
        raise input_error(path, _line_of(text, pos), "expected a JSON array ('[')")
    pos = _skip_ws(text, pos + 1)
    if text.startswith("]", pos):
        return
    while True:
        try:
            _, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise input_error(path, exc.lineno, f"invalid JSON at column {exc.colno}: {exc.msg}") from None
        yield text[pos:end], _line_of(text, pos)
        pos = _skip_ws(text, end)
        if text.startswith("]", pos):
            return
        if not text.startswith(",", pos):
            raise input_error(path, _line_of(text, pos), "expected ',' or ']' between array elements")
        pos = _skip_ws(text, pos + 1)


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def pick_content(obj: dict[str, Any]) -> tuple[str, Content]:
    """A moderator pick: key is the post id; title (+ abs when it adds something)."""
    title, abs_, href = obj["title"], obj["abs"], obj["href"]
    if not isinstance(title, str) or not isinstance(href, str) or not (abs_ is None or isinstance(abs_, str)):
        raise RecordProblem("scrape_wrong_type", "title and href must be strings, abs a string or null")
    match = POST_ID.search(href)
    if not match:
        raise RecordProblem("scrape_invalid_value", f"href {href!r} has no /p/<post id>")
    abs_text = (abs_ or "").strip()
    if not abs_text or abs_text in title:
        instruction = title
    elif title.strip() in abs_text:
        instruction = abs_text
    else:
        instruction = f"{title}\n{abs_text}"
    meta = f"tieba_post:{match.group(1)}, n_reply:{obj['n_reply']}"
    return f"tieba:{match.group(1)}", Content(instruction=instruction, output="", metadata=meta, **_task())


def best_content(obj: dict[str, Any], file_name: str) -> tuple[str, Content]:
    """An annual-best floor: key is file + floor; the rank prefix goes to metadata."""
    content, floor, ctime = obj["content"], obj["l_num"], obj["ctime"]
    if not isinstance(content, str) or not isinstance(floor, int) or not isinstance(ctime, str):
        raise RecordProblem("scrape_wrong_type", "content and ctime must be strings, l_num an integer")
    match = RANK.match(content)
    rank = match.group(1) if match else ""
    text = content[match.end():] if match else content
    meta = f"rank:{rank}, floor:{floor}, ctime:{ctime}"
    return f"{file_name}:floor{floor}", Content(instruction=text.strip(), output="", metadata=meta, **_task())


def _task() -> dict[str, Any]:
    return {"major": list(TASK["major"]), "minor": list(TASK["minor"]), "domain": list(TASK["domain"])}


def element_content(raw: str, file_name: str) -> tuple[str, Content]:
    obj = json.loads(raw)
    if isinstance(obj, dict) and set(obj) == PICK_FIELDS:
        return pick_content(obj)
    if isinstance(obj, dict) and set(obj) == BEST_FIELDS:
        return best_content(obj, file_name)
    keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
    raise RecordProblem("scrape_schema_mismatch", f"neither a moderator pick nor an annual-best floor: {keys}")


def load_ruozhiba(cfg: SourceConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    path = Path(cfg.path)
    if not path.is_file():
        raise StageError(f"{path}: input not found (sources.{cfg.name}.path)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StageError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    kept, rejected = [], []
    for index, (raw, line_no) in enumerate(iter_array_elements(text, str(path))):
        uri = f"{path.as_posix()}:{line_no}"
        fallback = Captured(cfg.name, cfg.subset or "ruozhiba", f"{path.name}#{index}", uri,
                            raw.encode("utf-8"), cfg.license, cfg.fetched_at)
        try:
            key, content = element_content(raw, path.name)
        except RecordProblem as problem:
            rejected.append(rejected_row(fallback, problem.reason, f"{uri}: element {index}: {problem.detail}"))
            continue
        cap = Captured(cfg.name, fallback.source, key, uri, fallback.raw, cfg.license, cfg.fetched_at)
        kept.append(record_row(cap, content))
    return kept, rejected
