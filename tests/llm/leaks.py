"""A key in trivially transformed forms, and a search for any of them in the files a run wrote.

`key_forms(key)` gives the hostile spellings an endpoint may echo (the chat server
sends them); `files_holding(root, key)` lists the files under `root` that hold the
key in any of those forms. It reads parquet files as tables (their pages are
compressed, so a byte search finds nothing) and every other file as text, and
is written independently of stages/llm/screen.py: it searches the exact hostile
strings, and the key and its halves in a view of the text with case, NFKC forms,
whitespace and zero-width characters taken out.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from pathlib import Path

import polars as pl

_GAPS = re.compile(r"[\s\u200b-\u200f\u2060\ufeff\u00ad]+")


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def key_forms(key: str) -> dict[str, str]:
    """Name -> the key written that way (each one should be caught)."""
    raw = key.encode()
    third = len(key) // 3
    return {
        "plain": key, "upper": key.upper(), "lower": key.lower(), "fullwidth": _fullwidth(key),
        "zero_width": "\u200b".join(key), "spaced": " ".join(key),
        "lines": f"{key[:third]}\n{key[third:2 * third]}\r\n{key[2 * third:]}",
        "halves": f"前半段 {key[:len(key) // 2]} ，后半段 {key[len(key) // 2:]}",
        "base64": base64.b64encode(raw).decode(),
        "base64_wrapped": "\n".join(base64.b64encode(b"token=" + raw).decode()[i:i + 10] for i in range(0, 80, 10)),
        "base64url_part": "Zz" + base64.urlsafe_b64encode(raw[4:]).decode().rstrip("="),
        "base64_utf16": base64.b64encode(key.encode("utf-16-le")).decode(),
        "hex": raw.hex(), "hex_spaced_upper": " ".join(f"{b:02X}" for b in raw),
        "escaped_x": "".join(f"\\x{b:02x}" for b in raw), "percent": "".join(f"%{b:02X}" for b in raw),
        "html_entities": "".join(f"&#{ord(ch)};" for ch in key),
    }


def _strings(value: object) -> list[str]:
    """Every string inside `value`, and inside any string that is itself JSON (a `metadata` cell)."""
    if isinstance(value, str):
        try:
            inner = json.loads(value) if value.lstrip().startswith(("{", "[", '"')) else None
        except ValueError:
            inner = None
        return [value, *_strings(inner)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return [] if value is None else [str(value)]


def file_text(path: Path) -> str:
    """Everything a reader of the file could see, as text."""
    data = path.read_bytes()
    parts = [data.decode("utf-8", errors="replace")]
    if path.suffix == ".parquet":
        parts += _strings(pl.read_parquet(path).to_dicts())
    else:
        parts += _strings(parts[0])
    return "\n".join(parts)


def _squash(text: str) -> str:
    return _GAPS.sub("", unicodedata.normalize("NFKC", text).casefold())


def files_holding(root: Path, key: str) -> dict[str, list[str]]:
    """Relative path -> names of the forms of `key` found in it, for every file under `root` holding one."""
    half = len(key) // 2
    needles = {name: form for name, form in key_forms(key).items() if name != "halves"}
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        text = file_text(path)
        squashed = _squash(text)
        hits = [name for name, form in needles.items() if form in text]
        hits += [name for name, part in (("key", key), ("first half", key[:half]), ("second half", key[half:]))
                 if _squash(part) in squashed]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found
