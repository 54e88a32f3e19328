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
one anywhere else is part of the record and rejected as invalid JSON.
`iter_array_elements` reads a JSON array element by element from bytes, so an
element with broken bytes or broken JSON is cut at the end of its line (dumps
are written one element per line) and the next element is read as usual.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from stages.ingest.build import raw_preview

BOM = b"\xef\xbb\xbf"
MAX_DEPTH = 64
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DEPTH_CHARS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # bytes surrogateescape kept


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
            if _SURROGATE.search(item):
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


class NotAnArray(ValueError):
    """The file as a whole is not a JSON array: (line, message)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _element_end(text: str, pos: int, decoder: json.JSONDecoder) -> tuple[int, RecordProblem | None]:
    """End of the element at `pos` (exclusive) and its problem, if any; broken ones end at their line's end."""
    try:
        return decoder.raw_decode(text, pos)[1], None
    except (json.JSONDecodeError, RecursionError) as exc:
        line_end = text.find("\n", pos)
        end = len(text.rstrip()) if line_end < 0 else line_end
        while end > pos and text[end - 1] in " \t\r,":
            end -= 1
        if text.endswith("]", pos, end) and not text[end:].strip():
            end -= 1  # a broken last element on the line that closes the array
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else f"nested deeper than {MAX_DEPTH} levels"
        return max(end, pos + 1), RecordProblem("scrape_invalid_json", msg)


def iter_array_elements(data: bytes) -> Iterator[tuple[bytes, int, RecordProblem | None]]:
    """Yield (raw element bytes, line number, problem or None) for each element of a JSON array file.

    Bytes that are not UTF-8 are carried through (surrogateescape) so that only their element is
    rejected. Raises NotAnArray when the file does not start with '[' or its elements are not
    separated by commas.
    """
    text = strip_bom(data).decode("utf-8", errors="surrogateescape")
    decoder = json.JSONDecoder()
    pos, line, counted = _skip_ws(text, 0), 1, 0

    def line_at(at: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, at)
        counted = at
        return line

    if not text.startswith("[", pos):
        raise NotAnArray(line_at(pos), "expected a JSON array ('[')")
    pos = _skip_ws(text, pos + 1)
    if text.startswith("]", pos):
        return
    while pos < len(text):
        end, problem = _element_end(text, pos, decoder)
        raw = text[pos:end].encode("utf-8", errors="surrogateescape")
        if _ESCAPED_BYTE.search(text, pos, end):
            try:
                decode_utf8(raw)
            except RecordProblem as bad_bytes:
                problem = bad_bytes
        yield raw, line_at(pos), problem
        pos = _skip_ws(text, end)
        if text.startswith("]", pos) or (problem is not None and pos >= len(text)):
            return  # closed, or cut off inside its last element (rejected above)
        if text.startswith(",", pos):
            pos = _skip_ws(text, pos + 1)
        elif problem is None:
            raise NotAnArray(line_at(pos), "expected ',' or ']' between array elements")
    raise NotAnArray(line_at(len(text)), "the array is not closed (']' missing)")
