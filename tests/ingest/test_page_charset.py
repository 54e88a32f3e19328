"""Decoding crawled pages: sniffing order, refused codecs, bad bytes; a bad page costs itself only, also on reruns.

Pages are served by the real loopback server of test_crawl_hostile; the rows come from `load_http`
(crawl, WARC archive, read back), and the CLI checks that a run with bad pages prints one line.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from stages.ingest.crawl import crawl
from stages.ingest.http_source import load_http
from stages.ingest.jsontext import RecordProblem
from stages.ingest.page_text import page_text, text_decoder
from stages.ingest.warc_archive import read_archive
from stages.scrape import cli
from tests.ingest.test_crawl import fast, source
from tests.ingest.test_crawl_hostile import Hosts, hosts  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(120)

A = "127.0.0.1"
TITLE, ANSWER = "堃是什么意思", "堃（kūn）同“坤”，多用于人名。"  # 堃 is in GBK, not in GB2312
ROBOTS = (200, (("Content-Type", "text/plain"),), b"User-agent: *\nAllow: /\n")
REFUSED = ["unicode_escape", "raw_unicode_escape", "rot13", "rot_13", "zlib", "base64", "hex", "idna", "punycode",
           "utf-7", "uu", "bz2", "quopri", "cp037", "undefined", "mbcs", "palmos", "utf8mb4", "x-unknown"]


def page(head: str = "", title: str = TITLE, answer: str = ANSWER) -> str:
    return (f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body><h1 class='q-title'>{title}</h1>"
            f"<div class='answer accepted'><div class='a-body'><p>{answer}</p></div></div></body></html>")


def content_type(value: str) -> tuple[tuple[str, str], ...]:
    return (("Content-Type", value),)


CASES = {  # path: (headers, body, expected reason or None for kept)
    "/meta-charset-gbk": (content_type("text/html"), page('<meta charset="gbk">').encode("gbk"), None),
    "/meta-http-equiv-gb2312": (  # GB2312 is decoded as GB18030, its superset, as browsers do
        (), page('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">').encode("gbk"), None),
    "/meta-after-comment": (content_type("text/html"),
                            page('<!-- <meta charset="utf-8"> --><meta charset=GBK>').encode("gbk"), None),
    "/header-wins-over-meta": (content_type("text/html; charset=utf-8"), page('<meta charset="gbk">').encode(), None),
    "/header-gbk-meta-utf8": (content_type("text/html; charset=GBK"), page('<meta charset="utf-8">').encode("gbk"),
                              None),
    "/bom-wins-over-header": (content_type("text/html; charset=gbk"), codecs.BOM_UTF8 + page().encode(), None),
    "/utf16-bom": ((), codecs.BOM_UTF16_LE + page().encode("utf-16-le"), None),
    "/meta-utf16-means-utf8": ((), page('<meta charset="utf-16">').encode(), None),
    "/whatwg-alias": (content_type("text/html; charset=x-gbk"), page().encode("gbk"), None),
    "/no-charset-utf8": (content_type("text/html"), page().encode(), None),
    "/unicode-escape-surrogate": (content_type("text/html; charset=unicode_escape"),
                                  page(answer="\\ud800").encode(), "scrape_unknown_charset"),
    "/meta-rot13": (content_type("text/html"), page('<meta charset="rot13">').encode(), "scrape_unknown_charset"),
    "/gbk-bad-bytes": (content_type("text/html; charset=gbk"), page().encode("gbk") + b"\x81\x20",
                       "scrape_undecodable"),
    "/gbk-without-any-charset": (content_type("text/html"), page().encode("gbk"), "scrape_invalid_utf8"),
    "/nested-too-deep": (content_type("text/html"), page(answer="<b>" * 5000 + ANSWER).encode(),
                         "scrape_parse_failed"),
    "/utf16-lone-surrogate": ((), codecs.BOM_UTF16_LE + page().encode("utf-16-le") + b"\x00\xd8a\x00",
                              "scrape_undecodable"),
}


def test_each_page_is_decoded_by_its_sniffed_charset_or_rejected_alone(hosts: Hosts, tmp_path: Path) -> None:
    hosts.routes[(A, "/robots.txt")] = ROBOTS
    for path, (headers, body, _) in CASES.items():
        hosts.routes[(A, path)] = (200, headers, body)
    cfg = source(tmp_path, [hosts.url(A, p) for p in CASES], fast(max_bytes=100_000), name="qa_web")
    records, rejected = load_http(cfg, tmp_path / "archive")

    assert {r["source_uri"]: (r["instruction"], r["output"]) for r in records} == {
        hosts.url(A, p): (TITLE, ANSWER) for p, (_, _, reason) in CASES.items() if reason is None}
    assert {r["source_uri"]: r["reason"] for r in rejected} == {
        hosts.url(A, p): reason for p, (_, _, reason) in CASES.items() if reason is not None}
    details = {r["source_uri"].rsplit("/", 1)[1]: r["detail"] for r in rejected}
    url = hosts.url(A, "/")
    first_non_ascii = next(i for i, byte in enumerate(page().encode("gbk")) if byte > 127)
    assert details == {
        "unicode-escape-surrogate": f"{url}unicode-escape-surrogate: charset 'unicode_escape' (Content-Type header) "
                                    "is not a known text encoding",
        "meta-rot13": f"{url}meta-rot13: charset 'rot13' (<meta> tag) is not a known text encoding",
        "gbk-bad-bytes": f"{url}gbk-bad-bytes: body does not decode as gb18030 (Content-Type header) at byte "
                         f"{len(page().encode('gbk'))}: illegal multibyte sequence",
        "gbk-without-any-charset": f"{url}gbk-without-any-charset: body does not decode as "
                                             f"utf-8 (no charset named) at byte {first_non_ascii}"
                                             ": invalid start byte",
        "nested-too-deep": f"{url}nested-too-deep: qa_selectors: elements nested too deep to read",
        "utf16-lone-surrogate": f"{url}utf16-lone-surrogate: body does not decode as utf-16 (byte order mark) at "
                                f"byte {2 + len(page().encode('utf-16-le'))}: illegal UTF-16 surrogate",
    }

    before = len(hosts.log)
    assert load_http(cfg, tmp_path / "archive") == (records, rejected)  # the archived bad pages: same rows again
    assert len(hosts.log) == before


@pytest.mark.parametrize("label", REFUSED)
def test_codecs_that_are_not_text_encodings_are_refused(label: str) -> None:
    assert text_decoder(label) is None
    with pytest.raises(RecordProblem) as info:
        page_text(b"<p>x</p>", [("Content-Type", f"text/html; charset={label}")])
    assert (info.value.reason, info.value.detail) == (
        "scrape_unknown_charset", f"charset {label!r} (Content-Type header) is not a known text encoding")


@pytest.mark.parametrize("label, decoder", [
    ("UTF-8", "utf-8"), ("utf8", "utf-8"), ("unicode-1-1-utf-8", "utf-8"), ("gb2312", "gb18030"), ("GBK", "gb18030"),
    ("cp936", "gb18030"), ("GB18030", "gb18030"), ("big5", "big5hkscs"), ("Shift_JIS", "cp932"),
    ("windows-31j", "cp932"), ("euc-jp", "euc_jp"), ("EUC-KR", "cp949"), ("ks_c_5601-1987", "cp949"),
    ("iso-8859-1", "iso8859-1"), ("latin1", "iso8859-1"), ("windows-1252", "cp1252"), ("utf-16le", "utf-16-le"),
    ("UTF-32", "utf-32"), ("koi8-r", "koi8-r"), ("windows-874", "cp874"), ("us-ascii", "ascii"),
])
def test_text_encodings_and_their_aliases_are_known(label: str, decoder: str) -> None:
    assert text_decoder(label) == decoder


def test_links_and_robots_of_pages_with_refused_or_broken_charsets_never_stop_the_crawl(
        hosts: Hosts, tmp_path: Path) -> None:
    hosts.routes[(A, "/robots.txt")] = (200, content_type("text/plain; charset=idna"),
                                        b"User-agent: *\nDisallow: /private/\n")
    links = '<a class="q" href="/qa/1">1</a><a class="q" href="/private/x">x</a><a class="q" href="/qa/2">2</a>'
    hosts.routes[(A, "/list")] = (200, content_type("text/html; charset=idna"), f"<p>\xe9{links}</p>".encode("latin-1"))
    hosts.routes[(A, "/qa/1")] = (200, content_type("text/html; charset=gbk"), page().encode("gbk") + b"\xff")
    hosts.routes[(A, "/qa/2")] = (200, content_type("text/html; charset=utf-8"), page().encode())
    settings = fast(max_bytes=100_000, follow="a.q")
    for _ in range(2):  # the second run reads the archived pages for their links again
        crawl([hosts.url(A, "/list")], settings, tmp_path / "archive")
    assert {item.url.rsplit("/", 1)[1]: item.outcome for item in read_archive(tmp_path / "archive")} == {
        "list": "response", "1": "response", "2": "response", "x": "robots_disallowed"}
    assert hosts.log.count((A, "/qa/1")) == 1


def test_the_scrape_command_reports_bad_pages_as_counts_in_one_line(hosts: Hosts, tmp_path: Path) -> None:
    hosts.routes[(A, "/robots.txt")] = ROBOTS
    paths = ["/unicode-escape-surrogate", "/meta-charset-gbk", "/gbk-bad-bytes"]
    for path in paths:
        headers, body, _ = CASES[path]
        hosts.routes[(A, path)] = (200, headers, body)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(hosts.url(A, p) for p in paths) + "\n", encoding="utf-8")
    settings = fast(max_bytes=100_000).model_dump()
    settings.update(kind="http", path=str(seeds), subset="qa")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"sources": {"web": settings}}, allow_unicode=True), encoding="utf-8")
    args = ["run", "web", "--params", str(params), "--out", str(tmp_path / "o"), "--archive", str(tmp_path / "a"),
            "--metrics", str(tmp_path / "m.json")]
    for _ in range(2):  # the rerun reads the same bad pages from the archive
        result = CliRunner().invoke(cli, args)
        assert (result.exit_code, result.output) == (
            0, "scrape[web]: 3 in, 1 kept, 2 dropped (scrape_undecodable 1, scrape_unknown_charset 1)\n")
