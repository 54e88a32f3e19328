"""Turning a fetched body into text: which charset a page is in, and which charsets are used at all.

The charset is found in the order of the HTML standard's encoding sniffing
algorithm (WHATWG, simplified: no guessing from the content):

1. a byte order mark (UTF-8, UTF-16LE, UTF-16BE) wins over everything;
2. else the `charset` of the Content-Type header;
3. else, for HTML (a Content-Type naming html, or none), the first
   `<meta charset="...">` or `<meta http-equiv="Content-Type" content="...;
   charset=...">` in the first 1024 bytes, comments skipped; a `<meta>` naming
   UTF-16 means UTF-8 (a page whose `<meta>` can be read as ASCII is not UTF-16);
4. else UTF-8.

Only text encodings are ever used as decoders: UTF-8/16/32, the Chinese ones
(GB18030, GBK and GB2312 decoded as GB18030, their superset, as browsers do;
Big5 as Big5-HKSCS), Japanese (Shift_JIS as cp932, EUC-JP, ISO-2022-JP),
Korean (EUC-KR as cp949, ISO-2022-KR), ASCII, ISO-8859-*, windows-125x,
KOI8-R/U and windows-874, under their usual names and the WHATWG aliases
(`x-gbk`, `windows-31j`, `ks_c_5601-1987`...). Any other name a server or a page
gives (`unicode_escape`, `rot13`, `zlib`, `base64`, `hex`, `idna`, `punycode`,
`utf-7`, EBCDIC...) refuses the page. A page costs only itself:

| reason                 | what was wrong                                                  |
|------------------------|-----------------------------------------------------------------|
| scrape_unknown_charset | the header or `<meta>` names a charset outside the list above    |
| scrape_invalid_utf8    | a UTF-8 page holds bytes that are not UTF-8 (the byte offset is given) |
| scrape_undecodable     | the bytes do not decode with the page's other charset             |
| scrape_lone_surrogate  | the text holds a lone surrogate (no listed decoder makes one; checked all the same) |

Link discovery and robots.txt use `lenient_text`: the same charset with
undecodable bytes replaced, UTF-8 when the named one is refused; it never fails.
"""

from __future__ import annotations

import codecs
import re

from stages.ingest.jsontext import LONE_SURROGATE, RecordProblem

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_BE, "utf-16"), (codecs.BOM_UTF16_LE, "utf-16"))
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]{1,40})", re.I)
_META = re.compile(r"<meta\b([^>]*)>", re.I)
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
PRESCAN_BYTES = 1024
_ALIASES = {  # WHATWG labels Python's codec registry does not know
    "unicode-1-1-utf-8": "utf-8", "unicode11utf8": "utf-8", "unicode20utf8": "utf-8", "x-unicode20utf8": "utf-8",
    "x-gbk": "gbk", "gb_2312": "gb2312", "gb_2312-80": "gb2312", "iso-ir-58": "gb2312", "csiso58gb231280": "gb2312",
    "x-sjis": "cp932", "windows-31j": "cp932", "ms932": "cp932", "ms_kanji": "cp932", "csshiftjis": "cp932",
    "x-euc-jp": "euc_jp", "cseucpkdfmtjapanese": "euc_jp", "windows-949": "cp949", "ksc5601": "cp949",
    "ksc_5601": "cp949", "csksc56011987": "cp949", "iso-ir-149": "cp949", "cn-big5": "big5hkscs",
    "x-x-big5": "big5hkscs", "windows-874": "cp874", "dos-874": "cp874",
}
_DECODERS = {  # Python's name of an allowed codec -> the decoder used (a superset where browsers use one)
    "utf-8": "utf-8", "utf-16": "utf-16", "utf-16-le": "utf-16-le", "utf-16-be": "utf-16-be",
    "utf-32": "utf-32", "utf-32-le": "utf-32-le", "utf-32-be": "utf-32-be",
    "gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030", "big5": "big5hkscs", "big5hkscs": "big5hkscs",
    "cp950": "cp950", "shift_jis": "cp932", "cp932": "cp932", "euc_jp": "euc_jp", "iso2022_jp": "iso2022_jp",
    "euc_kr": "cp949", "cp949": "cp949", "iso2022_kr": "iso2022_kr", "ascii": "ascii",
    "koi8-r": "koi8-r", "koi8-u": "koi8-u", "cp874": "cp874", "tis-620": "cp874",
    **{f"iso8859-{n}": f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)},
    **{f"cp{n}": f"cp{n}" for n in range(1250, 1259)},
}


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    """The first value of header `name` (lower case), or None."""
    return next((value for key, value in headers if key.lower() == name), None)


def text_decoder(label: str) -> str | None:
    """The decoder for a charset label, or None when the label is not a listed text encoding."""
    name = label.strip().lower()
    try:
        known = codecs.lookup(_ALIASES.get(name, name)).name
    except LookupError:
        return None
    return _DECODERS.get(known)


def meta_charset(head: bytes) -> str | None:
    """The charset label of the first `<meta>` that names one in `head` (HTML's prescan), or None."""
    text = _COMMENT.sub("", head.decode("latin-1"))
    for tag in _META.finditer(text):
        attrs = {m.group(1).lower(): (m.group(2) or "").strip("\"'") for m in _ATTR.finditer(tag.group(1))}
        if attrs.get("charset"):
            return attrs["charset"]
        found = _CHARSET.search(attrs.get("content", ""))
        if attrs.get("http-equiv", "").lower() == "content-type" and found:
            return found.group(1)
    return None


def _checked(label: str, where: str) -> str:
    decoder = text_decoder(label)
    if decoder is None:
        raise RecordProblem("scrape_unknown_charset", f"charset {label!r} ({where}) is not a known text encoding")
    return decoder


def sniff(body: bytes, headers: list[tuple[str, str]]) -> tuple[str, str]:
    """(decoder, where it was named) for a page; RecordProblem when the named charset is refused."""
    for bom, decoder in _BOMS:
        if body.startswith(bom):
            return decoder, "byte order mark"
    content_type = header(headers, "content-type")
    if (found := _CHARSET.search(content_type or "")) is not None:
        return _checked(found.group(1), "Content-Type header"), "Content-Type header"
    if "html" in (content_type or "text/html").lower() and (label := meta_charset(body[:PRESCAN_BYTES])):
        decoder = _checked(label, "<meta> tag")
        return ("utf-8" if decoder.startswith("utf-16") else decoder), "<meta> tag"
    return "utf-8", "no charset named"


def page_text(body: bytes, headers: list[tuple[str, str]]) -> str:
    """The page's text; RecordProblem (one of the reasons above) when it cannot be had."""
    decoder, where = sniff(body, headers)
    try:
        text = body.decode(decoder)
    except ValueError as exc:  # UnicodeDecodeError, or any other complaint of a decoder
        reason = "scrape_invalid_utf8" if decoder.startswith("utf-8") else "scrape_undecodable"
        at = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
        problem = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise RecordProblem(reason, f"body does not decode as {decoder} ({where}){at}: {problem}") from None
    if (bad := LONE_SURROGATE.search(text)) is not None:
        raise RecordProblem("scrape_lone_surrogate", f"text decoded as {decoder} ({where}) holds a lone surrogate "
                                                     f"U+{ord(bad.group()):04X} at character {bad.start()}")
    return text


def lenient_text(body: bytes, headers: list[tuple[str, str]]) -> str:
    """Best-effort text for link discovery and robots.txt; never raises."""
    try:
        decoder, _ = sniff(body, headers)
    except RecordProblem:
        decoder = "utf-8"
    return body.decode(decoder, errors="replace")
