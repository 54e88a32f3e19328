"""The `http` source: crawler politeness and outcomes, WARC archive, resume, parsers, rows.

A real `ThreadingHTTPServer` on 127.0.0.1 (port 0) serves pages written here and
logs every request (time, path, Host header), so the tests assert on what the
crawler really sent, not on mocks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup
from warcio.archiveiterator import ArchiveIterator

from stages.ingest.crawl import crawl, crawl_async
from stages.ingest.warc_archive import ArchivedOutcome, read_archive
from stages.ingest.html_pages import ParseError, parse_qa_page, parse_tieba_thread
from stages.ingest.http_source import load_http
from stages.ingest.base import Source
from stages.ingest.kinds.http import HttpParams
from stages.ingest.sources import parse_source
from stages.lib.errors import StageError
from stages.lib.record import make_id, records_frame, rejected_frame

pytestmark = pytest.mark.timeout(60)

UA = "cqia-test-bot/1.0"
MAX_BYTES = 4000
QA_SELECTORS = {"instruction": "h1.q-title", "input": ".q-body", "output": ".answer.accepted .a-body",
                "metadata": ".tags"}
AUTHORS = ("贴吧用户_甲", "路人乙", "qa_user_1")

TIEBA_TITLE = "既然监狱里全是罪犯，警察为什么不去监狱抓人"
TIEBA_THREAD = f"""<!DOCTYPE html><html><head><meta charset="gbk"><title>{TIEBA_TITLE}_弱智吧_百度贴吧</title></head>
<body><div class="core_title_wrap_bright clearfix">
<h3 class="core_title_txt pull-left text-overflow" title="{TIEBA_TITLE}" style="width: 396px">既然监狱里全是罪犯…</h3></div>
<ul class="l_posts_num"><li class="l_reply_num"><span class="red" style="margin-right:3px">12</span>回复贴，共<span
 class="red">1</span>页</li></ul>
<div class="l_post j_l_post l_post_bright noborder" data-field='{{"author":{{"user_name":"贴吧用户_甲"}}}}'>
 <div class="d_author"><ul class="p_author"><li class="d_name"><a class="p_author_name j_user_card"
  href="/home/main?un=x">贴吧用户_甲</a></li></ul></div>
 <div class="d_post_content_main d_post_content_firstfloor"><div class="p_content"><cc>
  <div id="post_content_100" class="d_post_content j_d_post_content" style="display:;">            如题，<br>想不通<img
   class="BDE_Smiley" src="https://tb2.bdstatic.com/i_f25.png"><br>求解答</div><br></cc></div></div></div>
<div class="l_post j_l_post l_post_bright"><div class="d_author"><a class="p_author_name j_user_card">路人乙</a></div>
 <div class="d_post_content_main"><div class="p_content"><cc>
  <div id="post_content_101" class="d_post_content j_d_post_content">因为监狱里的警察已经在抓了</div></cc></div></div></div>
</body></html>"""

TIEBA_SAME = """<html><body><h1 class="core_title_txt">我吃了一个橘子</h1>
<div class="d_author"><a class="p_author_name">路人乙</a></div>
<div class="d_post_content j_d_post_content">  我吃了一个橘子 </div></body></html>"""

TIEBA_DELETED = """<html><body><div class="page404"><h2>很抱歉，该贴已被删除。</h2></div></body></html>"""

QA_ONE = """<html><body><div class="question"><h1 class="q-title">How do I reverse a list in Python?</h1>
<div class="q-body"><p>I have <code>xs = [1, 2]</code>.</p></div></div>
<div class="answer accepted"><div class="a-body"><p>Use slicing:</p>
<pre><code class="language-python">ys = xs[::-1]
if ys:
    print(ys)</code></pre>
