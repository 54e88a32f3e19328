"""The columns a rewritten record carries beyond the canonical record (rewrite writes them, familiarity
keeps them, null for curated records)."""

from __future__ import annotations

import polars as pl

EXTRA = {"parent_id": pl.String, "rule": pl.String, "model": pl.String, "prompt_sha256": pl.String}
EXTRA_COLUMNS = tuple(EXTRA)
