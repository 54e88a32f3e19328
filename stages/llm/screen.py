"""What the rewrite stage checks in a reply before it is cached or written: the API key, and echoes.

Both compare *folded* text: NFKC, case folded, then decomposed with every
character that is not a letter or digit dropped (whitespace, line breaks,
zero-width and format characters, punctuation, combining marks). So full-width
letters, upper case, inserted spaces, zero-width characters and line breaks do
not change the folded text.

`KeyGuard(key).leaks(*texts)` is the one test for the API key. A text leaks when
its folded form, or the folded form of one of its decodings, contains the whole
folded key or any `FRAGMENT` consecutive characters of it (so a key split into
pieces of that length between other words is found too). Decodings tried: HTML
entities, JSON/Python escapes (`\\u0073`, `\\x73`), and every run of base64
(standard or URL-safe, at each of the four alignments, so base64 of a part of a
longer string is found) or hex (also `\\x73`, `%73`, `0x73`, `73:6b` forms) in the
text with whitespace and zero-width characters removed. Keys whose folded form
is shorter than `MIN_KEY` (vLLM's `EMPTY`) are not secrets: nothing leaks.

`echo_share(reply, reference)` is the share of the reply's distinct character
`ECHO_NGRAM`-grams (of folded text) that also occur in the reference; the stage
drops a parsed reply whose share against its prompt and rule text reaches
`ECHO_THRESHOLD` (`rewrite_echoes_prompt`; measured figures in README.md).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

MIN_KEY = 6
FRAGMENT = 12
ECHO_NGRAM = 6
ECHO_THRESHOLD = 0.8

_INVISIBLE = re.compile(r"[\s\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]+")
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([nrtbf\"/\\]))")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}")
_HEX_SEPARATORS = re.compile(r"\\x|0x|%|[:,.\-]", re.IGNORECASE)
_HEX_RUN = re.compile(r"[0-9a-fA-F]{12,}")
_URLSAFE = str.maketrans("-_", "+/")


def fold(text: str) -> str:
    """NFKC, case fold, decompose; keep letters and digits only."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in folded if ch.isalnum())


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        return chr(int(code, 16)) if code else _SIMPLE.get(match.group(3), match.group(3))
    return _ESCAPE.sub(one, text)


def _base64_decodings(compact: str) -> Iterator[bytes]:
    for run in _BASE64_RUN.findall(compact):
        for offset in range(4):
            chunk = run[offset:]
            chunk = chunk[: len(chunk) - len(chunk) % 4].translate(_URLSAFE)
            if chunk:
                try:
                    yield base64.b64decode(chunk)
                except (binascii.Error, ValueError):
                    continue


def _hex_decodings(compact: str) -> Iterator[bytes]:
    for run in _HEX_RUN.findall(_HEX_SEPARATORS.sub("", compact)):
        for offset in range(2):
            chunk = run[offset:]
            yield bytes.fromhex(chunk[: len(chunk) - len(chunk) % 2])


def views(text: str) -> Iterator[str]:
    """The text and the decodings a key might hide in (see the module docstring)."""
    yield text
    if "&" in text:
        yield html.unescape(text)
    if "\\" in text:
        yield _unescape(text)
    compact = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    for raw in (*_base64_decodings(compact), *_hex_decodings(compact)):
        yield raw.decode("latin-1")  # every byte is a character; UTF-16 zeros fold away


def strings(value: Any) -> Iterator[str]:
    """Every string inside nested dicts and lists (keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


class KeyGuard:
    """Finds the API key in texts, in any of the forms listed in the module docstring.
    `source` names where the key comes from (e.g. the environment variable), for messages;
    the key itself is never part of any message."""

    def __init__(self, key: str, source: str = "the API key") -> None:
        folded = fold(key or "")
        self.source = source
        self.active = len(folded) >= MIN_KEY
        size = min(FRAGMENT, len(folded))
        self._pieces = {folded[i:i + size] for i in range(len(folded) - size + 1)} if self.active else set()

    def _found(self, text: str) -> bool:
        folded = fold(text)
        return any(piece in folded for piece in self._pieces)

    def leaks(self, *texts: str | None) -> bool:
        """Whether any of `texts` (None and "" are skipped) holds the key in some form."""
        if not self.active:
            return False
        return any(self._found(view) for text in texts if text for view in views(text))


NO_KEY = KeyGuard("")


def _grams(folded: str, n: int) -> set[str]:
    if len(folded) <= n:
        return {folded} if folded else set()
    return {folded[i:i + n] for i in range(len(folded) - n + 1)}


def _all_grams(texts: Iterable[str], n: int) -> set[str]:
    return set().union(*(_grams(fold(text), n) for text in texts))


def echo_share(reply: Iterable[str], reference: Iterable[str], seed: Iterable[str] = (), n: int = ECHO_NGRAM) -> float:
    """Of the distinct folded character n-grams of the reply's parts that do not occur in the seed texts,
    the share that occurs in the reference texts (0.0 when none is left: a reply made of the seed's own
    words is no echo). Each text is cut into n-grams on its own; a text shorter than n is one n-gram."""
    grams = _all_grams(reply, n) - _all_grams(seed, n)
    if not grams:
        return 0.0
    return len(grams & _all_grams(reference, n)) / len(grams)
