"""The configured sources, as the cleaning stages need them: names to read, subsets to check keys against.

`clean.by_source` and `normalize.opencc_by_source` are keyed by the records' `source` (a subset
name); a key that names no subset of `params.yaml: sources` is a typo and fails at load
(`stages.lib.params.known_subsets`), so these stages read the `sources` section too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.ingest.cqia import configured_subsets
from stages.ingest.sources import SourceConfig, parse_sources
from stages.lib.params import load_section


def load_sources(params_path: str | Path) -> dict[str, SourceConfig]:
    """`params.yaml: sources`, validated."""
    return parse_sources(load_section("sources", params_path))


def subset_context(sources: dict[str, SourceConfig]) -> dict[str, Any]:
    """The validation context of a section with `by_source` keys."""
    return {"subsets": configured_subsets(sources)}
