"""The loader of source kind `http` (stages/ingest/kinds/http.py): crawl the seed URLs, then turn every
archived URL into one row.

Kept: a 2xx page that decodes and that the configured parser understands.
Rejected, with the reason saying why:

- `scrape_http_<status>`: the final answer was not 2xx (404, a 429/5xx that
  outlived the retries, a redirect hop: its target is a row of its own);
- `scrape_unknown_charset`, `scrape_invalid_utf8`, `scrape_undecodable`,
  `scrape_lone_surrogate`: the page's charset (byte order mark, Content-Type,
  `<meta>`, else UTF-8) is not a text encoding, or its bytes do not decode
  with it (`stages.ingest.page_text`);
- `scrape_parse_failed`: the page lacks what the parser needs, or nests its
  elements too deep to read;
- `scrape_<outcome>` for outcomes without a response: `robots_disallowed`,
  `too_large` (also: a body that inflates past `max_bytes`, when fetched or
  when read back from the archive), `bad_encoding` (a body that does not
  inflate), `redirect_offsite`, `bad_scheme`, `fetch_failed` (transient:
  fetched again on the next run; also every URL of a host whose robots.txt
  could not be read).

Rows are built from the whole archive, so a resumed crawl yields the same rows
as a one-shot crawl, and each row's `fetched_at` is its WARC-Date; a bad page
stays one rejected row on every rerun, never an error of the source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.ingest.build import Captured, Content, record_row, rejected_row
from stages.ingest.crawl import canonical_url, crawl
from stages.ingest.warc_archive import ArchivedOutcome, read_archive
from stages.ingest.html_pages import ParseError, parse_qa_page, parse_tieba_thread, tieba_post_id
from stages.ingest.jsontext import RecordProblem
from stages.ingest.kinds.http import Http, HttpParams
from stages.ingest.page_text import header, page_text
from stages.lib.errors import StageError


def read_seeds(path: Path) -> list[str]:
    """Seed URLs, one per line; blank lines and lines starting with `#` are ignored."""
    if not path.is_file():
        raise StageError(f"{path}: seed file not found")
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    seeds = [line for line in lines if line and not line.startswith("#")]  # '#' mid-line is a URL fragment
    if not seeds:
        raise StageError(f"{path}: no seed URLs (one URL per line; '#' starts a comment)")
    return seeds


def _key(settings: HttpParams, url: str) -> str:
    post_id = tieba_post_id(url) if settings.parser == "tieba_thread" else None
    return f"tieba:{post_id}" if post_id is not None else canonical_url(url)


def _parse(settings: HttpParams, text: str, url: str) -> Content:
    if settings.parser == "tieba_thread":
        return parse_tieba_thread(text, url)
    return parse_qa_page(text, url, settings.selectors)


def _response_row(cap: Captured, settings: HttpParams, item: ArchivedOutcome) -> tuple[bool, dict[str, Any]]:
    """(kept?, row) for an archived HTTP response."""
    status = item.status if item.status is not None else 0
    if not 200 <= status < 300:
        location = header(item.headers, "location")
        moved = f", redirect to {location}" if location else ""
        return False, rejected_row(cap, f"scrape_http_{status}", f"{item.url}: server answered HTTP {status}{moved}")
    try:
        text = page_text(item.body, item.headers)
    except RecordProblem as bad:
        return False, rejected_row(cap, bad.reason, f"{item.url}: {bad.detail}")
    try:
        return True, record_row(cap, _parse(settings, text, item.url))
    except ParseError as exc:
        return False, rejected_row(cap, "scrape_parse_failed", f"{item.url}: {settings.parser}: {exc}")
    except RecursionError:
        why = "elements nested too deep to read"
        return False, rejected_row(cap, "scrape_parse_failed", f"{item.url}: {settings.parser}: {why}")


def archived_row(cfg: Http, item: ArchivedOutcome) -> tuple[bool, dict[str, Any]]:
    """(kept?, row) for one archived URL: a record, or a rejected row naming the URL and what happened."""
    cap = Captured(
        origin=cfg.name, source=cfg.subset or cfg.name, key=_key(cfg, item.url), uri=item.url,
        raw=item.body, license=cfg.license, fetched_at=item.warc_date or None,
    )
    if item.outcome == "response":
        return _response_row(cap, cfg, item)
    return False, rejected_row(cap, f"scrape_{item.outcome}", f"{item.url}: {item.outcome}: {item.detail}")


def load_http(cfg: Http, archive_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Crawl the seeds in `cfg.path` into `archive_dir`, then return (record rows, rejected rows)."""
    seeds = read_seeds(Path(cfg.path))
    crawl(seeds, cfg, archive_dir)
    records: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for item in read_archive(archive_dir, cfg.max_bytes):
        kept, row = archived_row(cfg, item)
        (records if kept else rejected).append(row)
    return records, rejected
