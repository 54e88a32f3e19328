"""Kind `http`: crawl seed URLs politely and parse the archived pages (stages/ingest/http_source.py,
crawl.py); httpx and the crawler are imported only when a source of this kind is loaded.

`path` is a text file of seed URLs (one per line, `#` comments); `subset` is required; `parser` is
`tieba_thread` or `qa_selectors` (with `selectors`); the crawler's settings are `HttpParams`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from stages.ingest.base import Rows, Source
from stages.lib.params import NonNegativeFloat, NonNegativeInt, Params, PositiveFloat, PositiveInt, rule


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


class Http(Source, HttpParams):
    kind: Literal["http"]

    @field_validator("subset")
    @classmethod
    def _subset_required(cls, subset: str | None) -> str:
        if subset is None:
            raise PydanticCustomError("value_rule", "http sources need a subset name")
        return subset

    def load(self, archive_dir: Path) -> tuple[Rows, Rows]:
        from stages.ingest.http_source import load_http  # httpx and the crawler: only when crawling

        return load_http(self, archive_dir)