<p>Or call <code>reversed()</code>.</p></div><span class="author p_author_name">qa_user_1</span></div>
<div class="tags">python list</div></body></html>"""

QA_ONE_OUTPUT = "Use slicing:\n\n```python\nys = xs[::-1]\nif ys:\n    print(ys)\n```\n\nOr call `reversed()`."


def qa_page(n: int) -> str:
    return (f"<html><body><h1 class='q-title'>Question {n}?</h1><div class='answer accepted'>"
            f"<div class='a-body'><p>Answer {n}.</p></div></div></body></html>")


def list_page(port: int) -> str:
    links = ["/qa/1#answers", "qa/2", "/private/secret", f"http://localhost:{port}/qa/3", "mailto:x@example.invalid"]
    anchors = "".join(f'<li><a class="q" href="{href}">q</a></li>' for href in links)
    return f'<html><body><ul>{anchors}</ul><a class="other" href="/qa/4">not followed</a></body></html>'


@dataclass(frozen=True)
class Hit:
    at: float
    path: str
    host: str


class Site:
    """A loopback site with the routes the crawler must cope with, and a request log."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # lets /slow and /hang answer
        self.robots_status = 200
        self.in_flight = 0
        self.max_in_flight = 0
        self.busy = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.port = self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        with self.lock:
            return [hit.path for hit in self.hits]

    def count(self, path: str) -> int:
        return self.paths().count(path)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet server
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                path = urlsplit(self.path).path
                with site.lock:
                    site.hits.append(Hit(time.monotonic(), path, self.headers.get("Host", "")))
                    nth = sum(1 for hit in site.hits if hit.path == path)
                route(site, self, path, nth)

            def answer(self, status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = (),
                       length: bool = True) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                if length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the crawler gave up reading (too_large, timeout): that is the point

        return Handler


HTML = (("Content-Type", "text/html; charset=utf-8"),)


