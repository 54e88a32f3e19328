"""Text repairs of the `clean` stage, each one a step that may change a text.

Order and `transforms` tag (a record gets the tag only when the step changed it):
1. `clean:control`      noncharacters (U+FDD0..U+FDEF, U+FFFE, U+FFFF) anywhere;
                         later (prose only) C0/C1 control characters other than
                         tab and line breaks.
2. `clean:mojibake`     UTF-8 read as Latin-1/cp1252 (`ä¸­æ–‡`), fixed by
                         `ftfy.fix_encoding` (only ftfy's encoding fixes: it must not
                         uncurl Chinese quotes or change character width). Only
                         texts with a tell-tale pair of characters are passed to ftfy.
3. `clean:html`         HTML markup to text, see `stages.clean.html`.
   -- from here on code, LaTeX and URLs are masked (`stages.clean.segments`) --
4. `clean:zero_width`   zero-width spaces and joiners, BOM, soft hyphen, bidi
                         controls; a zero-width joiner between two emoji is kept
                         (it is part of the emoji, e.g. 👨🏻‍🔬).
5. `clean:markdown_unescape`  escape artefacts of HTML-to-markdown converters:
                         `2\\.` -> `2.` after a digit, `\\-`/`\\+`/`\\#`/`\\>` at line start,
                         `\\*` `\\_` `\\`` `\\[` `\\]` `\\!` `\\~` `\\|` anywhere (not after
                         another backslash); a literal backslash-n next to Chinese
                         text becomes a line break.
6. `clean:whitespace`   CR/LF and Unicode line separators to `\\n`, odd spaces
                         (NBSP, en/em spaces) to a space, no trailing spaces,
                         no ideographic-space indentation, runs of spaces inside
                         a line to one, at most one blank line, no leading or
                         trailing whitespace.
"""

from __future__ import annotations

import re

import ftfy
import polars as pl

CONTROL = r"[\x00-\x08\x0e-\x1f\x7f\x80-\x84\x86-\x9f]"
# Every character the noncharacter, mojibake, control and zero-width repairs look
# for (mojibake starts with a Latin-1 letter U+00C2..U+00F4): texts without any of
# them skip those four steps after one shared scan.
RARE_CHARS = (
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u00c2-\u00f4\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069"
    "\ufeff\ufdd0-\ufdef\ufffe\uffff]"
)
NONCHARACTERS = "[\ufdd0-\ufdef\ufffe\uffff]"
NONCHARACTER_HINT = "|".join([chr(c) for c in range(0xFDD0, 0xFDF0)] + ["\ufffe", "\uffff"])

MOJIBAKE_HINT = (
    "[\u00c0-\u00ff][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)

ZERO_WIDTH = "[\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u180e]"
ZERO_WIDTH_HINT = "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u180e]"
_EMOJI = r"\p{Extended_Pictographic}\p{Emoji_Modifier}\x{FE0F}"
_ZWJ_AFTER_NON_EMOJI = rf"(^|[^{_EMOJI}])\x{{200D}}+"
_ZWJ_BEFORE_NON_EMOJI = rf"\x{{200D}}+([^{_EMOJI}]|$)"

_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
ESCAPE_HINT = r"\\"
_MD_ESCAPES = re.compile(
    r"(?<![\\])\\([*_`\[\]!~|])"          # anywhere
    r"|(?<=[0-9])\\(\.)"                   # 2\. list numbers
    r"|(?<![^\n])([ \t]*)\\([-+#>])"       # at line start
)
_ESCAPED_NEWLINE = re.compile(rf"(?<![\\])(?:(?<=[{_CJK}])\\n|\\n(?=[{_CJK}]))")

_ODD_SPACE = "[\u00a0\u1680\u2000-\u200a\u202f\u205f]"
_LINE_BREAK = "\r\n|[\r\x0b\x0c\x85\u2028\u2029]"
_WHITESPACE_INSIDE = (
    "\r|\t|  | \n|\n\n\n|\u3000|[\x0b\x0c\x85\u2028\u2029\u00a0\u1680\u2000-\u200a\u202f\u205f]"
)


def strip_noncharacters(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(NONCHARACTERS, "")


def fix_mojibake(text: str) -> str:
    return ftfy.fix_encoding(text)


def remove_control(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(CONTROL, "")


def remove_zero_width(text: pl.Expr) -> pl.Expr:
    text = text.str.replace_all(ZERO_WIDTH, "")
    return text.str.replace_all(_ZWJ_AFTER_NON_EMOJI, "${1}").str.replace_all(_ZWJ_BEFORE_NON_EMOJI, "${1}")


def _unescape_match(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1)
    if match.group(2) is not None:
        return match.group(2)
    return match.group(3) + match.group(4)


def unescape_markdown(text: str) -> str:
    return _ESCAPED_NEWLINE.sub("\n", _MD_ESCAPES.sub(_unescape_match, text))


def whitespace_hint(text: pl.Expr) -> pl.Expr:
    """Texts the whitespace rules can change: an odd character inside, or whitespace at either end."""
    ends = text.str.slice(0, 1) + text.str.slice(-1)
    return text.str.contains(_WHITESPACE_INSIDE) | ends.str.contains(r"\s")


def normalise_whitespace(text: pl.Expr) -> pl.Expr:
    text = text.str.replace_all(_LINE_BREAK, "\n").str.replace_all(_ODD_SPACE, " ")
    text = text.str.replace_all(r"(?m)[ \t\u3000]+$", "").str.replace_all(r"(?m)^\u3000+", "")
    text = text.str.replace_all(r"([^\s])[ \t]{2,}", "${1} ")
    text = text.str.replace_all(r"\n{3,}", "\n\n")
    return text.str.strip_chars()
