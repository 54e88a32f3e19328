"""The crawler against hostile servers: cross-host robots.txt redirects, unreadable robots.txt, gzip bombs.

A real `ThreadingHTTPServer` on 127.0.0.1 answers per Host header, so `127.0.0.1:<port>`
and `localhost:<port>` are two hosts of one server (like example.com and www.example.com).
"""

from __future__ import annotations

import gzip
import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stages.ingest.crawl import crawl
from stages.ingest.http_source import load_http
from stages.ingest.warc_archive import read_archive
from tests.ingest.test_crawl import fast, qa_page, serving, source

pytestmark = pytest.mark.timeout(120)

Route = tuple[int, tuple[tuple[str, str], ...], bytes]
HTML = ("Content-Type", "text/html; charset=utf-8")
GZIP = ("Content-Encoding", "gzip")
BOMB = gzip.compress(b"\0" * 8_000_000, 9)  # ~8 KB on the wire, 8 MB inflated


class Hosts:
    """Routes keyed by (host name, path); every request is logged as (host name, path)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hosts = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                host = self.headers.get("Host", "").rsplit(":", 1)[0]
                with hosts.lock:
                    hosts.log.append((host, self.path))
                status, headers, body = hosts.routes.get((host, self.path), (404, (), b"not found"))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    server = Hosts()
    with serving(server.server):
        yield server


def page(n: int) -> Route:
    return 200, (HTML,), qa_page(n).encode()


def test_robots_redirect_to_another_host_is_followed_and_its_rules_apply(hosts: Hosts, tmp_path: Path) -> None:
    a, b = "127.0.0.1", "localhost"
    hosts.routes[(a, "/robots.txt")] = (301, (("Location", hosts.url(b, "/robots.txt")),), b"")
    rules = b"User-agent: *\nDisallow: /private/\n"
    hosts.routes[(b, "/robots.txt")] = (200, (("Content-Type", "text/plain"), GZIP), gzip.compress(rules))
    hosts.routes[(a, "/private/page")] = page(1)
    hosts.routes[(a, "/public/page")] = page(2)
    crawl([hosts.url(a, "/private/page"), hosts.url(a, "/public/page")], fast(), tmp_path)
    got = {item.url: (item.outcome, item.status) for item in read_archive(tmp_path)}
    assert got == {hosts.url(a, "/private/page"): ("robots_disallowed", None),
                   hosts.url(a, "/public/page"): ("response", 200)}
    assert hosts.log.count((b, "/robots.txt")) == 1
    assert (a, "/private/page") not in hosts.log


@pytest.mark.parametrize("case", ["loop", "bomb", "corrupt", "bad_scheme"])
def test_unreadable_robots_means_the_host_is_not_crawled(hosts: Hosts, tmp_path: Path, case: str) -> None:
    a = "127.0.0.1"
    if case == "loop":
        hosts.routes[(a, "/robots.txt")] = (302, (("Location", "/r1"),), b"")
        hosts.routes[(a, "/r1")] = (302, (("Location", hosts.url("localhost", "/robots.txt")),), b"")
        hosts.routes[("localhost", "/robots.txt")] = (302, (("Location", hosts.url(a, "/robots.txt")),), b"")
    elif case == "bomb":
        hosts.routes[(a, "/robots.txt")] = (200, (("Content-Type", "text/plain"), GZIP), BOMB)
    elif case == "corrupt":
        hosts.routes[(a, "/robots.txt")] = (200, (("Content-Type", "text/plain"), GZIP), b"\x1f\x8b\x08\0not gzip")
    else:
        hosts.routes[(a, "/robots.txt")] = (302, (("Location", "file:///etc/passwd"),), b"")
    hosts.routes[(a, "/page")] = page(1)
    crawl([hosts.url(a, "/page")], fast(max_bytes=100_000, max_redirects=3), tmp_path)
    [item] = read_archive(tmp_path)
    assert item.outcome == "fetch_failed"
    expected = {
        "loop": f"{hosts.url(a, '/robots.txt')} could not be read: more than max_redirects=3 redirects",
        "bomb": "inflates to over max_bytes (100000); stopped inflating",
        "corrupt": "(Failure: bad_encoding: ",
        "bad_scheme": "only http and https URLs with a host are fetched, got 'file:///etc/passwd'",
    }[case]
    assert expected in item.detail
    assert (a, "/page") not in hosts.log


def test_gzip_bomb_page_stops_at_max_bytes_when_fetched(hosts: Hosts, tmp_path: Path) -> None:
    a = "127.0.0.1"
    hosts.routes[(a, "/robots.txt")] = (200, (), b"User-agent: *\nAllow: /\n")
    hosts.routes[(a, "/bomb")] = (200, (HTML, GZIP), BOMB)
    hosts.routes[(a, "/small")] = (200, (HTML, GZIP), gzip.compress(qa_page(3).encode()))
    hosts.routes[(a, "/corrupt")] = (200, (HTML, GZIP), b"\x1f\x8b\x08\0not gzip at all")
    tracemalloc.start()
    try:
        crawl([hosts.url(a, p) for p in ("/bomb", "/small", "/corrupt")], fast(max_bytes=100_000), tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    got = {item.url.rsplit("/", 1)[1]: item for item in read_archive(tmp_path, 100_000)}
    assert got["bomb"].outcome == "too_large"
    assert got["bomb"].detail.endswith("gzip body inflates to over max_bytes (100000); stopped inflating")
    assert (got["small"].outcome, got["small"].body) == ("response", qa_page(3).encode())  # decoded for the parser
    assert got["corrupt"].outcome == "bad_encoding"
    assert peak < 4_000_000  # the 8 MB body was never inflated in full


def test_reading_the_archive_back_bounds_the_inflated_body(hosts: Hosts, tmp_path: Path) -> None:
    a = "127.0.0.1"
    hosts.routes[(a, "/robots.txt")] = (200, (), b"User-agent: *\nAllow: /\n")
    hosts.routes[(a, "/bomb")] = (200, (HTML, GZIP), BOMB)
    hosts.routes[(a, "/small")] = (200, (HTML, GZIP), gzip.compress(qa_page(4).encode()))
    archive = tmp_path / "archive"
    crawl([hosts.url(a, "/bomb"), hosts.url(a, "/small")], fast(max_bytes=10_000_000), archive)  # archived whole
    assert {i.outcome for i in read_archive(archive, 10_000_000)} == {"response"}

    tracemalloc.start()
    try:
        cfg = source(tmp_path, [hosts.url(a, "/bomb"), hosts.url(a, "/small")], fast(max_bytes=100_000),
                     name="qa_web")
        records, rejected = load_http(cfg, archive)  # nothing new to fetch: rows come from the archive
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r["source_uri"] for r in records] == [hosts.url(a, "/small")]
    assert [(r["source_uri"], r["reason"]) for r in rejected] == [(hosts.url(a, "/bomb"), "scrape_too_large")]
    assert "stopped inflating" in rejected[0]["detail"]
    assert peak < 4_000_000
    assert hosts.log.count(("127.0.0.1", "/bomb")) == 1
