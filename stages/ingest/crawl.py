"""A polite async crawler for `http` sources that archives every outcome to WARC.

What it does for each URL (the seeds, plus same-host links when `follow` is set):

- only http/https URLs are fetched (others: outcome `bad_scheme`);
- robots.txt is fetched once per origin and honoured for the configured user
  agent (`robots_disallowed`); a missing robots.txt (4xx other than 401/403)
  allows all; a 5xx or unreachable robots.txt means nothing on that host is
  fetched this run (`fetch_failed`, so the next run tries again);
- request starts to one host are spaced `1 / requests_per_second` apart and at
  most `concurrency` requests are in flight;
- 429, 5xx and transport errors/timeouts are retried `retries` times with
  exponential backoff (a numeric Retry-After is honoured, capped at 60 s); a
  final 429/5xx is archived as a response, a final transport error as
  `fetch_failed`;
- bodies are streamed and abandoned past `max_bytes` (`too_large`);
- redirects are followed by hand, at most `max_redirects`, to the same host
  only (`redirect_offsite` otherwise); each hop is archived as its own 3xx
  response, and the page it leads to under its own URL.

Every final outcome is a WARC record in `<archive_dir>/crawl-NNNNN.warc.gz`
(written as `.part`, flushed per record, renamed when the run ends), so an
interrupted run leaves a readable archive. Before crawling, every archive in
the directory is read and URLs with a final outcome (anything but
`fetch_failed`) are not fetched again; their archived pages are still scanned
for links, so a resumed crawl reaches the same URLs as a one-shot crawl.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx
from bs4 import BeautifulSoup
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, retry_if_result, stop_after_attempt
from tqdm import tqdm
from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from stages.ingest.sources import HttpSettings

MAX_RETRY_AFTER_S = 60.0
TRANSIENT = (httpx.TransportError, TimeoutError)
_ARCHIVE_NAME = re.compile(r"^crawl-(\d{5})\.warc\.gz(\.part)?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_DROPPED_HEADERS = {"transfer-encoding"}  # httpx has already undone chunking


class Failure(Exception):
    """A final outcome for one URL that is not an HTTP response (e.g. `too_large`)."""

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(f"{outcome}: {detail}")
        self.outcome = outcome
        self.detail = detail


@dataclass(frozen=True)
class Fetched:
    """One HTTP response as received: status line, headers, the (undecoded) body."""

    url: str
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes
    request_line: str
    request_headers: list[tuple[str, str]]


@dataclass(frozen=True)
class ArchivedOutcome:
    """The archived outcome for one URL: a response (`status` set) or a metadata outcome."""

    url: str
    warc_date: str
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes
    outcome: str
    detail: str

    @property
    def is_final(self) -> bool:
        """Everything but `fetch_failed` is final: the URL is not fetched again."""
        return self.outcome != "fetch_failed"


@dataclass
class CrawlStats:
    visited: int = 0  # URLs given an outcome by this run (bounded by max_pages)
    skipped: int = 0  # URLs that already had a final outcome in the archive
    pending: int = 0  # URLs found but left for a later run because max_pages was reached
    outcomes: Counter[str] = field(default_factory=Counter)  # "http_200", "too_large", ...
    archive: Path | None = None  # the WARC file this run wrote, if any


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop the default port and the fragment; `/` for an empty path."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return urlunsplit(parts._replace(fragment=""))
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if port in (None, _DEFAULT_PORTS[parts.scheme]) else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def host_of(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def charset_of(headers: list[tuple[str, str]]) -> str | None:
    match = re.search(r"charset=[\"']?([\w.:-]+)", header(headers, "content-type") or "", re.I)
    return match.group(1) if match else None


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise Failure("bad_scheme", f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise Failure("bad_scheme", f"only http and https URLs with a host are fetched, got {url!r}")


def redirect_target(url: str, status: int, headers: list[tuple[str, str]]) -> str | None:
    location = header(headers, "location")
    if not (300 <= status < 400) or not location:
        return None
    return canonical_url(urljoin(url, location))


def page_links(url: str, headers: list[tuple[str, str]], body: bytes, selector: str) -> list[str]:
    """Same-host http(s) links of the <a> elements matching `selector`, fragments removed."""
    if "html" not in (header(headers, "content-type") or "text/html"):
        return []
    soup = BeautifulSoup(body.decode(charset_of(headers) or "utf-8", errors="replace"), "html.parser")
    links = (canonical_url(urljoin(url, str(a["href"]))) for a in soup.select(selector) if a.get("href"))
    return [link for link in links if link.startswith(("http://", "https://")) and host_of(link) == host_of(url)]


def _warc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WarcArchive:
    """Appends records to `crawl-NNNNN.warc.gz.part` (opened on the first record, flushed per record)."""

    def __init__(self, archive_dir: Path) -> None:
        numbers = [int(m.group(1)) for p in archive_files(archive_dir) if (m := _ARCHIVE_NAME.match(p.name))]
        self.path = archive_dir / f"crawl-{max(numbers, default=0) + 1:05d}.warc.gz"
        self._part = self.path.with_name(self.path.name + ".part")
        self._fh: io.BufferedWriter | None = None
        self._writer: WARCWriter | None = None

    def _write(self, *records: ArcWarcRecord) -> None:
        if self._writer is None:
            raise RuntimeError("internal: archive record built before the archive was opened")
        for record in records:
            self._writer.write_record(record)
        if self._fh is not None:
            self._fh.flush()

    def _open(self) -> WARCWriter:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self._part, "wb")  # noqa: SIM115 - closed in close()
            self._writer = WARCWriter(self._fh, gzip=True)
        return self._writer

    def response(self, fetched: Fetched) -> None:
        writer, date = self._open(), _warc_now()
        kept = [(k, v) for k, v in fetched.headers if k.lower() not in _DROPPED_HEADERS]
        status_line = f"{fetched.status} {fetched.reason}".strip()
        http = StatusAndHeaders(status_line, kept, protocol=fetched.http_version)
        resp = writer.create_warc_record(
            fetched.url, "response", payload=io.BytesIO(fetched.body), http_headers=http,
            warc_headers_dict={"WARC-Date": date},
        )
        req_http = StatusAndHeaders(fetched.request_line, fetched.request_headers, is_http_request=True)
        concurrent = {"WARC-Date": date, "WARC-Concurrent-To": resp.rec_headers.get_header("WARC-Record-ID")}
        req = writer.create_warc_record(fetched.url, "request", http_headers=req_http, warc_headers_dict=concurrent)
        self._write(resp, req)

    def metadata(self, url: str, failure: Failure) -> None:
        body = json.dumps({"outcome": failure.outcome, "detail": failure.detail}, ensure_ascii=False).encode()
        record = self._open().create_warc_record(
            url, "metadata", payload=io.BytesIO(body), warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": _warc_now()},
        )
        self._write(record)

    def close(self, *, completed: bool) -> Path | None:
        """Close the file; rename `.part` to its final name only when the run completed."""
        if self._fh is None:
            return None
        self._fh.close()
        self._fh = self._writer = None
        if not completed:
            return self._part
        os.replace(self._part, self.path)
        return self.path


class HostThrottle:
    """Spaces request starts to one host at least `interval` seconds apart."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last: dict[str, float] = {}

    async def wait(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        async with self._locks[host]:
            if host in self._last:
                delay = self._last[host] + self._interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._last[host] = loop.time()


def _retry_after(fetched: Fetched) -> float | None:
    value = header(fetched.headers, "retry-after")
    if value is None or not re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return None
    return min(float(value), MAX_RETRY_AFTER_S)


def _retryable(fetched: Fetched) -> bool:
    return fetched.status == 429 or fetched.status >= 500


def _last_outcome(state: RetryCallState) -> Fetched:
    """After the last retry: return the final 429/5xx response, or re-raise the transport error."""
    if state.outcome is None:
        raise RuntimeError("internal: retry finished without an outcome")
    return state.outcome.result()
