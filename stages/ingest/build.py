"""Turning one raw capture into a canonical record row or a rejected row.

Every source kind parses its raw bytes into `Captured` (where it came from)
plus content fields; `record_row` and `rejected_row` fill in the provenance
columns the same way for all kinds, so ids and hashes are made in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stages.lib.record import make_id, sha256_hex


@dataclass(frozen=True)
class Captured:
    """One raw record as captured.

    `origin` is the source's name in params.yaml (it prefixes the id, so ids are
    unique across sources even when two point at the same subset); `source` is
    the subset name stored in the record; `key` is the source's own key.
    """

    origin: str
    source: str
    key: str
    uri: str
    raw: bytes
    license: str
    fetched_at: str | None

    @property
    def id(self) -> str:
        return make_id(self.origin, self.key)


@dataclass
class Content:
    """The COIG-CQIA content fields of a record, with defaults for sources that lack them."""

    instruction: str
    output: str
    input: str = ""
    major: list[str] = field(default_factory=list)
    minor: list[str] = field(default_factory=list)
    domain: list[str] = field(default_factory=list)
    metadata: str = ""
    answer_from: str = "human"
    human_verified: bool = False
    copyright: str = ""
    transforms: list[str] = field(default_factory=list)


def provenance(cap: Captured) -> dict[str, Any]:
    return {
        "id": cap.id,
        "source": cap.source,
        "source_uri": cap.uri,
        "raw_sha256": sha256_hex(cap.raw),
        "fetched_at": cap.fetched_at,
        "license": cap.license,
    }


def record_row(cap: Captured, content: Content) -> dict[str, Any]:
    return {
        **provenance(cap),
        "instruction": content.instruction,
        "input": content.input,
        "output": content.output,
        "task_type": {"major": content.major, "minor": content.minor},
        "domain": content.domain,
        "metadata": content.metadata,
        "answer_from": content.answer_from,
        "human_verified": content.human_verified,
        "copyright": content.copyright,
        "transforms": content.transforms,
    }


def rejected_row(cap: Captured, reason: str, detail: str) -> dict[str, Any]:
    """A rejected row keeps provenance (so audit can follow it) and leaves content null."""
    return {**provenance(cap), "transforms": [], "reason": reason, "detail": detail}


def raw_preview(raw: bytes, limit: int = 120) -> str:
    """A short, printable view of raw bytes for `detail` texts (on one line: line breaks escaped)."""
    text = raw.decode("utf-8", errors="backslashreplace").replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + "..."
