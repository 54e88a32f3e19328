"""Protected spans: masked out of the prose before a prose step, put back after.

A text is split once into prose and protected spans. Each protected span is
replaced by one sentinel character (a Unicode noncharacter, which never occurs
in text meant for interchange; `clean` removes any that do) and kept aside in a
list column, so prose steps run as vectorised polars expressions on the masked
text and the spans come back byte for byte. Masks can be nested (code first,
then LaTeX and URLs) with a different sentinel per level; unmask in reverse.

Protected spans, leftmost first:
- `CODE`: fenced blocks (```...```, an unclosed fence runs to the end) and inline
  code (`x` or ``x``);
- `MATH`: LaTeX `$$...$$`, `\\[...\\]`, `\\(...\\)`, `\\begin{env}...\\end{env}`,
  inline `$...$` (pandoc's rule: no space just inside the dollars; no '<' or
  '>' inside, so a `$` in an HTML page cannot swallow its tags);
- `URL`: http(s) and www. addresses (ASCII characters only, so a URL ends where
  Chinese text starts; trailing punctuation is not part of it).

The patterns are valid for both polars (Rust `regex`) and Python `re`.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from stages.lib.errors import StageError

SENTINEL = "\ufdd0"
INNER_SENTINEL = "\ufdd1"
NONCHARACTERS = "[\ufdd0-\ufdef\ufffe\uffff]"

CODE = r"```[\s\S]*?(?:```|$)|``[^`\n][^\n]*?``|`[^`\n]+`"
MATH = (
    r"\$\$[\s\S]+?\$\$|\\\[[\s\S]+?\\\]|\\\([\s\S]+?\\\)"
    r"|\\begin\{[A-Za-z*]+\}[\s\S]*?\\end\{[A-Za-z*]+\}"
    r"|\$[^\s$<>](?:[^$\n<>]*?[^\s$<>])?\$"
)
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#@!$&*+,;=%]"
URL = rf"(?:https?://|www\.){_URL_CHARS}*[A-Za-z0-9/_\-=#~%&+]"
CODE_MATH_URL = f"{CODE}|{MATH}|{URL}"
MATH_URL = f"{MATH}|{URL}"
CODE_MATH = f"{CODE}|{MATH}"

# Literal pre-filters: a text without any of these has no span of that kind.
CODE_HINT = "`"
MATH_URL_HINT = r"\$|\\\[|\\\(|\\begin|https?://|www\."
CODE_MATH_URL_HINT = f"{CODE_HINT}|{MATH_URL_HINT}"


@dataclass
class Masked:
    """Masked text columns; per column, the rows that had spans and those spans (in order)."""

    texts: pl.DataFrame
    rows: dict[str, pl.Series]
    spans: dict[str, pl.Series]
    sentinel: str = SENTINEL


def mask(texts: pl.DataFrame, pattern: str, hint: str, sentinel: str = SENTINEL) -> Masked:
    """Replace every match of `pattern` by `sentinel`; keep the matches.

    Only rows matching the literal `hint` are searched, and only rows with a
    match are rewritten, so texts without code, LaTeX or URLs cost one scan.
    """
    columns, rows_by_name, spans_by_name = [], {}, {}
    for name in texts.columns:
        column = texts[name]
        rows = column.str.contains(hint).fill_null(False).arg_true()
        subset = column.gather(rows)
        spans = subset.str.extract_all(pattern)
        found = (spans.list.len() > 0).fill_null(False)
        rows, spans = rows.filter(found), spans.filter(found)
        if rows.len():
            column = column.clone().scatter(rows, subset.filter(found).str.replace_all(pattern, sentinel))
        columns.append(column)
        rows_by_name[name], spans_by_name[name] = rows, spans
    return Masked(pl.DataFrame(columns), rows_by_name, spans_by_name, sentinel)


def interleave(masked: str, spans: list[str], sentinel: str = SENTINEL) -> str:
    """Put `spans` back in place of the sentinels of `masked`, in order."""
    parts = masked.split(sentinel)
    if len(parts) != len(spans) + 1:
        raise StageError(f"internal: {len(parts) - 1} placeholders for {len(spans)} protected spans")
    out = [parts[0]]
    for span, part in zip(spans, parts[1:]):
        out.append(span)
        out.append(part)
    return "".join(out)


def unmask(m: Masked, texts: pl.DataFrame | None = None) -> pl.DataFrame:
    """Put the spans of `m` back into `texts` (default `m.texts`; or the masked texts after prose steps)."""
    texts = m.texts if texts is None else texts
    columns = []
    for name in texts.columns:
        column, rows = texts[name], m.rows[name]
        if rows.len():
            pairs = zip(column.gather(rows).to_list(), m.spans[name].to_list())
            restored = pl.Series([interleave(text, spans, m.sentinel) for text, spans in pairs], dtype=pl.String)
            column = column.clone().scatter(rows, restored)
        columns.append(column)
    return pl.DataFrame(columns)


def prose(masked: pl.Expr) -> pl.Expr:
    """Prose only: each masked span (of either level) becomes a space."""
    return masked.str.replace_all(f"[{SENTINEL}{INNER_SENTINEL}]", " ")
