"""The `scrape` stage's work: ingest one configured source into records, rejected rows and its capture.

`scrape(cfg, out_dir, archive_dir, metrics_path)` loads the source through its kind (`cfg.load`, the class
of stages/ingest/kinds/ that `kind` names), rejects records whose id repeats an earlier one of the same
source as `scrape_duplicate_key`, and writes through the stage contract (stages/lib/contract.py).
File sources get an input manifest (`inputs.json`: files, sizes, sha256) in the archive folder; http
sources keep their WARC files there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from stages.ingest.base import Rows, Source
from stages.ingest.cqia import iter_hub_lines
from stages.lib.contract import write_stage_outputs
from stages.lib.io import atomic_open
from stages.lib.record import records_frame, rejected_frame


def pick_source(sources: dict[str, Source], name: str, params_path: str | Path) -> Source:
    if name not in sources:
        raise ValueError(f"{params_path}: no source '{name}' in sources (known: {', '.join(sorted(sources))})")
    return sources[name]


def split_duplicate_ids(kept: Rows) -> tuple[Rows, Rows]:
    """Keep the first row per id; later ones are rejected, naming the first one's location."""
    first: dict[str, dict[str, Any]] = {}
    unique, duplicates = [], []
    for row in kept:
        if row["id"] in first:
            detail = f"{row['source_uri']}: same source key as {first[row['id']]['source_uri']}"
            duplicates.append({**row, "reason": "scrape_duplicate_key", "detail": detail})
        else:
            first[row["id"]] = row
            unique.append(row)
    return unique, duplicates


def scrape(cfg: Source, out_dir: Path, archive_dir: Path, metrics_path: Path) -> dict[str, Any]:
    """Ingest one source and write records.parquet, rejected.parquet and the metrics; returns the metrics."""
    started = time.perf_counter()
    kept, rejected = cfg.load(archive_dir)  # the class `kind` names (stages/ingest/kinds/) reads the source
    kept, duplicates = split_duplicate_ids(kept)
    rejected = rejected + duplicates
    return write_stage_outputs(
        f"scrape[{cfg.name}]",
        out_dir,
        metrics_path,
        kept=records_frame(kept),
        rejected=rejected_frame(rejected),
        rows_in=len(kept) + len(rejected),
        started=started,
    )


def fetch_hub(subset: str, target: Path, split: str = "train") -> None:
    """Write SUBSET of the hub dataset m-a-p/COIG-CQIA to a JSONL file (needs network)."""
    with atomic_open(target, "wb") as handle:
        for line in iter_hub_lines(subset, split):
            handle.write(line + b"\n")
