"""Reading a JSON array file element by element, whatever its layout, so a broken element costs only itself.

`iter_array_elements` yields every element of the top-level array with its line
and file byte offset, and a `RecordProblem` when the element itself is broken;
the caller rejects that one and goes on. Only a file that does not start with
`[` at all stops the caller (`NotAnArray`, with its line).

Where a broken element ends (the layout does not matter: one element per line,
pretty-printed, or the whole array on one line):

1. A well-formed element ends where the JSON decoder says, and must be followed
   by `,` or `]` (anything else makes it broken).
2. A broken one (bad JSON, nested too deep for the decoder, followed by junk)
   ends at the next top-level `,` or the array's final `]`, found by bracket
   matching that knows strings and escapes; a `{` or `[` opening at the top
   level after a complete value starts the next element (a missing comma costs
   the element before it).
3. When that matching cannot be trusted (an unterminated string: JSON strings
   never hold a raw line break; a `}` or `]` that closes the wrong bracket; a
   `:` outside any object; the end of the file), the element ends at the first
   `,` after its start that is followed by a complete object or array and then
   `,` or the final `]`: a missing quote or bracket never swallows the
   elements after it.

Empty places (`[,`, `,,`, a trailing comma before `]`) hold no element and are
skipped. The array ends at a `]` followed by nothing but whitespace; a `]` with
content after it starts a broken element (a stray `]`, or a second array after
the first, is rejected, not dropped). A file without its closing `]` (cut
short) costs only the element it ends in, if that one does not parse. Bytes
that are not UTF-8 are carried through (surrogateescape), so only their element
is rejected (`scrape_invalid_utf8`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import NamedTuple

from stages.ingest.jsontext import MAX_DEPTH, RecordProblem, decode_utf8, strip_bom

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"|[\[\]{},:"]')  # a string on one line, a lone quote, or structure
_RECORD_START = re.compile(r",[ \t\r\n]*[\[{]")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # bytes surrogateescape kept
_CLOSES = {"}": "{", "]": "["}
_WS = " \t\r\n"


class NotAnArray(ValueError):
    """The file as a whole is not a JSON array: (line, message)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class Element(NamedTuple):
    raw: bytes  # the element's bytes as in the file
    line: int  # 1-based line of its first byte
    offset: int  # byte offset of its first byte in the file (a byte order mark included)
    problem: RecordProblem | None


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _broken(message: str) -> RecordProblem:
    return RecordProblem("scrape_invalid_json", message)


def _decode(text: str, pos: int, decoder: json.JSONDecoder) -> tuple[int | None, str]:
    """(end of the well-formed value at `pos` or None, the decoder's complaint)."""
    try:
        return decoder.raw_decode(text, pos)[1], ""
    except json.JSONDecodeError as exc:
        return None, exc.msg
    except RecursionError:
        return None, f"nested deeper than {MAX_DEPTH} levels"


def _is_last(text: str, at: int) -> bool:
    """Is the `]` at `at` the array's closing bracket (only whitespace after it)?"""
    return _skip_ws(text, at + 1) >= len(text)


def _matched_end(text: str, pos: int) -> int | None:
    """Index of the top-level `,`, `]` or next element start ending the element at `pos`; None when untrusted."""
    stack: list[str] = []
    for match in _TOKEN.finditer(text, pos):
        token, at = match.group(), match.start()
        if token == '"':
            return None  # a string that does not end on its line
        if token in "[{":
            if not stack and text[pos:at].strip(_WS):
                return at  # a value opens after another one: a comma is missing
            stack.append(token)
        elif token in "]}":
            if not stack:
                return at if token == "]" and _is_last(text, at) else None
            if stack.pop() != _CLOSES[token]:
                return None
        elif not stack:
            return at if token == "," else None  # a top-level ':' means an object's '{' is missing
    return None


def _resync_end(text: str, pos: int, decoder: json.JSONDecoder) -> int:
    """The first `,` after `pos` followed by a complete object/array and `,` or the final `]`; else the end."""
    for match in _RECORD_START.finditer(text, pos + 1):
        end, _ = _decode(text, match.end() - 1, decoder)
        if end is None:
            continue
        after = _skip_ws(text, end)
        if text.startswith(",", after) or (text.startswith("]", after) and _is_last(text, after)):
            return match.start()
    last = len(text.rstrip(_WS))
    return last - 1 if last > pos + 1 and text[last - 1] == "]" else len(text)


def _element_end(text: str, pos: int, decoder: json.JSONDecoder) -> tuple[int, RecordProblem | None]:
    """End (exclusive) of the element at `pos`, and its problem if it is broken."""
    end, complaint = _decode(text, pos, decoder)
    if text[pos] == "]":
        complaint = "a ']' that does not end the array (content follows it)"
    elif end is not None:
        after = _skip_ws(text, end)
        if after >= len(text) or text[after] in ",]":
            return end, None
        complaint = "expected ',' or ']' after the element"
    matched = _matched_end(text, pos)
    stop = matched if matched is not None else _resync_end(text, pos, decoder)
    return len(text[pos:stop].rstrip(_WS)) + pos, _broken(complaint)


class _Place:
    """Line and file byte offset of element starts, counted incrementally (starts only grow).

    Between elements lie only ASCII whitespace, commas and the opening '[', one byte each.
    """

    def __init__(self, text: str, first_byte: int) -> None:
        self.text, self.at, self.line, self.byte = text, 0, 1, first_byte

    def of(self, start: int, end: int, raw: bytes) -> tuple[int, int]:
        """(line, byte offset) of the element text[start:end] (bytes `raw`); then move past it."""
        self.line += self.text.count("\n", self.at, start)
        line, byte = self.line, self.byte + (start - self.at)
        self.line += self.text.count("\n", start, end)
        self.at, self.byte = end, byte + len(raw)
        return line, byte


def _element(text: str, start: int, end: int, place: _Place, problem: RecordProblem | None) -> Element:
    raw = text[start:end].encode("utf-8", errors="surrogateescape")
    if _ESCAPED_BYTE.search(text, start, end):
        try:
            decode_utf8(raw)
        except RecordProblem as bad_bytes:
            problem = bad_bytes
    return Element(raw, *place.of(start, end, raw), problem)


def iter_array_elements(data: bytes) -> Iterator[Element]:
    """Every element of the JSON array in `data`, broken ones with their problem (see the module doc).

    Raises NotAnArray when the file does not start with '['.
    """
    body = strip_bom(data)
    text = body.decode("utf-8", errors="surrogateescape")
    decoder, place = json.JSONDecoder(), _Place(text, len(data) - len(body))
    pos = _skip_ws(text, 0)
    if not text.startswith("[", pos):
        raise NotAnArray(text.count("\n", 0, pos) + 1, "expected a JSON array ('[')")
    pos = _skip_ws(text, pos + 1)
    while pos < len(text) and not (text[pos] == "]" and _is_last(text, pos)):
        if text[pos] == ",":  # an empty place: no element
            pos = _skip_ws(text, pos + 1)
            continue
        end, problem = _element_end(text, pos, decoder)
        after = _skip_ws(text, end)
        if after >= len(text) and problem is not None:
            problem = _broken(f"{problem.detail}; the file ends inside this element (no closing ']')")
        yield _element(text, pos, end, place, problem)
        pos = _skip_ws(text, after + 1) if text.startswith(",", after) else after
