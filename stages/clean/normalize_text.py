"""Script, width and punctuation normalisation of prose (the `normalize` stage), and its params.

All three run on masked text (`segments.CODE_MATH_URL`): code, LaTeX and URLs
are never changed. Each is idempotent, so normalising twice equals once.

OpenCC (`opencc:<config>`): traditional to simplified with OpenCC's own
configs; `t2s` (character and phrase level), `tw2sp` (Taiwan standard plus
Taiwan-to-mainland vocabulary: 軟體 -> 软件, 記憶體 -> 内存), `tw2s`, `hk2s`
(Hong Kong variants such as 衞 -> 卫). A conversion is repeated until the text
stops changing (at most `MAX_ROUNDS`): a few OpenCC mappings are chains
(薴 -> 苧 -> 苎), and a second pass must find nothing left to convert. Only texts
holding a key OpenCC would replace are passed to it (`opencc_tables`): the
others come back unchanged anyway.

Width (`normalize:width`): full-width Latin letters and digits to ASCII
(Ａ-Ｚ, ａ-ｚ, ０-９ -> A-Z, a-z, 0-9). Full-width punctuation is the Chinese
form and is kept, as is the ideographic space U+3000.

Punctuation (`normalize:punct`), ASCII to the Chinese form when the mark sits
between two Han characters (spaces around it are dropped):

| ASCII | Chinese | example                      |
|-------|---------|------------------------------|
| ,     | ，      | 你好,世界 -> 你好，世界        |
| .     | 。      | 下雨了.我们走 -> 下雨了。我们走 |
| ;     | ；      | 甲;乙 -> 甲；乙                |
| :     | ：      | 时间:下午 -> 时间：下午        |
| ?     | ？      | 吗?好 -> 吗？好                |
| !     | ！      | 好!走 -> 好！走                |
| ( )   | （ ）   | a pair whose content has Han characters and no Latin letters: 见(图1) -> 见（图1） |
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import polars as pl
from pydantic import field_validator

from stages.lib.params import Params, known_subsets

OPENCC_CONFIGS = ("t2s", "tw2s", "tw2sp", "hk2s")
OpenCCConfig = Literal[OPENCC_CONFIGS]
MAX_ROUNDS = 4

_FULL = [chr(c) for c in range(0xFF21, 0xFF3B)] + [chr(c) for c in range(0xFF41, 0xFF5B)] + \
    [chr(c) for c in range(0xFF10, 0xFF1A)]
_HALF = [chr(c - 0xFEE0) for c in map(ord, _FULL)]
WIDTH_TABLE = dict(zip(_FULL, _HALF))

WIDTH_HINT = "[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]"
PUNCT_TABLE = {",": "，", ".": "。", ";": "；", ":": "：", "?": "？", "!": "！"}
PUNCT_HINT = r"[,.;:?!(]"
_MARK = "\ufdd3"
_BETWEEN_HAN = r"(\p{Han})[ \t]*([,.;:?!])[ \t]*(\p{Han})"
_HAN_PARENS = r"\(([^()\nA-Za-z]*\p{Han}[^()\nA-Za-z]*)\)"


class NormalizeParams(Params, section="normalize"):
    """`params.yaml: normalize`. `opencc_by_source` keys must name configured subsets (context `subsets`)."""

    opencc_default: OpenCCConfig
    opencc_by_source: dict[str, OpenCCConfig]
    width: bool
    punct: bool

    _known_subsets = field_validator("opencc_by_source")(known_subsets)


@lru_cache(maxsize=len(OPENCC_CONFIGS))
def converter(config: str) -> Any:
    import opencc

    if config not in OPENCC_CONFIGS:
        raise ValueError(f"unknown OpenCC config {config!r}; available: {', '.join(OPENCC_CONFIGS)}")
    return opencc.OpenCC(f"{config}.json")


def _convert_once(convert: Any, text: str) -> str:
    if "\x00" in text:  # OpenCC's C API stops at NUL: convert the pieces around it
        return "\x00".join(convert(piece) for piece in text.split("\x00"))
    return convert(text)


def convert_text(text: str, config: str) -> str:
    """OpenCC `config` applied to `text` until it is stable."""
    convert = converter(config).convert
    previous, current = text, _convert_once(convert, text)
    rounds = 1
    while current != previous and rounds < MAX_ROUNDS:  # unchanged means stable
        previous, current = current, _convert_once(convert, current)
        rounds += 1
    return current


def convert_script(texts: list[str], config: str) -> list[str]:
    """`convert_text` on each text."""
    return [convert_text(text, config) for text in texts]


def normalise_width(text: pl.Expr) -> pl.Expr:
    return text.str.replace_many(list(WIDTH_TABLE), list(WIDTH_TABLE.values()))


def normalise_punct(text: pl.Expr) -> pl.Expr:
    """Mark ASCII marks between Han characters (two passes: a match uses up the Han
    character after it), then swap each marked mark for its Chinese form."""
    for _ in range(2):
        text = text.str.replace_all(_BETWEEN_HAN, f"${{1}}{_MARK}${{2}}${{3}}")
    marked = [_MARK + mark for mark in PUNCT_TABLE]
    text = text.str.replace_many(marked, list(PUNCT_TABLE.values()))
    return text.str.replace_all(_HAN_PARENS, "（${1}）")
