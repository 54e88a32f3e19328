"""The `sources` section of params.yaml: one typed model per source kind, validated at load.

Keys are source names (strings matching [a-z0-9_]+: they prefix record ids and name the scrape
stage's output folder data/raw/<name>). Each source is a mapping with a `kind` and a `path` (the
input DVC tracks):

- `cqia_jsonl`: `path` is a COIG-CQIA JSONL file or a directory of them
  (`glob`, default `*.jsonl`); `subset` defaults to each file's stem.
- `ruozhiba_dump`: `path` is a community Ruozhiba dump (JSON array of
  moderator picks or of annual-best floors); `subset` defaults to `ruozhiba`.
- `mmlu_csv`: `path` is a multiple-choice CSV file in MMLU's layout or a directory
  of them (`glob`, default `*_train.csv`); `subset` defaults to `mmlu`; the
  subject comes from each file name (see stages/ingest/mmlu.py).
- `http`: `path` is a text file of seed URLs (one per line, `#` comments); `subset` is required;
  `parser` is `tieba_thread` or `qa_selectors` (with `selectors`); the crawler's settings are
  `HttpParams` below (see stages/ingest/crawl.py).

`license` (default "unknown") is copied into every record; `fetched_at`
(ISO date or datetime) says when a file source was captured, since a file's
mtime changes on every checkout and would break determinism.

Other stages read this section too: `parse_sources` gives name -> source (`.name .kind .path
.subset .glob .license .fetched_at .http`), and `stages.ingest.subsets.configured_subsets` the
`source` values their records may carry.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, PrivateAttr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from stages.lib.params import (NonNegativeFloat, NonNegativeInt, Params, PositiveFloat, PositiveInt, check, parse_section,
                               rule)

WHERE = "params.yaml: sources"
_NAME = re.compile(r"^[a-z0-9_]+$")
_FETCHED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?Z?)?$")
NAME_RULE = ("source names must match [a-z0-9_]+ (they prefix record ids and name the stage's output folder "
             "data/raw/<name>)")
GLOB_RULE = ("must stay inside the source's path (a pattern such as *.jsonl or sub/*.jsonl; no '..', no leading "
             "'/' or '~')")


def glob_stays_inside(glob: str) -> bool:
    """A glob is matched under the source's `path` (which DVC tracks) and may not leave it."""
    parts = PurePosixPath(glob).parts
    return not (not glob or PurePosixPath(glob).is_absolute() or PureWindowsPath(glob).is_absolute()
                or glob.startswith("~") or ".." in parts or "\\" in glob)


def _date_text(value: Any) -> Any:
    """An unquoted YAML date (2026-11-01) arrives as a date: keep it as the text it was written as."""
    return str(value) if isinstance(value, (dt.date, dt.datetime)) else value


Subset = Annotated[str, rule(_NAME.fullmatch, "must match [a-z0-9_]+")]
Glob = Annotated[str, rule(glob_stays_inside, GLOB_RULE)]
FetchedAt = Annotated[str, BeforeValidator(_date_text),
                      check(_FETCHED_AT.match, "an ISO date such as 2024-01-31")]


def compiles(selector: str) -> bool:
    import soupsieve

    try:
        soupsieve.compile(selector)
    except soupsieve.SelectorSyntaxError:
        return False
    return True


CssSelector = Annotated[str, rule(compiles, "must be a valid CSS selector")]


class HttpParams(Params):
    """Crawler politeness and limits of an `http` source (see README: 'http sources')."""

    parser: Literal["tieba_thread", "qa_selectors"]
    selectors: dict[str, CssSelector] = {}
    follow: CssSelector | None = None
    user_agent: str = "cqia-sft-pipeline/0.1 (+https://example.invalid/bot)"
    requests_per_second: PositiveFloat = 1.0
    concurrency: PositiveInt = 2
    retries: NonNegativeInt = 4
    backoff_s: NonNegativeFloat = 0.5
    timeout_s: PositiveFloat = 20.0
    max_bytes: PositiveInt = 2_000_000
    max_pages: PositiveInt = 1000
    max_redirects: NonNegativeInt = 5

    @field_validator("selectors")
    @classmethod
    def _qa_needs_selectors(cls, selectors: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.data.get("parser") == "qa_selectors" and not {"instruction", "output"} <= set(selectors):
            raise PydanticCustomError("value_rule", "qa_selectors needs 'instruction' and 'output' CSS selectors")
        return selectors


class SourceParams(Params):
    """The keys every source has; `name` is its key in `sources` (given as context when parsed)."""

    kind: str
    path: str
    subset: Subset | None = None
    license: str = "unknown"
    _name: str = PrivateAttr("")

    def model_post_init(self, context: Any, /) -> None:
        self._name = (context or {}).get("name", "")

    @property
    def name(self) -> str:
        return self._name

    @property
    def http(self) -> HttpParams | None:
        return None


class CqiaJsonlSource(SourceParams):
    kind: Literal["cqia_jsonl"]
    glob: Glob = "*.jsonl"
    fetched_at: FetchedAt | None = None


class MmluCsvSource(SourceParams):
    kind: Literal["mmlu_csv"]
    subset: Subset | None = "mmlu"
    glob: Glob = "*_train.csv"
    fetched_at: FetchedAt | None = None


class RuozhibaDumpSource(SourceParams):
    kind: Literal["ruozhiba_dump"]
    subset: Subset | None = "ruozhiba"
    fetched_at: FetchedAt | None = None
    glob: ClassVar[str] = "*.jsonl"  # a dump is one file


class HttpSource(SourceParams, HttpParams):
    kind: Literal["http"]
    fetched_at: ClassVar[None] = None  # each row's fetched_at is its WARC-Date
    glob: ClassVar[str] = "*.jsonl"

    @field_validator("subset")
    @classmethod
    def _subset_required(cls, subset: str | None) -> str:
        if subset is None:
            raise PydanticCustomError("value_rule", "http sources need a subset name")
        return subset

    @property
    def http(self) -> HttpParams:
        return self


SOURCE_KINDS: dict[str, type[SourceParams]] = {
    "cqia_jsonl": CqiaJsonlSource, "ruozhiba_dump": RuozhibaDumpSource, "http": HttpSource, "mmlu_csv": MmluCsvSource,
}


def parse_source(name: Any, raw: Any, where: str = WHERE) -> SourceParams:
    """One source (`name` its key in `sources`) into the model of its kind, or ValueError with one line."""
    here = f"{where}.{name}"
    if not isinstance(name, str):
        raise ValueError(f"{here}: source names must be strings (quote the key), got {name!r}")
    if not _NAME.fullmatch(name):
        raise ValueError(f"{here}: {NAME_RULE}")
    if not isinstance(raw, dict):
        raise ValueError(f"{here}: must be a mapping, got {raw!r}")
    kind = raw.get("kind")
    if not (isinstance(kind, str) and kind in SOURCE_KINDS):
        raise ValueError(f"{here}.kind: must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    return parse_section(SOURCE_KINDS[kind], raw, here, context={"name": name})


def parse_sources(raw: Any, where: str = WHERE) -> dict[str, SourceParams]:
    """The whole `sources` section: source name -> its settings (the first problem as one ValueError line)."""
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{where}: must be a non-empty mapping of source name to settings")
    return {name: parse_source(name, settings, where) for name, settings in raw.items()}
