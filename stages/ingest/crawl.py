"""A polite async crawler for `http` sources that archives every outcome to WARC.

What it does for each URL (the seeds, plus same-host links when `follow` is set):

- only http/https URLs are fetched (others: outcome `bad_scheme`);
- robots.txt is fetched once per origin and honoured for the configured user
  agent (`robots_disallowed`). Its redirects are followed, at most
  `max_redirects` hops, also to another host (example.com/robots.txt ->
  www.example.com/robots.txt is common): the rules of the file the chain ends
  at apply. A missing robots.txt (a final 4xx other than 401/403) allows all;
  401/403 disallow all. A robots.txt that cannot be read (5xx, unreachable, a
  redirect chain longer than `max_redirects` or to a non-http URL, a body over
  `max_bytes` or one that does not decode) means nothing on that host is
  fetched this run (`fetch_failed`, so the next run tries again): a site is
  never crawled without having read its rules;
- request starts to one host are spaced `1 / requests_per_second` apart and at
  most `concurrency` requests are in flight;
- 429, 5xx and transport errors/timeouts are retried `retries` times with
  exponential backoff (a numeric Retry-After is honoured, capped at 60 s); a
  final 429/5xx is archived as a response, a final transport error as
  `fetch_failed`;
- bodies are streamed and abandoned past `max_bytes` (`too_large`); a body
  sent with a Content-Encoding (gzip, deflate; although we ask for identity) is
  inflated only up to `max_bytes`: past it the URL is `too_large`, and a body
  that does not inflate is `bad_encoding`. The archive keeps the body as
  received, and reading it back applies the same bound;
- redirects are followed by hand, at most `max_redirects`, to the same host
  only (`redirect_offsite` otherwise); each hop is archived as its own 3xx
  response, and the page it leads to under its own URL. "Same host" means the
  same host name (127.0.0.1 and localhost differ; scheme and port may change);
- `max_pages` bounds the frontier URLs visited per run (the redirect hops of a
  visit ride along); the rest is left for the next run.

Every final outcome is a WARC record in `<archive_dir>/crawl-NNNNN.warc.gz`
(written as `.part`, flushed per record, renamed when the run ends), so an
interrupted run leaves a readable archive. Before crawling, every archive in
the directory is read and URLs with a final outcome (anything but
`fetch_failed`) are not fetched again; their archived pages are still scanned
for links, so a resumed crawl reaches the same URLs as a one-shot crawl.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx
from bs4 import BeautifulSoup
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, retry_if_result, stop_after_attempt

from stages.ingest.page_text import header, lenient_text
from stages.ingest.kinds.http import HttpParams
from stages.ingest.warc_archive import ArchivedOutcome, Failure, Fetched, WarcArchive, decoded_body, read_archive
from stages.lib.progress import tracker

MAX_RETRY_AFTER_S = 60.0
TRANSIENT = (httpx.TransportError, TimeoutError)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"[\w.-]+|[0-9a-fA-F:.]+")  # a DNS name (IDN allowed) or an IP address


@dataclass
class CrawlStats:
    visited: int = 0  # URLs given an outcome by this run (bounded by max_pages)
    skipped: int = 0  # URLs that already had a final outcome in the archive
    pending: int = 0  # URLs found but left for a later run because max_pages was reached
    outcomes: Counter[str] = field(default_factory=Counter)  # "http_200", "too_large", ...
    archive: Path | None = None  # the WARC file this run wrote, if any


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop the default port and the fragment; `/` for an empty path.

    Spaces become %20 (as WARC-Target-URI stores them), so archived URLs match the frontier.
    """
    url = url.strip().replace(" ", "%20")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
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


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise Failure("bad_scheme", f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise Failure("bad_scheme", f"only http and https URLs with a host are fetched, got {url!r}")
    if not _HOST.fullmatch(parts.hostname):
        raise Failure("bad_scheme", f"{url!r} has an invalid host {parts.hostname!r}")
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Failure("bad_scheme", f"{url!r} is not a valid URL: {exc}") from None


def redirect_target(url: str, status: int, headers: list[tuple[str, str]]) -> str | None:
    location = header(headers, "location")
    if not (300 <= status < 400) or not location:
        return None
    return canonical_url(urljoin(url, location))


def page_links(url: str, headers: list[tuple[str, str]], body: bytes, selector: str) -> list[str]:
    """Same-host http(s) links of the <a> elements matching `selector`, fragments removed."""
    if "html" not in (header(headers, "content-type") or "text/html"):
        return []
    soup = BeautifulSoup(lenient_text(body, headers), "html.parser")
    links = (canonical_url(urljoin(url, str(a["href"]))) for a in soup.select(selector) if a.get("href"))
    return [link for link in links if link.startswith(("http://", "https://")) and host_of(link) == host_of(url)]


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


class Crawler:
    """One crawl run: a frontier queue drained by `concurrency` workers."""

    def __init__(self, settings: HttpParams, archive: WarcArchive, done: dict[str, ArchivedOutcome],
                 client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.archive = archive
        self.done = done
        self.client = client
        self.stats = CrawlStats()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._throttle = HostThrottle(1.0 / settings.requests_per_second)
        self._robots: dict[str, RobotFileParser | str] = {}
        self._robots_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._seen: set[str] = set()
        self._bar = tracker("scrape: crawl", total=0, unit="url")  # the total grows as links are found

    async def run(self, seeds: list[str]) -> CrawlStats:
        for seed in seeds:
            self._enqueue(canonical_url(seed))
        workers = [asyncio.create_task(self._worker()) for _ in range(self.settings.concurrency)]
        joiner = asyncio.create_task(self._queue.join())
        try:
            finished, _ = await asyncio.wait([joiner, *workers], return_when=asyncio.FIRST_COMPLETED)
            for task in finished - {joiner}:
                task.result()  # a worker only ends by crashing: re-raise its error
        finally:
            for task in [joiner, *workers]:
                task.cancel()
            await asyncio.gather(joiner, *workers, return_exceptions=True)
            self._bar.close()
        return self.stats

    def _enqueue(self, url: str) -> None:
        if url not in self._seen:
            self._seen.add(url)
            self._queue.put_nowait(url)
            self._bar.total += 1
            self._bar.refresh()

    async def _worker(self) -> None:
        while True:
            url = await self._queue.get()
            try:
                await self._handle(url)
            finally:
                self._queue.task_done()

    async def _handle(self, url: str) -> None:
        if url in self.done:
            self.stats.skipped += 1
            item = self.done[url]
            if item.status is not None:
                self._expand(url, item.status, item.headers, item.body)
        elif self.stats.visited >= self.settings.max_pages:
            self.stats.pending += 1
        else:
            self.stats.visited += 1
            await self._visit(url)
        self._bar.update()

    def _expand(self, url: str, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Queue a same-host redirect target, and the followed links of a 2xx page."""
        target = redirect_target(url, status, headers)
        if target is not None and host_of(target) == host_of(url):
            self._enqueue(target)
        if self.settings.follow and 200 <= status < 300:
            for link in page_links(url, headers, body, self.settings.follow):
                self._enqueue(link)

    def _fail(self, url: str, failure: Failure) -> None:
        self.archive.metadata(url, failure)
        self.stats.outcomes[failure.outcome] += 1

    async def _visit(self, url: str) -> None:
        """Fetch `url`, following same-host redirects; archive one outcome per URL on the way."""
        current, hops = url, 0
        while True:
            try:
                fetched = await self._fetch(current)
            except Failure as failure:
                self._fail(current, failure)
                return
            target = redirect_target(current, fetched.status, fetched.headers)
            if target is not None and host_of(target) != host_of(current):
                self._fail(current, Failure("redirect_offsite", f"{current} redirects to {target} on another host"))
                return
            self.archive.response(fetched)
            self.stats.outcomes[f"http_{fetched.status}"] += 1
            if target is None:
                self._expand(current, fetched.status, fetched.headers, fetched.content)
                return
            if hops >= self.settings.max_redirects:
                return  # chain too long: the last 3xx stays this URL's outcome
            if target in self._seen or target in self.done:
                self._enqueue(target)  # visited on its own (no-op when already queued)
                return
            self._seen.add(target)
            current, hops = target, hops + 1

    async def _fetch(self, url: str) -> Fetched:
        """One URL, no redirects: scheme and robots checks, then GET with retries."""
        _check_url(url)
        await self._check_robots(url)
        try:
            return await self._with_retries(url)
        except TRANSIENT as exc:
            why = str(exc) or f"no complete answer within timeout_s={self.settings.timeout_s}"
            raise Failure(
                "fetch_failed", f"{url}: {type(exc).__name__}: {why} (after {self.settings.retries} retries)"
            ) from None

    async def _with_retries(self, url: str) -> Fetched:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(self.settings.retries, 0) + 1),
            wait=self._backoff,
            retry=retry_if_exception_type(TRANSIENT) | retry_if_result(_retryable),
            retry_error_callback=_last_outcome,
            reraise=True,
        )
        return await retrying(self._attempt, url)

    def _backoff(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            delay = _retry_after(outcome.result())
            if delay is not None:
                return delay
        return min(self.settings.backoff_s * 2 ** (state.attempt_number - 1), MAX_RETRY_AFTER_S)

    async def _attempt(self, url: str) -> Fetched:
        async with self._slots:
            await self._throttle.wait(host_of(url) or "")
            async with asyncio.timeout(self.settings.timeout_s):
                return await self._get(url)

    async def _get(self, url: str) -> Fetched:
        """GET `url` and read the body, giving up as soon as it is over max_bytes."""
        limit = self.settings.max_bytes
        request = self.client.build_request("GET", url)
        response = await self.client.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise Failure("too_large", f"{url}: Content-Length {declared} is over max_bytes ({limit})")
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > limit:
                    raise Failure("too_large", f"{url}: body over max_bytes ({limit}); stopped reading")
        finally:
            await response.aclose()
        headers = response.headers.multi_items()
        try:
            content = decoded_body(bytes(body), headers, limit)  # a gzip bomb stops at max_bytes
        except Failure as failure:
            raise Failure(failure.outcome, f"{url}: {failure.detail}") from None
        return Fetched(
            url=url, status=response.status_code, reason=response.reason_phrase,
            http_version=response.http_version, headers=headers, body=bytes(body),
            request_line=f"GET {request.url.raw_path.decode('ascii')} HTTP/1.1",
            request_headers=request.headers.multi_items(), content=content,
        )

    async def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        async with self._robots_locks[origin]:
            if origin not in self._robots:
                self._robots[origin] = await self._load_robots(origin)
        rules = self._robots[origin]
        if isinstance(rules, str):
            raise Failure("fetch_failed", f"{url} not fetched: {rules}")
        if not rules.can_fetch(self.settings.user_agent, url):
            raise Failure("robots_disallowed", f"{origin}/robots.txt disallows {url} for {self.settings.user_agent!r}")

    async def _load_robots(self, origin: str) -> RobotFileParser | str:
        """The parsed robots.txt, or a text saying why the host is off limits for this run.

        Redirects are followed (also to another host) at most `max_redirects` hops; a chain that does
        not end within them, or leaves http(s), makes robots.txt unreadable, like a 5xx.
        """
        rules, url = RobotFileParser(), f"{origin}/robots.txt"
        hops = max(self.settings.max_redirects, 0)
        for hop in range(hops + 1):
            try:
                _check_url(url)
                fetched = await self._with_retries(url)
            except (*TRANSIENT, Failure) as exc:
                return f"{origin}/robots.txt could not be read ({type(exc).__name__}: {exc})"
            target = redirect_target(url, fetched.status, fetched.headers)
            if target is None:
                break
            if hop == hops:
                return (f"{origin}/robots.txt could not be read: more than max_redirects={hops} redirects "
                        f"(last to {target})")
            url = target
        if 200 <= fetched.status < 300:
            rules.parse(lenient_text(fetched.content, fetched.headers).splitlines())
        elif fetched.status in (401, 403):
            rules.disallow_all = True
        elif fetched.status >= 500:
            return f"{url} answered HTTP {fetched.status}"
        else:
            rules.allow_all = True  # missing (4xx other than 401/403): no rules
        return rules


async def crawl_async(seeds: list[str], settings: HttpParams, archive_dir: Path) -> CrawlStats:
    """`crawl` as a coroutine; cancelling it leaves the records written so far in a `.part` file."""
    done = {item.url: item for item in read_archive(archive_dir, settings.max_bytes) if item.is_final}
    archive = WarcArchive(archive_dir)
    completed = False
    limits = httpx.Limits(max_connections=settings.concurrency)
    headers = {"User-Agent": settings.user_agent, "Accept-Encoding": "identity"}
    try:
        async with httpx.AsyncClient(
            follow_redirects=False, timeout=settings.timeout_s, limits=limits, headers=headers, trust_env=False
        ) as client:
            stats = await Crawler(settings, archive, done, client).run(seeds)
        completed = True
    finally:
        written = archive.close(completed=completed)
    stats.archive = written
    return stats


def crawl(seeds: list[str], settings: HttpParams, archive_dir: Path) -> CrawlStats:
    """Crawl `seeds` (and followed links) politely, archiving each new outcome to a new WARC file."""
    return asyncio.run(crawl_async(seeds, settings, archive_dir))

