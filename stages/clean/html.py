"""HTML fragments to markdown-ish text, keeping code and LaTeX intact.

Only text that contains HTML markup (`HTML_HINT`: block or formatting tags such
as <p>, <br>, <pre>, <code>, <li>, <a href>, or character entities) is touched,
and within it only the prose: existing markdown code, LaTeX and URLs pass
through unchanged (URLs are not held back here: in HTML they sit inside
attributes). `<div>` and `<span>` alone are not markup evidence: in
SegmentFault-style questions they are usually an unfenced code sample.

Conversion:
- `<pre>` (with or without an inner `<code>`) becomes a ``` fenced block and
  `<code>` inline code; their text is taken verbatim (tags such as syntax
  highlighting spans removed, entities decoded);
- `<script>`, `<style>` and comments are removed with their content;
- `<br>` and the end of block elements become line breaks, `<li>` a "- " item,
  `<h1>`..`<h6>` a markdown heading, `<a href="http...">t</a>` `[t](href)`;
- other tags are dropped and entities (`&nbsp;`, `&lt;`, `&#39;`) decoded, only
  in the forms that end in ';' so query strings such as `&copy=1` survive.
The whitespace repair that runs later tidies the line breaks.
"""

from __future__ import annotations

import html
import re

from stages.clean.segments import CODE_MATH

_TAGS = "p|br|pre|code|li|ul|ol|h[1-6]|blockquote|strong|em|b|i|u|table|tr|td|th|hr|img|a|sup|sub"
_MARKUP = rf"</?(?:{_TAGS})(?:\s[^<>]*)?/?>"
_ENTITY = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
HTML_HINT = rf"(?i){_MARKUP}|{_ENTITY}"

_KEEP = re.compile(f"({CODE_MATH})")
_MARKUP_RE = re.compile(_MARKUP, re.IGNORECASE)
_ENTITY_RE = re.compile(_ENTITY)
_DROP = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_PRE = re.compile(r"<pre\b[^>]*>\s*(?:<code\b[^>]*>)?(?P<body>.*?)(?:</code>\s*)?</pre\s*>", re.IGNORECASE | re.DOTALL)
_CODE = re.compile(r"<code\b[^>]*>(?P<body>.*?)</code\s*>", re.IGNORECASE | re.DOTALL)
_LINK = re.compile(r"""<a\b[^>]*?href\s*=\s*["'](?P<href>https?://[^"']+)["'][^>]*>(?P<text>.*?)</a\s*>""",
                   re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(r"<h(?P<level>[1-6])\b[^>]*>(?P<text>.*?)</h[1-6]\s*>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<br\s*/?>|</(?:p|div|ul|ol|tr|table|blockquote|h[1-6])\s*>|<(?:p|div|tr|table|hr)\b[^>]*>",
                    re.IGNORECASE)
_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_HOLD = "\ufdd2"
_HELD = re.compile(_HOLD + r"(\d+)" + _HOLD)


def decode_entities(text: str) -> str:
    return _ENTITY_RE.sub(lambda m: html.unescape(m.group()), text)


def code_text(fragment: str) -> str:
    """The verbatim text of a code element: inner tags removed, entities decoded."""
    return decode_entities(_TAG.sub("", fragment))


def prose_to_text(prose: str) -> str:
    """Convert one prose stretch (no markdown code, LaTeX or URLs in it)."""
    has_markup = _MARKUP_RE.search(prose) is not None
    if not has_markup:
        return decode_entities(prose)
    held: list[str] = []

    def hold(piece: str) -> str:
        held.append(piece)
        return f"{_HOLD}{len(held) - 1}{_HOLD}"

    text = _DROP.sub("", prose)
    text = _PRE.sub(lambda m: hold("\n```\n" + code_text(m["body"]).strip("\n") + "\n```\n"), text)
    text = _CODE.sub(lambda m: hold("`" + code_text(m["body"]) + "`"), text)
    text = _LINK.sub(lambda m: f"[{_TAG.sub('', m['text']).strip()}]({hold(decode_entities(m['href']))})", text)
    text = _HEADING.sub(lambda m: "\n" + "#" * int(m["level"]) + " " + _TAG.sub("", m["text"]).strip() + "\n", text)
    text = _ITEM.sub("\n- ", _BREAK.sub("\n", text))
    text = decode_entities(_TAG.sub("", text))
    return _HELD.sub(lambda m: held[int(m.group(1))], text)


def html_to_text(text: str) -> str:
    """Convert the HTML in `text`, leaving markdown code and LaTeX as they are."""
    parts = _KEEP.split(text)
    for index in range(0, len(parts), 2):
        parts[index] = prose_to_text(parts[index])
    return "".join(parts)
