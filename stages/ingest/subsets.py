"""The configured sources as the later stages need them: names to read, subsets to check keys against.

`by_source`-style keys (`clean.by_source`, `normalize.opencc_by_source`, `assemble.source_caps`,
`rewrite.sources`) name the records' `source` (a subset name); a key that names no subset of
`params.yaml: sources` is a typo and fails at load (`stages.lib.params.known_subsets`), so the
stages with such keys read the `sources` section too. So do validate and assemble, whose suites
check every record's `source` against the configured subsets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.ingest.base import Source
from stages.ingest.sources import parse_sources
from stages.lib.params import load_section


def load_sources(params_path: str | Path) -> dict[str, Source]:
    """`params.yaml: sources`, validated (errors name the params file given)."""
    return parse_sources(load_section("sources", params_path), f"{params_path}: sources")


def configured_sources(params_path: str | Path) -> list[str]:
    """The subsets of `params.yaml: sources`: the suites' `configured_sources` parameter."""
    return configured_subsets(load_sources(params_path))


def subset_context(sources: dict[str, Source]) -> dict[str, Any]:
    """The validation context of a section with keys that must name configured subsets."""
    return {"subsets": configured_subsets(sources)}


def configured_subsets(sources: dict[str, Source]) -> list[str]:
    """The `source` values records may carry, each source's `subsets()` (what `by_source` keys and the
    expectation suites' `configured_sources` must name)."""
    return sorted({subset for cfg in sources.values() for subset in cfg.subsets()})
