"""The `scrape` stage's work: ingest one configured source into records, rejected rows and its capture.

`scrape(cfg, out_dir, archive_dir, metrics_path)` dispatches on the source kind (stages/ingest/cqia.py,
ruozhiba.py, mmlu.py, http_source.py), rejects records whose id repeats an earlier one of the same
source as `scrape_duplicate_key`, and writes through the stage contract (stages/lib/contract.py).
File sources get an input manifest (`inputs.json`: files, sizes, sha256) in the archive folder; http
sources keep their WARC files there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from stages.ingest.cqia import input_files, iter_hub_lines, load_cqia
from stages.ingest.ruozhiba import load_ruozhiba
from stages.ingest.sources import SourceParams
from stages.lib.contract import write_stage_outputs
from stages.lib.io import atomic_open, write_json
from stages.lib.record import records_frame, rejected_frame, sha256_hex

Rows = list[dict[str, Any]]


def pick_source(sources: dict[str, SourceParams], name: str, params_path: str | Path) -> SourceParams:
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


def write_file_manifest(cfg: SourceParams, files: list[Path], archive_dir: Path) -> None:
    """For file sources the capture is the input itself: record its files and hashes."""
    entries = [{"path": f.as_posix(), "bytes": f.stat().st_size, "sha256": sha256_hex(f.read_bytes())} for f in files]
    write_json({"source": cfg.name, "kind": cfg.kind, "fetched_at": cfg.fetched_at, "files": entries},
               archive_dir / "inputs.json")


def ingest(cfg: SourceParams, archive_dir: Path) -> tuple[Rows, Rows]:
    """Dispatch on the source kind; returns (kept rows, rejected rows)."""
    if cfg.kind == "cqia_jsonl":
        write_file_manifest(cfg, input_files(cfg), archive_dir)
        return load_cqia(cfg)
    if cfg.kind == "ruozhiba_dump":
        write_file_manifest(cfg, [Path(cfg.path)] if Path(cfg.path).is_file() else [], archive_dir)
        return load_ruozhiba(cfg)
    if cfg.kind == "mmlu_csv":
        from stages.ingest.mmlu import load_mmlu, mmlu_files

        write_file_manifest(cfg, mmlu_files(cfg), archive_dir)
        return load_mmlu(cfg)
    from stages.ingest.http_source import load_http  # httpx and friends only for http sources

    return load_http(cfg, archive_dir)


def scrape(cfg: SourceParams, out_dir: Path, archive_dir: Path, metrics_path: Path) -> dict[str, Any]:
    """Ingest one source and write records.parquet, rejected.parquet and the metrics; returns the metrics."""
    started = time.perf_counter()
    kept, rejected = ingest(cfg, archive_dir)
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
