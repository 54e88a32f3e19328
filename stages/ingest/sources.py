"""Source settings from `params.yaml: sources`, validated at load.

Each source is a mapping with a `kind` and a `path` (the input DVC tracks):

- `cqia_jsonl`: `path` is a COIG-CQIA JSONL file or a directory of them
  (`glob`, default `*.jsonl`); `subset` defaults to each file's stem.
- `ruozhiba_dump`: `path` is a community Ruozhiba dump (JSON array of
  moderator picks or of annual-best floors); `subset` defaults to `ruozhiba`.
- `mmlu_csv`: `path` is a multiple-choice CSV file in MMLU's layout or a directory
  of them (`glob`, default `*_train.csv`); `subset` defaults to `mmlu`; the
  subject comes from each file name (see stages/ingest/mmlu.py).
- `http`: `path` is a text file of seed URLs (one per line, `#` comments);
  `parser` is `tieba_thread` or `qa_selectors` (with `selectors`).

`license` (default "unknown") is copied into every record; `fetched_at`
(ISO date or datetime) says when a file source was captured, since a file's
mtime changes on every checkout and would break determinism.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from stages.lib.params import require_keys

KINDS = ("cqia_jsonl", "ruozhiba_dump", "http", "mmlu_csv")
HTTP_PARSERS = ("tieba_thread", "qa_selectors")
_COMMON = {"kind", "path", "subset", "license"}
_SUBSET = re.compile(r"^[a-z0-9_]+$")
_FETCHED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?Z?)?$")


@dataclass(frozen=True)
class HttpSettings:
    """Crawler politeness and limits (see README: 'http sources')."""

    parser: str
    selectors: dict[str, str] = field(default_factory=dict)
    follow: str | None = None
    user_agent: str = "cqia-sft-pipeline/0.1 (+https://example.invalid/bot)"
    requests_per_second: float = 1.0
    concurrency: int = 2
    retries: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 20.0
    max_bytes: int = 2_000_000
    max_pages: int = 1000
    max_redirects: int = 5


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    path: str
    subset: str | None
    license: str = "unknown"
    fetched_at: str | None = None
    glob: str = "*.jsonl"
    http: HttpSettings | None = None


def _http_settings(where: str, raw: dict[str, Any]) -> HttpSettings:
    keys = {k: v for k, v in raw.items() if k not in _COMMON}
    parser = keys.get("parser")
    if parser not in HTTP_PARSERS:
        raise ValueError(f"{where}.parser: must be one of {', '.join(HTTP_PARSERS)}, got {parser!r}")
    settings = HttpSettings(**keys)
    if parser == "qa_selectors" and not {"instruction", "output"} <= set(settings.selectors):
        raise ValueError(f"{where}.selectors: qa_selectors needs 'instruction' and 'output' CSS selectors")
    for name in ("requests_per_second", "timeout_s", "max_bytes", "max_pages", "concurrency"):
        if not isinstance(getattr(settings, name), (int, float)) or getattr(settings, name) <= 0:
            raise ValueError(f"{where}.{name}: must be a positive number")
    return settings


def check_glob(where: str, glob: str) -> None:
    """A glob is matched under the source's `path` (which DVC tracks) and may not leave it."""
    parts = PurePosixPath(glob).parts
    if (not glob or PurePosixPath(glob).is_absolute() or PureWindowsPath(glob).is_absolute()
            or glob.startswith("~") or ".." in parts or "\\" in glob):
        raise ValueError(f"{where}.glob: must stay inside the source's path (a pattern such as *.jsonl or "
                         f"sub/*.jsonl; no '..', no leading '/' or '~'), got {glob!r}")


def parse_source(name: str, raw: Any) -> SourceConfig:
    where = f"params.yaml: sources.{name}"
    if not (isinstance(name, str) and _SUBSET.fullmatch(name)):
        raise ValueError(f"{where}: source names must match [a-z0-9_]+ (they prefix record ids and name the "
                         "stage's output folder data/raw/<name>)")
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        kind = raw.get("kind") if isinstance(raw, dict) else None
        raise ValueError(f"{where}.kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    kind = raw["kind"]
    allowed = set(_COMMON)
    if kind in ("cqia_jsonl", "mmlu_csv"):
        allowed |= {"glob", "fetched_at"}
    elif kind == "ruozhiba_dump":
        allowed |= {"fetched_at"}
    else:
        allowed |= set(HttpSettings.__dataclass_fields__)
    require_keys(where, raw, allowed, {"kind", "path"})
    subset = raw.get("subset", {"ruozhiba_dump": "ruozhiba", "mmlu_csv": "mmlu"}.get(kind))
    if kind == "http" and subset is None:
        raise ValueError(f"{where}.subset: http sources need a subset name")
    if subset is not None and not (isinstance(subset, str) and _SUBSET.fullmatch(subset)):
        raise ValueError(f"{where}.subset: must match [a-z0-9_]+, got {subset!r}")
    fetched_at = raw.get("fetched_at")
    if fetched_at is not None:
        fetched_at = str(fetched_at)
        if not _FETCHED_AT.match(fetched_at):
            raise ValueError(f"{where}.fetched_at: must be an ISO date such as 2024-01-31, got {fetched_at!r}")
    glob = str(raw.get("glob", "*_train.csv" if kind == "mmlu_csv" else "*.jsonl"))
    check_glob(where, glob)
    return SourceConfig(
        name=name,
        kind=kind,
        path=str(raw["path"]),
        subset=subset,
        license=str(raw.get("license", "unknown")),
        fetched_at=fetched_at,
        glob=glob,
        http=_http_settings(where, raw) if kind == "http" else None,
    )


def parse_sources(raw: Any) -> dict[str, SourceConfig]:
    if not isinstance(raw, dict) or not raw:
        raise ValueError("params.yaml: sources: must be a non-empty mapping of source name to settings")
    return {name: parse_source(name, settings) for name, settings in raw.items()}