def route(site: Site, h: BaseHTTPRequestHandler, path: str, nth: int) -> None:  # noqa: C901 - a routing table
    html = lambda text: h.answer(200, text.encode("utf-8"), HTML)  # noqa: E731
    if path == "/robots.txt":
        if site.robots_status == 200:
            h.answer(200, b"User-agent: *\nDisallow: /private/\n", (("Content-Type", "text/plain"),))
        else:
            h.answer(site.robots_status, b"no robots here")
    elif path == "/tieba/p/100":
        h.answer(200, TIEBA_THREAD.encode("gbk"), (("Content-Type", "text/html; charset=GBK"),))
    elif path == "/tieba/p/200":
        html(TIEBA_SAME)
    elif path == "/tieba/p/300":
        html(TIEBA_DELETED)
    elif path == "/qa/1":
        html(QA_ONE)
    elif re.fullmatch(r"/qa/\d+", path):
        html(qa_page(int(path.rsplit("/", 1)[1])))
    elif path == "/qa/bad":
        h.answer(200, b"<html><body><h1 class='q-title'>caf\xe9</h1></body></html>", HTML)
    elif path == "/list":
        html(list_page(site.port))
    elif path == "/flaky":
        if nth == 1:
            h.answer(429, b"slow down", (("Retry-After", "0"),))
        else:
            html(qa_page(7))
    elif path == "/flaky-wait":
        if nth == 1:
            h.answer(503, b"busy", (("Retry-After", "1"),))
        else:
            html(qa_page(8))
    elif path == "/down":
        h.answer(503, b"maintenance")
    elif path == "/big":
        h.answer(200, b"x" * (MAX_BYTES * 3), HTML)
    elif path == "/big-stream":
        h.answer(200, b"y" * (MAX_BYTES * 3), HTML, length=False)
    elif path == "/moved":
        h.answer(302, headers=(("Location", "/qa/2"),))
    elif path == "/offsite":
        h.answer(302, headers=(("Location", f"http://localhost:{site.port}/qa/1"),))
    elif m := re.fullmatch(r"/chain/(\d+)", path):
        h.answer(302, headers=(("Location", f"/chain/{int(m.group(1)) + 1}"),))
    elif path == "/drop":
        h.close_connection = True  # no status line at all: a transport error for the client
    elif path.startswith("/busy/"):
        with site.busy:  # hold each answer until a second request is in flight (or 0.5 s pass)
            site.in_flight += 1
            site.max_in_flight = max(site.max_in_flight, site.in_flight)
            site.busy.notify_all()
            site.busy.wait_for(lambda: site.in_flight >= 2, timeout=0.5)
        time.sleep(0.05)
        with site.busy:
            site.in_flight -= 1
        html(qa_page(5))
    elif path in ("/slow", "/hang"):
        site.release.wait(10)
        html(qa_page(9))
    elif path == "/private/secret":
        html(qa_page(666))
    else:
        h.answer(404, b"not found", HTML)


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """Serve on 127.0.0.1 in a thread for the block; shut down and closed after it."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    with serving(server.server):
        try:
            yield server
        finally:
            server.release.set()  # a handler still waiting on it must finish before the server shuts down


def fast(**overrides: object) -> HttpParams:
    """Settings for tests: no real politeness delays, small limits."""
    values: dict[str, object] = {
        "parser": "qa_selectors", "selectors": QA_SELECTORS, "user_agent": UA, "requests_per_second": 1000.0,
        "concurrency": 4, "retries": 2, "backoff_s": 0.01, "timeout_s": 5.0, "max_bytes": MAX_BYTES,
        "max_pages": 100, "max_redirects": 2,
    }
    values.update(overrides)
    return HttpParams(**values)  # type: ignore[arg-type]


def outcomes(archive: Path) -> dict[str, tuple[str, int | None]]:
    return {item.url: (item.outcome, item.status) for item in read_archive(archive)}


def by_url(archive: Path) -> dict[str, ArchivedOutcome]:
    return {item.url: item for item in read_archive(archive)}


def files(archive: Path) -> list[str]:
    return sorted(p.name for p in archive.iterdir())


# --- crawler outcomes ---------------------------------------------------------------------------------------


def test_each_url_gets_its_exact_outcome(site: Site, tmp_path: Path) -> None:
    u = site.url
    seeds = ["/qa/1", "/flaky", "/down", "/big", "/big-stream", "/moved", "/offsite", "/missing", "/drop",
             "/private/secret", "/chain/0"]
    stats = crawl([u(p) for p in seeds] + [u("/qa/1#answers"), "ftp://127.0.0.1/file.txt"], fast(), tmp_path)

    assert outcomes(tmp_path) == {
        u("/qa/1"): ("response", 200),
        u("/flaky"): ("response", 200),
        u("/down"): ("response", 503),
        u("/big"): ("too_large", None),
        u("/big-stream"): ("too_large", None),
        u("/moved"): ("response", 302),
        u("/qa/2"): ("response", 200),
        u("/offsite"): ("redirect_offsite", None),
        u("/missing"): ("response", 404),
        u("/drop"): ("fetch_failed", None),
        u("/private/secret"): ("robots_disallowed", None),
        u("/chain/0"): ("response", 302),
        u("/chain/1"): ("response", 302),
        u("/chain/2"): ("response", 302),
        "ftp://127.0.0.1/file.txt": ("bad_scheme", None),
    }
    assert site.count("/robots.txt") == 1
    assert site.count("/private/secret") == 0
    assert site.count("/flaky") == 2  # 429 then 200
    assert site.count("/down") == 3  # 1 + retries, then the 503 is the answer
    assert site.count("/drop") == 3
    assert site.count("/qa/1") == 1  # the fragment does not make a second URL
    assert site.count("/chain/3") == 0  # max_redirects=2
    assert all(hit.host == f"127.0.0.1:{site.port}" for hit in site.hits)  # localhost is another host
    assert stats.visited == 12 and stats.skipped == 0 and stats.pending == 0  # redirect hops are not counted
    assert stats.outcomes["too_large"] == 2 and stats.outcomes["http_302"] == 4
    assert stats.archive == tmp_path / "crawl-00001.warc.gz"
    details = {item.url: item.detail for item in read_archive(tmp_path)}
    assert "Content-Length" in details[u("/big")] and "stopped reading" in details[u("/big-stream")]
    assert f"http://localhost:{site.port}/qa/1" in details[u("/offsite")]
    assert "RemoteProtocolError" in details[u("/drop")]


def test_timeouts_are_retried_then_fetch_failed(site: Site, tmp_path: Path) -> None:
    started = time.monotonic()
    crawl([site.url("/hang")], fast(timeout_s=1.0, retries=1), tmp_path)  # 1 s: robots.txt must still answer in time
    assert outcomes(tmp_path) == {site.url("/hang"): ("fetch_failed", None)}
    assert "timeout_s=1.0" in read_archive(tmp_path)[0].detail
    assert site.count("/hang") == 2
    assert time.monotonic() - started < 8


def test_numeric_retry_after_is_honoured(site: Site, tmp_path: Path) -> None:
    crawl([site.url("/flaky-wait")], fast(backoff_s=0.001), tmp_path)
    first, second = [hit.at for hit in site.hits if hit.path == "/flaky-wait"]
    assert second - first >= 0.8  # Retry-After: 1 (less arrival jitter), although the backoff alone is 1 ms
    assert outcomes(tmp_path) == {site.url("/flaky-wait"): ("response", 200)}


def test_robots_5xx_blocks_the_host_for_this_run_only(site: Site, tmp_path: Path) -> None:
    site.robots_status = 503
    crawl([site.url("/qa/1")], fast(), tmp_path)
    item = by_url(tmp_path)[site.url("/qa/1")]
    assert (item.outcome, "robots.txt answered HTTP 503" in item.detail) == ("fetch_failed", True)
    assert site.paths() == ["/robots.txt"] * 3

    site.robots_status = 404  # robots.txt missing: everything is allowed, and fetch_failed is retried
    crawl([site.url("/qa/1"), site.url("/private/secret")], fast(), tmp_path)
    assert outcomes(tmp_path) == {site.url("/qa/1"): ("response", 200), site.url("/private/secret"): ("response", 200)}


def test_per_host_rate_limit_spaces_request_starts(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[float] = []
    original = httpx.AsyncClient.send

    async def timed_send(self: httpx.AsyncClient, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        sent.append(time.monotonic())
        return await original(self, request, stream=stream)

    monkeypatch.setattr(httpx.AsyncClient, "send", timed_send)
    seeds = [site.url(p) for p in ("/qa/1", "/qa/2", "/qa/3", "/qa/4")]
    crawl(seeds, fast(requests_per_second=5.0, concurrency=4), tmp_path)

    assert len(sent) == len(site.hits) == 5  # robots.txt + 4 pages, all throttled
    client_gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert min(client_gaps) >= 0.18, client_gaps  # request starts, as the crawler sends them
    # Arrival times at the server add scheduling jitter (client and server share one process), so the
    # server log is checked over the whole run: 4 intervals of 0.2 s, minus generous jitter.
    arrivals = sorted(hit.at for hit in site.hits)
    assert arrivals[-1] - arrivals[0] >= 0.6, arrivals


def test_concurrency_caps_requests_in_flight(site: Site, tmp_path: Path) -> None:
    crawl([site.url(f"/busy/{n}") for n in range(6)], fast(concurrency=2), tmp_path)
    assert site.max_in_flight == 2
    assert len(read_archive(tmp_path)) == 6


def test_follow_links_same_host_only(site: Site, tmp_path: Path) -> None:
    stats = crawl([site.url("/list")], fast(follow="a.q"), tmp_path)
    assert outcomes(tmp_path) == {
        site.url("/list"): ("response", 200),
        site.url("/qa/1"): ("response", 200),
        site.url("/qa/2"): ("response", 200),
        site.url("/private/secret"): ("robots_disallowed", None),
    }
    assert sorted(set(site.paths())) == ["/list", "/qa/1", "/qa/2", "/robots.txt"]
    assert stats.visited == 4


# --- archive ---------------------------------------------------------------------------------------------------


def test_warc_records_and_no_refetch(site: Site, tmp_path: Path) -> None:
    seeds = [site.url(p) for p in ("/qa/1", "/missing", "/private/secret", "/big")]
    crawl(seeds, fast(), tmp_path)
    assert files(tmp_path) == ["crawl-00001.warc.gz"]

    records = {}
    with (tmp_path / "crawl-00001.warc.gz").open("rb") as fh:
        for rec in ArchiveIterator(fh):
            uri = rec.rec_headers.get_header("WARC-Target-URI")
            records[(rec.rec_type, uri)] = (rec.rec_headers, rec.http_headers, rec.content_stream().read())
    assert set(records) == {
        ("response", site.url("/qa/1")), ("request", site.url("/qa/1")),
        ("response", site.url("/missing")), ("request", site.url("/missing")),
        ("metadata", site.url("/private/secret")), ("metadata", site.url("/big")),
    }
    warc, http, body = records[("response", site.url("/qa/1"))]
    assert http.statusline == "200 OK" and http.protocol == "HTTP/1.0"
    assert http.get_header("Content-Type") == "text/html; charset=utf-8" and body == QA_ONE.encode()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", warc.get_header("WARC-Date"))
    req_warc, req_http, _ = records[("request", site.url("/qa/1"))]
    assert req_http.protocol == "GET" and req_http.statusline.startswith("/qa/1 ")
    assert req_http.get_header("User-Agent") == UA
    assert req_warc.get_header("WARC-Concurrent-To") == warc.get_header("WARC-Record-ID")
    assert records[("response", site.url("/missing"))][1].get_statuscode() == "404"
    meta_warc, _, meta_body = records[("metadata", site.url("/private/secret"))]
    assert meta_warc.get_header("Content-Type") == "application/json"
    assert json.loads(meta_body)["outcome"] == "robots_disallowed"

    before = site.paths()
    again = crawl(seeds, fast(), tmp_path)
    assert site.paths() == before  # everything has a final outcome: nothing is requested, not even robots.txt
    assert (again.visited, again.skipped, again.archive) == (0, 4, None)
    assert files(tmp_path) == ["crawl-00001.warc.gz"]

    crawl(seeds + [site.url("/qa/2")], fast(), tmp_path)
    assert site.paths()[len(before):] == ["/robots.txt", "/qa/2"]
    assert files(tmp_path) == ["crawl-00001.warc.gz", "crawl-00002.warc.gz"]
    assert len(read_archive(tmp_path)) == 5


def test_max_pages_then_resume_matches_one_shot(site: Site, tmp_path: Path) -> None:
    seeds = [site.url("/list"), site.url("/moved"), site.url("/missing")]
    first = crawl(seeds, fast(follow="a.q", max_pages=2, concurrency=1), tmp_path / "resumed")
    done_first = set(outcomes(tmp_path / "resumed"))
    assert (first.visited, len(done_first)) == (2, 2) and first.pending > 0
    requested_before = len(site.hits)

    second = crawl(seeds, fast(follow="a.q", concurrency=1), tmp_path / "resumed")
    refetched = {site.url(hit.path) for hit in site.hits[requested_before:]} & done_first
    assert refetched == set()
    assert second.skipped == 2

    crawl(seeds, fast(follow="a.q"), tmp_path / "oneshot")
    assert outcomes(tmp_path / "resumed") == outcomes(tmp_path / "oneshot")
    assert len(outcomes(tmp_path / "oneshot")) == 6  # list, qa/1, qa/2, private, moved, missing


def test_cancelled_crawl_leaves_readable_part_and_resumes(site: Site, tmp_path: Path) -> None:
    seeds = [site.url(p) for p in ("/qa/1", "/qa/2", "/slow", "/missing")]

    async def crawl_until_slow_is_requested() -> None:
        task = asyncio.create_task(crawl_async(seeds, fast(concurrency=1), tmp_path))
        deadline = time.monotonic() + 10
        while "/slow" not in site.paths() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(crawl_until_slow_is_requested())
    assert files(tmp_path) == ["crawl-00001.warc.gz.part"]
    assert outcomes(tmp_path) == {site.url("/qa/1"): ("response", 200), site.url("/qa/2"): ("response", 200)}

    site.release.set()
    before = len(site.hits)
    crawl(seeds, fast(concurrency=1), tmp_path)
    assert sorted(hit.path for hit in site.hits[before:]) == ["/missing", "/robots.txt", "/slow"]
    assert files(tmp_path) == ["crawl-00001.warc.gz.part", "crawl-00002.warc.gz"]
    assert outcomes(tmp_path) == {
        site.url("/qa/1"): ("response", 200), site.url("/qa/2"): ("response", 200),
        site.url("/slow"): ("response", 200), site.url("/missing"): ("response", 404),
    }


def test_truncated_last_record_is_dropped_and_refetched(site: Site, tmp_path: Path) -> None:
    seeds = [site.url(p) for p in ("/qa/1", "/qa/2", "/qa/3")]
    crawl(seeds, fast(concurrency=1), tmp_path)
    done = tmp_path / "crawl-00001.warc.gz"
    with done.open("rb") as fh:
        iterator = ArchiveIterator(fh)
        members = []
        for rec in iterator:
            members.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI")))
            rec.content_stream().read()
            members[-1] += (iterator.get_record_offset(), iterator.get_record_length())
    last_type, last_url, offset, length = [m for m in members if m[0] == "response"][-1]
    data = done.read_bytes()
    done.unlink()
    (tmp_path / "crawl-00001.warc.gz.part").write_bytes(data[: offset + length // 2])  # cut inside that member

    assert set(outcomes(tmp_path)) == set(seeds) - {last_url}
    before = len(site.hits)
    crawl(seeds, fast(concurrency=1), tmp_path)
    assert [hit.path for hit in site.hits[before:]] == ["/robots.txt", urlsplit(last_url).path]
    assert set(outcomes(tmp_path)) == set(seeds)


# --- parsers ----------------------------------------------------------------------------------------------------


def test_tieba_thread_fields_and_no_user_names() -> None:
    content = parse_tieba_thread(TIEBA_THREAD, "https://tieba.baidu.com/p/100?see_lz=1")
    assert content.instruction == f"{TIEBA_TITLE}\n如题，\n想不通\n求解答"
    assert content.output == "" and content.input == ""
    assert content.metadata == "tieba_post:100, n_reply:12"
    assert (content.major, content.minor, content.answer_from) == (["问答"], ["弱智吧"], "human")
    assert not any(name in repr(content) for name in AUTHORS)
    assert "因为监狱里的警察" not in content.instruction  # replies are not read


def test_tieba_first_post_repeating_the_title_adds_nothing() -> None:
    content = parse_tieba_thread(TIEBA_SAME, "https://tieba.baidu.com/p/200")
    assert content.instruction == "我吃了一个橘子" and content.metadata == "tieba_post:200"


@pytest.mark.parametrize(
    ("html", "url", "message"),
    [
        (TIEBA_DELETED, "https://tieba.baidu.com/p/300", "no thread title"),
        (TIEBA_SAME, "https://tieba.baidu.com/f?kw=x", "no /p/<id>"),
        ('<h1 class="core_title_txt">t</h1>', "https://tieba.baidu.com/p/1", "no post content"),
    ],
)
def test_tieba_parse_errors(html: str, url: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_tieba_thread(html, url)


def test_qa_page_keeps_code_blocks() -> None:
    content = parse_qa_page(QA_ONE, "http://example.invalid/qa/1", QA_SELECTORS)
    assert content.instruction == "How do I reverse a list in Python?"
    assert content.input == "I have `xs = [1, 2]`."
    assert content.output == QA_ONE_OUTPUT
    assert content.metadata == "python list"
    assert "qa_user_1" not in repr(content)


def test_qa_page_missing_output_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"output selector '.answer.accepted .a-body' matches nothing"):
        parse_qa_page("<h1 class='q-title'>Q?</h1>", "http://example.invalid/q", QA_SELECTORS)


SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "http"


@pytest.mark.skipif(not (SAMPLE / "tieba" / "p").is_dir(), reason="sample Tieba pages not written yet")
def test_sample_tieba_pages_parse_without_user_names() -> None:
    for page in sorted((SAMPLE / "tieba" / "p").glob("*.html")):
        html = page.read_text(encoding="utf-8")
        try:
            content = parse_tieba_thread(html, f"https://tieba.baidu.com/p/{page.stem}")
        except ParseError:
            continue  # a planted defect (e.g. a deleted thread) is allowed to fail to parse
        assert content.instruction
        soup = BeautifulSoup(html, "html.parser")
        authors = {a.get_text(strip=True) for a in soup.select(".p_author_name")} - {""}
        assert not any(name in content.instruction or name in content.metadata for name in authors), page


SAMPLE_QA_SELECTORS = {"instruction": "h1.question-title", "input": ".question-body",
                       "output": ".answer .answer-content"}


@pytest.mark.skipif(not (SAMPLE / "qa" / "index.html").is_file(), reason="sample Q&A site not written yet")
def test_sample_qa_site_crawled_and_parsed(tmp_path: Path) -> None:
    """Serve data/sample/http/qa (and its robots.txt) and crawl it from the index, following question links."""
    requested: list[str] = []
    root = (SAMPLE / "qa").resolve()

    class Static(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            requested.append(path)
            name = "index.html" if path == "/" else path.strip("/") + ".html"
            file = SAMPLE / "robots.txt" if path == "/robots.txt" else (root / name).resolve()
            found = file.is_file() and file.is_relative_to(SAMPLE.resolve())
            body = file.read_bytes() if found else b"not found"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/plain" if path == "/robots.txt" else "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Static)) as server:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        settings = fast(selectors=SAMPLE_QA_SELECTORS, follow="a.question-link", max_bytes=200_000)
        cfg = source(tmp_path, [base + "/"], settings, name="qa_sample")
        records, rejected = load_http(cfg, tmp_path / "archive")

    questions = sorted(f"{base}/questions/{p.stem}" for p in (SAMPLE / "qa" / "questions").glob("*.html"))
    rows = {row["source_uri"]: row for row in records + rejected}
    assert sorted(rows) == sorted([base + "/", *questions])  # one row per archived URL
    assert rows[base + "/"]["reason"] == "scrape_parse_failed"  # the index is only crawled for its links
    assert not any(path.startswith("/private/") for path in requested)
    assert all(requested.count(path) == 1 for path in requested)
    assert records and all(row["instruction"] and row["output"] for row in records)
    authors = set()
    for page in (SAMPLE / "qa" / "questions").glob("*.html"):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        authors |= {str(div["data-author"]) for div in soup.select("[data-author]")}
    text = json.dumps(records, ensure_ascii=False)
    assert not [name for name in authors if name in text]


# --- rows ---------------------------------------------------------------------------------------------------------


def http_source(name: str, path: Path, settings: HttpParams, subset: str = "ruozhiba", **keys: str) -> Source:
    return parse_source(name, {"kind": "http", "path": str(path), "subset": subset, **keys, **settings.model_dump()})


def source(tmp_path: Path, seeds: list[str], settings: HttpParams, name: str = "tieba_web") -> Source:
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("# seeds for the test\n\n" + "\n".join(seeds) + "\n", encoding="utf-8")
    return http_source(name, seed_file, settings, license="CC0-1.0")


def test_load_http_tieba_rows(site: Site, tmp_path: Path) -> None:
    paths = ["/tieba/p/100", "/tieba/p/200", "/tieba/p/300", "/missing", "/private/secret", "/big", "/drop"]
    cfg = source(tmp_path, [site.url(p) for p in paths], fast(parser="tieba_thread", selectors={}))
    records, rejected = load_http(cfg, tmp_path / "archive")

    assert len(records) + len(rejected) == len(read_archive(tmp_path / "archive")) == len(paths)
    kept = {row["source_uri"]: row for row in records}
    assert sorted(kept) == [site.url("/tieba/p/100"), site.url("/tieba/p/200")]
    row = kept[site.url("/tieba/p/100")]
    assert row["id"] == make_id("tieba_web", "tieba:100")
    assert row["instruction"] == f"{TIEBA_TITLE}\n如题，\n想不通\n求解答"  # GBK page decoded by its charset
    assert (row["output"], row["metadata"], row["source"], row["license"]) == (
        "", "tieba_post:100, n_reply:12", "ruozhiba", "CC0-1.0")
    assert row["raw_sha256"] == hashlib.sha256(TIEBA_THREAD.encode("gbk")).hexdigest()
    assert row["fetched_at"] == by_url(tmp_path / "archive")[site.url("/tieba/p/100")].warc_date
    assert kept[site.url("/tieba/p/200")]["instruction"] == "我吃了一个橘子"

    reasons = {row["source_uri"]: row["reason"] for row in rejected}
    assert reasons == {
        site.url("/tieba/p/300"): "scrape_parse_failed",
        site.url("/missing"): "scrape_http_404",
        site.url("/private/secret"): "scrape_robots_disallowed",
        site.url("/big"): "scrape_too_large",
        site.url("/drop"): "scrape_fetch_failed",
    }
    assert all(row["source_uri"] in row["detail"] for row in rejected)
    assert not any(name in json.dumps(records + rejected, ensure_ascii=False) for name in AUTHORS)
    records_frame(records), rejected_frame(rejected)  # the rows fit the record schema


def test_load_http_qa_rows(site: Site, tmp_path: Path) -> None:
    paths = ["/qa/1", "/flaky", "/qa/bad", "/moved", "/offsite", "/down"]
    cfg = source(tmp_path, [site.url(p) for p in paths] + ["ftp://127.0.0.1/x"], fast(), name="qa_web")
    records, rejected = load_http(cfg, tmp_path / "archive")

    kept = {row["source_uri"]: row for row in records}
    assert sorted(kept) == [site.url("/flaky"), site.url("/qa/1"), site.url("/qa/2")]
    assert kept[site.url("/qa/1")]["output"] == QA_ONE_OUTPUT
    assert kept[site.url("/qa/1")]["id"] == make_id("qa_web", site.url("/qa/1"))
    assert kept[site.url("/flaky")]["instruction"] == "Question 7?"
    reasons = {row["source_uri"]: row["reason"] for row in rejected}
    assert reasons == {
        site.url("/qa/bad"): "scrape_invalid_utf8",
        site.url("/moved"): "scrape_http_302",
        site.url("/offsite"): "scrape_redirect_offsite",
        site.url("/down"): "scrape_http_503",
        "ftp://127.0.0.1/x": "scrape_bad_scheme",
    }
    assert all(row["source_uri"] in row["detail"] for row in rejected)

    before = len(site.hits)
    assert load_http(cfg, tmp_path / "archive") == (records, rejected)  # rebuilt from the archive alone
    assert len(site.hits) == before


def test_seed_file_missing(tmp_path: Path) -> None:
    cfg = http_source("x", tmp_path / "nope.txt", fast(), subset="x")
    with pytest.raises(StageError, match=re.escape(f"{tmp_path / 'nope.txt'}: seed file not found")):
        load_http(cfg, tmp_path / "archive")


def test_a_bad_selector_fails_when_params_load_before_anything_is_crawled(tmp_path: Path) -> None:
    raw = {"kind": "http", "path": str(tmp_path / "seeds.txt"), "subset": "x", **fast().model_dump()}
    with pytest.raises(ValueError) as err:
        parse_source("tieba_web", {**raw, "follow": "a[href"})
    assert str(err.value) == "params.yaml: sources.tieba_web.follow: must be a valid CSS selector, got 'a[href'"
    with pytest.raises(ValueError) as err:
        parse_source("tieba_web", {**raw, "selectors": {**QA_SELECTORS, "output": "div >> p"}})
    assert str(err.value) == ("params.yaml: sources.tieba_web.selectors.output: must be a valid CSS selector, "
                              "got 'div >> p'")
