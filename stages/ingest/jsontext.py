"""Strict, row-isolated JSON reading shared by the file source kinds.

One malformed record costs only itself: every problem below becomes a
`RecordProblem` (a reason code plus a readable detail) for that line or array
element, and the caller rejects it and goes on.

| reason                     | what was wrong                                               |
|----------------------------|--------------------------------------------------------------|
| scrape_invalid_utf8        | bytes that are not UTF-8 (the detail gives the byte offset)   |
| scrape_invalid_json        | not JSON, or nested deeper than `MAX_DEPTH`                   |
| scrape_lone_surrogate      | a `\\ud800`-`\\udfff` escape without its pair (not a character) |
| scrape_duplicate_json_key  | an object names the same key twice (JSON leaves the winner undefined) |

A UTF-8 byte order mark at the start of a file is not content and is skipped;
one anywhere else is part of the record and rejected as invalid JSON. Where
one element of a JSON array file ends, whatever its layout, is
`stages.ingest.json_array`'s business.
"""

from __future__ import annotations

import json
import re
from typing import Any

from stages.ingest.build import raw_preview

BOM = b"\xef\xbb\xbf"
MAX_DEPTH = 64
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, any surrogate is one without its pair
_DEPTH_CHARS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class RecordProblem(Exception):
    """One record's problem: a machine-readable reason and a readable detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise RecordProblem("scrape_duplicate_json_key", f"key {key!r} appears twice in one object")
        obj[key] = value
    return obj


def _depth(text: str) -> int:
    """Deepest bracket nesting outside strings (cheap: runs only on texts with many brackets)."""
    depth = deepest = 0
    for match in _DEPTH_CHARS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads_record(text: str) -> Any:
    """Parse one record's JSON text, raising RecordProblem for anything a publisher cannot have meant."""
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise RecordProblem("scrape_invalid_json", f"nested deeper than {MAX_DEPTH} levels")
    try:
        obj = json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise RecordProblem("scrape_invalid_json", f"invalid JSON at column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise RecordProblem("scrape_invalid_json", f"nested deeper than {MAX_DEPTH} levels") from None
    if _SURROGATE_ESCAPE.search(text) and _lone_surrogate(obj):
        raise RecordProblem("scrape_lone_surrogate", "a \\uD800-\\uDFFF escape without its pair (not a character)")
    return obj


def decode_utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordProblem("scrape_invalid_utf8", f"invalid UTF-8 at byte {exc.start}: {raw_preview(raw)}") from None


def strip_bom(data: bytes) -> bytes:
    return data[len(BOM):] if data.startswith(BOM) else data
