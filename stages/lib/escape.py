"""Escaping for every place a report shows text: one function per target.

Records and params carry whatever their authors wrote, including characters
that act on whoever reads a report rather than being read: an ESC sequence
runs in the terminal of someone who `cat`s a Markdown file, a right-to-left
override (U+202E) reorders what is shown, a `<script>` or `<img onerror>` runs
in a browser, and a `|` or a line break breaks a Markdown table. Every report
renderer (stages/audit/formats.py, the validation reports, the dataset
card) passes each value through the function for where it goes:

- `terminal(text)`: `visible(text)`, nothing else (rich prints text literally).
- `markdown(text)`: inline text and table cells: `visible`, then `\\`, `|`, `<`,
  `>` and `&` escaped (Markdown renderers pass raw HTML through) and line
  breaks as `<br>`, so a value stays in its cell and shows as written.
- `markdown_code(text)`: an inline code span; `markdown_fence(text, info)`: a
  fenced block (content shown literally: only `visible`, and a fence longer
  than any backtick run inside).
- `html(text)`: `visible`, then HTML-escaped (quotes included).
- `json_text(text)`: JSON already escaped by `json.dumps`; the characters that
  `visible` would show are written as `\\uXXXX` escapes, so the data is unchanged
  but a terminal showing the file is not steered.

`visible(text)`: C0 controls (except tab and line feed), DEL and C1 controls
as `\\x1b`; format characters (Unicode category Cf: bidi embeddings, overrides
and isolates U+202A-202E, U+2066-2069, marks U+200E/F and U+061C, zero-width
characters, tag characters), line and paragraph separators (U+2028/9) and lone
surrogates as `⟨U+202E⟩`.
"""

from __future__ import annotations

import html as _html
import re
import unicodedata
from functools import lru_cache

SHOWN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # categories shown by code point
KEPT = frozenset("\t\n")  # controls that only lay text out
_MD = {"\\": "\\\\", "|": "\\|", "<": "&lt;", ">": "&gt;", "&": "&amp;", "\n": "<br>"}
_MD_SPECIAL = re.compile(r"[\\|<>&\n]")
_BACKTICKS = re.compile(r"`+")


@lru_cache(maxsize=4096)
def _shown(char: str) -> str | None:
    if char in KEPT or unicodedata.category(char) not in SHOWN:
        return None
    code = ord(char)
    return f"\\x{code:02x}" if code < 0xA0 else f"⟨U+{code:04X}⟩"


def visible(text: str) -> str:
    """`text` with control, format and separator characters shown as `\\x1b` or `⟨U+202E⟩`."""
    if text.isprintable():  # False for every character of the SHOWN categories (and for tab, line feed)
        return text
    return "".join(_shown(c) or c for c in text)


def terminal(text: str) -> str:
    return visible(text)


def markdown(text: str) -> str:
    return _MD_SPECIAL.sub(lambda m: _MD[m.group()], visible(text))


def _ticks(text: str) -> str:
    return "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)


def markdown_code(text: str) -> str:
    """An inline code span showing `text` literally (line breaks as spaces, `|` escaped for tables)."""
    body = visible(text).replace("\n", " ").replace("|", "\\|")
    fence = _ticks(body)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def markdown_fence(text: str, info: str = "") -> str:
    """A fenced code block showing `text` literally."""
    body = visible(text)
    fence = max(_ticks(body), "```", key=len)
    return f"{fence}{info}\n{body}\n{fence}"


def html(text: str) -> str:
    return _html.escape(visible(text), quote=True)


def json_text(text: str) -> str:
    """JSON text with the characters `visible` would show written as `\\uXXXX` escapes (same data)."""
    return "".join(_json_char(c) if _shown(c) else c for c in text)


def _json_char(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
