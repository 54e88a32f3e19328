"""The crawl archive: every final outcome of a URL as a WARC record.

Responses (any HTTP status) are `response` records with a `request` record
beside them; outcomes that are not HTTP responses (`robots_disallowed`,
`too_large`, `redirect_offsite`, `bad_scheme`, `fetch_failed`) are `metadata`
records with a JSON body `{"outcome", "detail"}`. A run writes
`crawl-NNNNN.warc.gz.part`, flushed per record (each record is a complete gzip
member), and renames it to `crawl-NNNNN.warc.gz` when it completes, so an
interrupted run leaves a readable archive; the reader drops a truncated last
member. `read_archive` gives the last outcome per URL, a final outcome winning
over a later `fetch_failed`.

Bodies are archived as received (still gzip/deflate-encoded when the server
sent them so). Whoever reads a body decodes it with `decoded_body`, which stops
inflating at `max_bytes`: a small gzip bomb is `too_large` when fetched and
again when the archive is read back (`read_archive(..., max_bytes)`), and a body
that does not inflate is `bad_encoding`; it is never inflated in full.
"""

from __future__ import annotations

import io
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

_ARCHIVE_NAME = re.compile(r"^crawl-(\d{5})\.warc\.gz(\.part)?$")
_DROPPED_HEADERS = {"transfer-encoding"}  # httpx has already undone chunking
DEFAULT_MAX_BYTES = 2_000_000  # HttpParams.max_bytes' default
_METADATA_MAX = 1 << 16  # our metadata bodies are a short JSON object


class Failure(Exception):
    """A final outcome for one URL that is not an HTTP response (e.g. `too_large`)."""

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(f"{outcome}: {detail}")
        self.outcome = outcome
        self.detail = detail


def _inflate(data: bytes, wbits: int, limit: int, what: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)  # never more than limit + 1 bytes, whatever the ratio
    except zlib.error as exc:
        raise Failure("bad_encoding", f"{what} body does not inflate: {exc}") from None
    if len(out) > limit:
        raise Failure("too_large", f"{what} body inflates to over max_bytes ({limit}); stopped inflating")
    if not inflater.eof:
        raise Failure("bad_encoding", f"{what} body is truncated")
    return out


def decoded_body(raw: bytes, headers: list[tuple[str, str]], limit: int) -> bytes:
    """The body with its Content-Encoding undone, at most `limit` bytes (`Failure` too_large / bad_encoding)."""
    if len(raw) > limit:
        raise Failure("too_large", f"body of {len(raw)} bytes is over max_bytes ({limit})")
    value = next((v for k, v in headers if k.lower() == "content-encoding"), "") or ""
    data = raw
    for encoding in reversed([e.strip().lower() for e in value.split(",") if e.strip()]):
        if encoding in ("gzip", "x-gzip"):
            data = _inflate(data, 31, limit, encoding)
        elif encoding == "deflate":  # zlib-wrapped as the RFC says, or raw deflate as some servers send
            data = _inflate(data, 15 if data[:1] == b"\x78" else -15, limit, encoding)
        elif encoding != "identity":
            raise Failure("bad_encoding", f"Content-Encoding {encoding!r} is not supported")
    return data


@dataclass(frozen=True)
class Fetched:
    """One HTTP response as received: status line, headers, the (undecoded) body."""

    url: str
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes  # as received (archived as is)
    request_line: str
    request_headers: list[tuple[str, str]]
    content: bytes = b""  # `body` with its Content-Encoding undone (at most max_bytes)


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

    def _open(self) -> WARCWriter:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self._part, "wb")  # noqa: SIM115 - closed in close()
            self._writer = WARCWriter(self._fh, gzip=True)
        return self._writer

    def _write(self, *records: ArcWarcRecord) -> None:
        """Write and flush, so each record is a complete gzip member on disk."""
        writer = self._open()
        for record in records:
            writer.write_record(record)
        if self._fh is not None:
            self._fh.flush()

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


def archive_files(archive_dir: Path) -> list[Path]:
    """The crawl archives (finished and `.part`) in name order, i.e. in the order they were written."""
    if not archive_dir.is_dir():
        return []
    return sorted(p for p in archive_dir.iterdir() if _ARCHIVE_NAME.match(p.name))


def _complete_length(path: Path, chunk_size: int = 1 << 16) -> int:
    """Length of the leading complete gzip members (an interrupted run may leave a truncated last one)."""
    good = offset = 0
    inflater = zlib.decompressobj(wbits=31)
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            while chunk:
                try:
                    inflater.decompress(chunk)
                except zlib.error:
                    return good
                if not inflater.eof:
                    offset += len(chunk)
                    break
                offset += len(chunk) - len(inflater.unused_data)
                good, chunk = offset, inflater.unused_data
                inflater = zlib.decompressobj(wbits=31)
    return good


def _to_outcome(record: ArcWarcRecord, max_bytes: int) -> ArchivedOutcome | None:
    url = record.rec_headers.get_header("WARC-Target-URI")
    date = record.rec_headers.get_header("WARC-Date") or ""
    if record.rec_type == "response" and record.http_headers is not None:
        status = int(record.http_headers.get_statuscode())
        headers = list(record.http_headers.headers)
        try:  # raw_stream: the payload as archived; warcio's content_stream() would inflate it without bound
            body = decoded_body(record.raw_stream.read(max_bytes + 1), headers, max_bytes)
        except Failure as failure:
            return ArchivedOutcome(url, date, None, [], b"", failure.outcome, f"{url}: {failure.detail}")
        return ArchivedOutcome(url, date, status, headers, body, "response", "")
    if record.rec_type != "metadata":
        return None
    raw = record.raw_stream.read(_METADATA_MAX)
    try:
        data = json.loads(raw)
    except ValueError:
        return None  # not one of ours
    if not isinstance(data, dict) or not isinstance(data.get("outcome"), str):
        return None
    return ArchivedOutcome(url, date, None, [], raw, data["outcome"], str(data.get("detail", "")))


def iter_archive(archive_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[ArchivedOutcome]:
    """Every outcome in every archive, files in name order and records in file order.

    A response body over `max_bytes` once decoded is read back as a `too_large` outcome.
    """
    for path in archive_files(archive_dir):
        with path.open("rb") as fh:
            for record in ArchiveIterator(LimitReader(fh, _complete_length(path))):
                item = _to_outcome(record, max_bytes)
                if item is not None:
                    yield item


def read_archive(archive_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> list[ArchivedOutcome]:
    """The last outcome per URL, sorted by URL; a final outcome wins over a later `fetch_failed`."""
    latest: dict[str, ArchivedOutcome] = {}
    for item in iter_archive(archive_dir, max_bytes):
        previous = latest.get(item.url)
        if previous is None or item.is_final or not previous.is_final:
            latest[item.url] = item
    return [latest[url] for url in sorted(latest)]
