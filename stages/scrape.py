"""Stage `scrape`: ingest one configured source into canonical records.

One DVC stage per entry of `params.yaml: sources` (dvc.yaml `foreach`). Reads
the source's raw input, writes `records.parquet` and `rejected.parquet` under
`--out`, the raw capture (WARC files for http sources, an input manifest for
file sources) under `--archive`, and `--metrics`. Every non-blank input line,
array element or crawled URL ends up as exactly one kept or rejected row;
records whose id repeats an earlier one in the same source are rejected as
`scrape_duplicate_key`.

Example:
    python -m stages.scrape run zhihu_sample --out data/raw/zhihu_sample \\
        --archive data/archive/zhihu_sample --metrics metrics/scrape/zhihu_sample.json
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from stages.ingest.cqia import input_files, load_cqia
from stages.ingest.ruozhiba import load_ruozhiba
from stages.ingest.sources import SourceConfig, parse_sources
from stages.lib.contract import write_stage_outputs
from stages.lib.errors import clear_errors
from stages.lib.io import write_json
from stages.lib.params import load_section
from stages.lib.record import records_frame, rejected_frame, sha256_hex

Rows = list[dict[str, Any]]


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


def write_file_manifest(cfg: SourceConfig, files: list[Path], archive_dir: Path) -> None:
    """For file sources the capture is the input itself: record its files and hashes."""
    entries = [{"path": f.as_posix(), "bytes": f.stat().st_size, "sha256": sha256_hex(f.read_bytes())} for f in files]
    write_json({"source": cfg.name, "kind": cfg.kind, "fetched_at": cfg.fetched_at, "files": entries},
               archive_dir / "inputs.json")


def ingest(cfg: SourceConfig, archive_dir: Path) -> tuple[Rows, Rows]:
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


def scrape(cfg: SourceConfig, out_dir: Path, archive_dir: Path, metrics_path: Path) -> dict[str, Any]:
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


@click.group(help=__doc__.split("\n\n")[0])
def cli() -> None:
    pass


@cli.command("run")
@click.argument("source")
@click.option("--params", "params_path", default="params.yaml", show_default=True, help="Params file.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--archive", "archive_dir", required=True, type=click.Path(path_type=Path),
              help="Raw capture directory (kept between runs: WARC files, input manifest).")
@click.option("--metrics", "metrics_path", required=True, type=click.Path(path_type=Path), help="Metrics JSON.")
@clear_errors
def run_command(source: str, params_path: str, out_dir: Path, archive_dir: Path, metrics_path: Path) -> None:
    """Ingest SOURCE (a key of params.yaml: sources).

    Example: python -m stages.scrape run zhihu_sample --out data/raw/zhihu_sample
    --archive data/archive/zhihu_sample --metrics metrics/scrape/zhihu_sample.json
    """
    sources = parse_sources(load_section("sources", params_path))
    if source not in sources:
        raise ValueError(f"{params_path}: no source '{source}' in sources (known: {', '.join(sorted(sources))})")
    metrics = scrape(sources[source], out_dir, archive_dir, metrics_path)
    dropped = sum(metrics["rows_dropped"].values())
    click.echo(f"scrape[{source}]: {metrics['rows_in']} in, {metrics['rows_kept']} kept, {dropped} rejected")


@cli.command("fetch-hub")
@click.argument("subset")
@click.option("--to", "target", required=True, type=click.Path(path_type=Path), help="JSONL file to write.")
@click.option("--split", default="train", show_default=True)
@clear_errors
def fetch_hub_command(subset: str, target: Path, split: str) -> None:
    """Download SUBSET of the hub dataset m-a-p/COIG-CQIA to a JSONL file (needs network).

    Example: python -m stages.scrape fetch-hub zhihu --to data/external/cqia/zhihu.jsonl
    then add a source {kind: cqia_jsonl, path: data/external/cqia/zhihu.jsonl}.
    """
    from stages.ingest.cqia import iter_hub_lines
    from stages.lib.io import atomic_open

    with atomic_open(target, "wb") as handle:
        for line in iter_hub_lines(subset, split):
            handle.write(line + b"\n")
    click.echo(f"wrote {target}")


def main() -> None:
    cli(prog_name="python -m stages.scrape")


if __name__ == "__main__":
    main()
