"""The parser of source kind `ruozhiba_dump` (stages/ingest/kinds/ruozhiba_dump.py): community Ruozhiba
dumps, one JSON array per file.

Two layouts are recognised per element:
- moderator picks `{"title", "abs", "href": "/p/<id>?fr=good", "lz", "n_reply"}`:
  keyed by the Tieba post id; the instruction is the title, plus `abs` when it
  adds something the title does not already say;
- annual best `{"author", "content", "l_num", "ctime"}`: keyed by file, floor
  number and the floor's posting time. `l_num` is a floor inside one year's
  thread, so it repeats across years; a year's thread runs into the next year,
  so year + floor repeats too; and the rank prefix repeats across lists. A
  floor is identified by its thread, which the dump does not name, so the key
  is floor + posting time (`ctime`, to the minute): two floors of one number
  posted in the same minute would have to be the same floor. The same element
  twice is still a duplicate (`scrape_duplicate_key`). The rank prefix
  (`151、`) is stripped from `content` into `metadata`.
`output` is empty: the rewrite stage fills it, or a later filter drops it with
a reason. User names (`lz`, `author`) are never copied into any field.
Elements of the wrong shape are rejected (`scrape_wrong_type`,
`scrape_schema_mismatch`), and so are broken ones (invalid bytes or JSON, lone
surrogates, duplicate keys, deep nesting: `stages.ingest.jsontext`), each with
its line, index and file byte offset, while the rest of the dump is kept, in
any layout (one element per line or the whole array on one line: where a
broken element ends is `stages.ingest.json_array`'s rule). A file that does not
start with `[` stops the stage with its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from stages.ingest.base import FileSource
from stages.ingest.build import Captured, Content, record_row, rejected_row
from stages.ingest.json_array import NotAnArray, iter_array_elements
from stages.ingest.jsontext import RecordProblem, loads_record
from stages.lib.errors import input_error

PICK_FIELDS = {"title", "abs", "href", "lz", "n_reply"}
BEST_FIELDS = {"author", "content", "l_num", "ctime"}
RANK = re.compile(r"^\s*(\d+)\s*[、.．]\s*")
POST_ID = re.compile(r"/p/(\d+)")
TASK = {"major": ["问答"], "minor": ["弱智吧"], "domain": ["通用"]}


def _squeeze(text: str) -> str:
    return "".join(text.split())


def pick_content(obj: dict[str, Any]) -> tuple[str, Content]:
    """A moderator pick: key is the post id; title (+ abs when it adds something)."""
    title, abs_, href = obj["title"], obj["abs"], obj["href"]
    if not isinstance(title, str) or not isinstance(href, str) or not (abs_ is None or isinstance(abs_, str)):
        raise RecordProblem("scrape_wrong_type", "title and href must be strings, abs a string or null")
    match = POST_ID.search(href)
    if not match:
        raise RecordProblem("scrape_invalid_value", f"href {href!r} has no /p/<post id>")
    abs_text = (abs_ or "").strip()
    if not abs_text or _squeeze(abs_text) in _squeeze(title):
        instruction = title
    elif _squeeze(abs_text).startswith(_squeeze(title).removesuffix("...").removesuffix("…")):
        instruction = abs_text  # the abstract repeats the (often cut) title and goes on
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
    return f"{file_name}:floor{floor}@{ctime}", Content(instruction=text.strip(), output="", metadata=meta, **_task())


def _task() -> dict[str, Any]:
    return {"major": list(TASK["major"]), "minor": list(TASK["minor"]), "domain": list(TASK["domain"])}


def element_content(raw: bytes, file_name: str) -> tuple[str, Content]:
    obj = loads_record(raw.decode("utf-8"))
    if isinstance(obj, dict) and set(obj) == PICK_FIELDS:
        return pick_content(obj)
    if isinstance(obj, dict) and set(obj) == BEST_FIELDS:
        return best_content(obj, file_name)
    keys = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
    raise RecordProblem("scrape_schema_mismatch", f"neither a moderator pick nor an annual-best floor: {keys}")


def read_dump(cfg: FileSource, path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(kept rows, rejected rows) of one dump file."""
    kept, rejected = [], []
    try:
        for index, (raw, line_no, offset, problem) in enumerate(iter_array_elements(path.read_bytes())):
            uri = f"{path.as_posix()}:{line_no}"
            fallback = Captured(cfg.name, cfg.subset_of(path), f"{path.name}#{index}", uri, raw,
                                cfg.license, cfg.fetched_at)
            try:
                if problem is not None:
                    raise problem
                key, content = element_content(raw, path.name)
            except RecordProblem as bad:
                where = f"{uri}: element {index} (file byte {offset})"
                rejected.append(rejected_row(fallback, bad.reason, f"{where}: {bad.detail}"))
                continue
            cap = Captured(cfg.name, fallback.source, key, uri, raw, cfg.license, cfg.fetched_at)
            kept.append(record_row(cap, content))
    except NotAnArray as exc:
        raise input_error(str(path), exc.line, str(exc)) from None
    return kept, rejected
